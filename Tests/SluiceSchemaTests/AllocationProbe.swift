import Foundation
import SluiceSchema
import Testing

/// Validations in a loop for tools/count-schema-mallocs, which watches the allocator while they
/// run; without PROBE_REPEAT in the environment it only checks the body once.
@Suite struct AllocationProbe {
    @Test func probe() throws {
        let repeats = ProcessInfo.processInfo.environment["PROBE_REPEAT"].flatMap { Int($0) } ?? 1
        let document = ##"{"definitions": {"Pet": {"type": "object", "required": ["name", "id"], "additionalProperties": false, "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 50}, "id": {"type": "integer", "minimum": 0, "multipleOf": 1}, "price": {"type": "number", "multipleOf": 0.01, "maximum": 1e6}, "tags": {"type": "array", "uniqueItems": true, "items": {"enum": ["a", "b", {"k": [1, 2]}, "d", "e", "f"]}}, "kids": {"type": "array", "items": {"$ref": "#/definitions/Pet"}}, "kind": {"oneOf": [{"type": "string"}, {"type": "null"}]}, "meta": {"type": "object", "dependencies": {"a": ["b"]}, "minProperties": 1, "additionalProperties": {"anyOf": [{"type": "integer"}, {"type": "boolean"}]}}}}}}"##
        let schema = try compile(##"{"$ref": "#/definitions/Pet"}"##, document: document)
        let body = Array(#"{"name": "Rex\u00e9", "id": 12, "price": 19.99, "tags": ["a", {"k": [1, 2.0]}, "d", "e", "f", "b"], "kind": null, "meta": {"a": 1, "b": true, "c": 3}, "kids": [{"name": "Bo", "id": 1, "tags": []}]}"#.utf8)
        var report = ValidationReport()
        var valid = 0
        for _ in 0..<repeats where schema.validate(body.span, report: &report) { valid += 1 }
        #expect(valid == repeats)
    }
}
