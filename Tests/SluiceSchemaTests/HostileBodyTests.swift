import SluiceJSON
import SluiceSchema
import Testing

/// Bodies built to hurt: malformed, deep, huge, repetitive.
@Suite struct HostileBodyTests {
    let anything: CompiledSchema
    let unique: CompiledSchema

    init() throws {
        anything = try compile("{}")
        unique = try compile(#"{"uniqueItems": true}"#)
    }

    @Test func notJSONFails() {
        for body in ["", " ", "{", #"{"a": 1} x"#, #"{"a": 1}{}"#, "[1,]", "01", "NaN", "'a'", #"{"a" 1}"#, "\u{FEFF}{}",
                     "[1e]", #""\x""#, #""\ud800"#, "tru", "{\"a\":1,}"] {
            let result = validate(anything, body)
            #expect(!result.valid, "\(body.debugDescription)")
            #expect(result.errors == "[instance is not valid JSON]")
        }
        #expect(validate(anything, " \n{\"a\": [1, 2.5e3, \"x\", null, true]}\t\r\n").valid)
    }

    @Test func invalidUTF8Fails() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xC0, 0xAF, 0x22],
                               [0x22, 0x01, 0x22]] {
            #expect(!validate(anything, bytes).valid)
        }
        #expect(validate(anything, [0x22, 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80, 0x22]).valid)
    }

    @Test func nestingIsBounded() {
        let deepest = String(repeating: "[", count: JSONScanner.depthMax) + String(repeating: "]", count: JSONScanner.depthMax)
        #expect(validate(anything, deepest).valid)
        let tooDeep = String(repeating: "[", count: JSONScanner.depthMax + 1) + String(repeating: "]", count: JSONScanner.depthMax + 1)
        #expect(!validate(anything, tooDeep).valid)
        let hostile = String(repeating: "{\"a\":", count: 100_000)
        #expect(!validate(anything, hostile).valid)
        // A recursive schema walks as deep as the body, no deeper.
        let tree = try! compile(##"{"$ref": "#/definitions/T"}"##,
                                document: ##"{"definitions": {"T": {"type": "array", "items": {"$ref": "#/definitions/T"}}}}"##)
        #expect(validate(tree, deepest).valid)
    }

    @Test func hugeNumbers() throws {
        #expect(try isValid(#"{"type": "number", "minimum": 0}"#, "1e400"))
        #expect(try !isValid(#"{"type": "integer"}"#, "1e400"))
        #expect(try isValid(#"{"maximum": 0}"#, "-1e400"))
        #expect(try isValid(#"{"type": "integer", "minimum": 1e300}"#, "1" + String(repeating: "0", count: 400)))
        #expect(try isValid(#"{"minimum": 0, "exclusiveMinimum": true}"#, "1e-2147483647"))
        // An exponent past a 32-bit scale is beyond Jackson's BigDecimal: such a body is refused.
        let out = validate(anything, "[1e2147483648]")
        #expect(!out.valid)
        #expect(out.errors == "[numeric instance has an exponent out of range]")
        #expect(!validate(anything, "1e-99999999999999999999999999").valid)
        #expect(validate(anything, "[" + String(repeating: "9", count: 100_000) + "]").valid)
        #expect(try isValid(#"{"multipleOf": 0.5}"#, String(repeating: "9", count: 10_000) + ".5"))
        #expect(try isValid(#"{"enum": [1e400]}"#, "10e399"))
    }

    /// Sluice refuses an object with a repeated member name anywhere in the body (fge's Jackson
    /// would keep the last; a backend might read the first).
    @Test func repeatedNamesFail() {
        let result = validate(anything, #"{"a": 1, "b": {"c": 1, "c": 2}}"#)
        #expect(!result.valid)
        #expect(result.errors == "[object instance has more than one member of the same name]")
        #expect(!validate(anything, #"[{"a": 1, "\u0061": 2}]"#).valid)
        #expect(validate(anything, #"[{"a": 1}, {"a": 2}]"#).valid)
        let many = "{" + (0..<20_000).map { "\"k\($0)\": \($0)" }.joined(separator: ",") + "}"
        #expect(validate(anything, many).valid)
        let repeated = "{" + (0..<20_000).map { "\"k\($0)\": \($0)" }.joined(separator: ",") + ", \"k19\": 0}"
        #expect(!validate(anything, repeated).valid)
    }

    @Test func largeArraysWithUniqueItems() {
        let distinct = "[" + (0..<20_000).map(String.init).joined(separator: ",") + "]"
        #expect(validate(unique, distinct).valid)
        let lastRepeatsFirst = "[" + (0..<20_000).map(String.init).joined(separator: ",") + ", 0.0]"
        #expect(!validate(unique, lastRepeatsFirst).valid)
        // With almost no scratch, the same answers come from the pairwise fallback.
        for slots in [0, 3, 16] {
            var report = ValidationReport(hashSlotCount: slots)
            let small = Array(("[" + (0..<300).map { "{\"a\": \($0), \"b\": [\($0)]}" }.joined(separator: ",") + "]").utf8)
            #expect(unique.validate(small.span, report: &report))
            let repeated = Array(("[" + (0..<300).map { "{\"a\": \($0), \"b\": [\($0)]}" }.joined(separator: ",")
                                  + ", {\"b\": [299.0], \"a\": 299}]").utf8)
            #expect(!unique.validate(repeated.span, report: &report))
            let keys = Array(("{" + (0..<300).map { "\"k\($0)\": 1" }.joined(separator: ",") + ", \"k7\": 2}").utf8)
            #expect(!anything.validate(keys.span, report: &report))
        }
    }

    @Test func largeObjectsCompareEqualWhateverTheirOrder() {
        let forward = "{" + (0..<2_000).map { "\"k\($0)\": [\($0), {\"x\": \($0)}]" }.joined(separator: ",") + "}"
        let backward = "{" + (0..<2_000).reversed().map { "\"k\($0)\": [\($0).0, {\"x\": \($0)}]" }.joined(separator: ",") + "}"
        #expect(!validate(unique, "[\(forward), \(backward)]").valid)
        let changed = backward.replacing("\"k5\": [5.0", with: "\"k5\": [6.0")
        #expect(validate(unique, "[\(forward), \(changed)]").valid)
    }

    @Test func manyRequiredNames() throws {
        let names = (0..<100).map { "\"p\($0)\"" }.joined(separator: ",")
        let schema = try compile("{\"required\": [\(names)], \"dependencies\": {\"p99\": [\"q\"]}}")
        let all = "{" + (0..<100).map { "\"p\($0)\": \($0)" }.joined(separator: ",") + ", \"q\": 1}"
        #expect(validate(schema, all).valid)
        let missing80 = "{" + (0..<100).filter { $0 != 80 }.map { "\"p\($0)\": \($0)" }.joined(separator: ",") + ", \"q\": 1}"
        #expect(validate(schema, missing80).errors == #"[object has missing required properties (["p80"])]"#)
        let missingQ = "{" + (0..<100).map { "\"p\($0)\": \($0)" }.joined(separator: ",") + "}"
        #expect(!validate(schema, missingQ).valid)
    }
}
