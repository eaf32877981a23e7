import Foundation
import SluiceSchema
import Testing

/// The differential corpus made by tools/schema-corpus.py: every case's answer must be the one
/// python-jsonschema's Draft4Validator gives, or fge's where the two differ (the case's note).
@Suite struct CorpusTests {
    static let corpusURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/corpus.json")

    @Test func sluiceAgreesOnEveryCase() throws {
        let bytes = Array(try Data(contentsOf: Self.corpusURL))
        let parsed = SchemaNode.parse(json: bytes.span)
        let corpus = try #require(parsed)
        guard case .array(let cases)? = corpus["cases"]?.value else {
            Issue.record("corpus.json has no cases")
            return
        }
        #expect(cases.count >= 500)
        var report = ValidationReport()
        var checked = 0
        var valid = 0
        for entry in cases {
            guard let schema = entry["schema"], case .string(let instance)? = entry["instance"]?.value,
                  case .bool(let expected)? = entry["valid"]?.value, case .number(let id)? = entry["id"]?.value else {
                Issue.record("malformed case at line \(entry.line)")
                continue
            }
            let compiled: CompiledSchema
            do {
                compiled = try CompiledSchema.compile(schema, document: entry["document"] ?? schema)
            } catch {
                Issue.record("case \(id): the schema does not compile: \(error.message) (line \(error.line))")
                continue
            }
            let body = Array(instance.utf8)
            let answer = compiled.validate(body.span, report: &report)
            #expect(answer == expected, "case \(id): \(instance) — \(report.validationErrorString)")
            #expect(answer == report.isEmpty, "case \(id): the report must be empty exactly when the body is valid")
            checked += 1
            if expected { valid += 1 }
        }
        #expect(checked == cases.count)
        #expect(valid > 100 && checked - valid > 100, "both sides are exercised")
    }
}
