import SluiceSchema
import Testing

/// Each keyword on both sides, with fge's message for the failing side.
@Suite struct KeywordTests {
    @Test func type() throws {
        #expect(try isValid(#"{"type": "integer"}"#, "12"))
        #expect(try isValid(#"{"type": "integer"}"#, "-0"))
        #expect(try isValid(#"{"type": "integer"}"#, "123456789012345678901234567890"))
        // Draft 4 as fge and jsonschema's Draft4Validator read it: an integer is written without a
        // fraction or an exponent (fge: Jackson reads 1.0 and 1e2 as decimals; Python as floats).
        #expect(try errors(#"{"type": "integer"}"#, "1.0")
                == #"[instance type (number) does not match any allowed primitive type (allowed: ["integer"])]"#)
        #expect(try !isValid(#"{"type": "integer"}"#, "1e2"))
        #expect(try isValid(#"{"type": "number"}"#, "1"))
        #expect(try isValid(#"{"type": "number"}"#, "1.5e-3"))
        #expect(try errors(#"{"type": ["string", "null"]}"#, "true")
                == #"[instance type (boolean) does not match any allowed primitive type (allowed: ["null","string"])]"#)
        // fge adds integer to a type list with number.
        #expect(try errors(#"{"type": "number"}"#, #""1""#)
                == #"[instance type (string) does not match any allowed primitive type (allowed: ["integer","number"])]"#)
        #expect(try isValid(#"{"type": ["array", "object"]}"#, "[]"))
        #expect(try isValid(#"{"type": "null"}"#, "null"))
        #expect(try !isValid(#"{"type": "object"}"#, "[]"))
        #expect(try isValid(#"{}"#, #"{"anything": [1, "x", null]}"#))
    }

    @Test func enumeration() throws {
        let schema = #"{"enum": ["a", 1, {"k": [1, 2]}, null]}"#
        #expect(try isValid(schema, #""a""#))
        #expect(try isValid(schema, "1.0"))
        #expect(try isValid(schema, "10e-1"))
        #expect(try isValid(schema, #"{"k": [1.0, 2e0]}"#))
        #expect(try isValid(schema, "null"))
        #expect(try !isValid(schema, "true"))
        #expect(try !isValid(schema, #"{"k": [2, 1]}"#))
        #expect(try errors(#"{"enum": ["a", "b"]}"#, #""x""#)
                == #"[instance value ("x") not found in enum (possible values: ["a","b"])]"#)
        #expect(try isValid(#"{"enum": ["\u00e9\"/"]}"#, #""é\"\/""#))
        #expect(try isValid(#"{"enum": [{"b": 1, "a": 2}]}"#, #"{"a": 2, "b": 1}"#))
        #expect(try !isValid(#"{"enum": [{"b": 1, "a": 2}]}"#, #"{"a": 2}"#))
        #expect(try !isValid(#"{"enum": [false]}"#, "0"))
    }

    @Test func properties() throws {
        let schema = #"{"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name"]}"#
        #expect(try isValid(schema, #"{"name": "Rex", "age": 3}"#))
        #expect(try isValid(schema, #"{"name": "Rex", "other": true}"#))
        #expect(try errors(schema, #"{"age": 3}"#) == #"[object has missing required properties (["name"])]"#)
        #expect(try errors(schema, #"{"name": 5}"#)
                == #"[instance type (integer) does not match any allowed primitive type (allowed: ["string"])]"#)
        // A key with escapes is compared decoded.
        #expect(try isValid(schema, #"{"n\u0061me": "Rex"}"#))
        #expect(try !isValid(schema, #"{"n\u0061me": 1}"#))
        // Keywords for objects pass other types.
        #expect(try isValid(#"{"required": ["a"], "properties": {"a": {"type": "string"}}}"#, "[1]"))
        #expect(try errors(#"{"required": ["a", "b", "c"]}"#, #"{"b": 1}"#)
                == #"[object has missing required properties (["a","c"])]"#)
    }

    @Test func additionalAndPatternProperties() throws {
        let closed = #"{"properties": {"a": {}}, "patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": false}"#
        #expect(try isValid(closed, #"{"a": 1, "x-trace": "t"}"#))
        #expect(try errors(closed, #"{"a": 1, "b": 2, "c\"d": 3}"#)
                == #"[object instance has properties which are not allowed by the schema: ["b","c\"d"]]"#)
        #expect(try errors(closed, #"{"x-trace": 5}"#)
                == #"[instance type (integer) does not match any allowed primitive type (allowed: ["string"])]"#)
        let typed = #"{"properties": {"a": {}}, "additionalProperties": {"type": "integer"}}"#
        #expect(try isValid(typed, #"{"a": "s", "b": 1}"#))
        #expect(try !isValid(typed, #"{"a": "s", "b": "t"}"#))
        // A member matching both a property and patterns is checked against all of them.
        let both = #"{"properties": {"ab": {"minimum": 5}}, "patternProperties": {"^a": {"maximum": 10}, "b$": {"multipleOf": 2}}}"#
        #expect(try isValid(both, #"{"ab": 6}"#))
        #expect(try !isValid(both, #"{"ab": 7}"#))
        #expect(try !isValid(both, #"{"ab": 12}"#))
        #expect(try !isValid(both, #"{"ab": 4}"#))
    }

    @Test func dependencies() throws {
        let schema = #"{"dependencies": {"card": ["billing", "cvv"], "ship": {"required": ["address"]}}}"#
        #expect(try isValid(schema, #"{"card": 1, "billing": 2, "cvv": 3}"#))
        #expect(try isValid(schema, #"{"billing": 2}"#))
        #expect(try errors(schema, #"{"card": 1, "cvv": 3}"#)
                == #"[property "card" of object has missing property dependencies (schema requires ["billing","cvv"]; missing: ["billing"])]"#)
        #expect(try isValid(schema, #"{"ship": 1, "address": "x"}"#))
        #expect(try errors(schema, #"{"ship": 1}"#) == #"[object has missing required properties (["address"])]"#)
    }

    @Test func propertyCounts() throws {
        #expect(try isValid(#"{"minProperties": 1, "maxProperties": 2}"#, #"{"a": 1}"#))
        #expect(try errors(#"{"minProperties": 1}"#, "{}")
                == "[object has too few properties (found 0 but schema requires at least 1)]")
        #expect(try errors(#"{"maxProperties": 1}"#, #"{"a": 1, "b": 2}"#)
                == "[object has too many properties (found 2 but schema requires at most 1)]")
    }

    @Test func items() throws {
        #expect(try isValid(#"{"items": {"type": "integer"}}"#, "[1, 2, 3]"))
        #expect(try !isValid(#"{"items": {"type": "integer"}}"#, "[1, 2.5]"))
        let tuple = #"{"items": [{"type": "string"}, {"type": "integer"}], "additionalItems": false}"#
        #expect(try isValid(tuple, #"["a", 1]"#))
        #expect(try isValid(tuple, #"["a"]"#))
        #expect(try errors(tuple, #"["a", 1, null]"#) == "[schema only allows 2 elements in array but instance has 3 elements]")
        #expect(try !isValid(tuple, #"[1, "a"]"#))
        let rest = #"{"items": [{"type": "string"}], "additionalItems": {"type": "boolean"}}"#
        #expect(try isValid(rest, #"["a", true, false]"#))
        #expect(try !isValid(rest, #"["a", true, 1]"#))
        // additionalItems means nothing without tuple items.
        #expect(try isValid(#"{"items": {}, "additionalItems": false}"#, "[1, 2, 3]"))
        #expect(try errors(#"{"minItems": 2}"#, "[1]") == "[array is too short: must have at least 2 elements but instance has 1 elements]")
        #expect(try errors(#"{"maxItems": 1}"#, "[1, 2]") == "[array is too long: must have at most 1 elements but instance has 2 elements]")
    }

    @Test func uniqueItems() throws {
        let schema = #"{"uniqueItems": true}"#
        #expect(try isValid(schema, #"[1, "1", true, null, [1], {"a": 1}]"#))
        #expect(try errors(schema, "[1, 2, 1.0]") == "[array must not contain duplicate elements]")
        #expect(try !isValid(schema, #"[{"a": 1, "b": [1, {"c": null}]}, {"b": [1, {"c": null}], "a": 1.0}]"#))
        #expect(try isValid(schema, #"[{"a": 1, "b": 2}, {"a": 1}]"#))
        #expect(try !isValid(schema, #"["\u00e9", "é"]"#))
        #expect(try isValid(schema, "[0, false]"))
        #expect(try isValid(#"{"uniqueItems": false}"#, "[1, 1]"))
    }

    @Test func numbers() throws {
        #expect(try isValid(#"{"minimum": 0}"#, "0"))
        #expect(try errors(#"{"minimum": 0}"#, "-1") == "[numeric instance is lower than the required minimum (minimum: 0, found: -1)]")
        #expect(try errors(#"{"minimum": 0, "exclusiveMinimum": true}"#, "0")
                == "[numeric instance is not strictly greater than the required minimum 0]")
        #expect(try errors(#"{"maximum": 2.5}"#, "2.50001")
                == "[numeric instance is greater than the required maximum (maximum: 2.5, found: 2.50001)]")
        #expect(try errors(#"{"maximum": 2.5, "exclusiveMaximum": true}"#, "25e-1")
                == "[numeric instance is not strictly lower than the required maximum 2.5]")
        #expect(try isValid(#"{"maximum": 2.5, "exclusiveMaximum": false}"#, "2.5"))
        // Exact, not through Double: 0.1 + 1e-20 is above 0.1.
        #expect(try isValid(#"{"minimum": 0.1, "exclusiveMinimum": true}"#, "0.10000000000000000001"))
        #expect(try !isValid(#"{"maximum": 9007199254740992}"#, "9007199254740993"))
        #expect(try isValid(#"{"minimum": -1e400}"#, "-1e399"))
        #expect(try !isValid(#"{"maximum": 1e-400}"#, "1e-399"))
    }

    @Test func multipleOf() throws {
        #expect(try isValid(#"{"multipleOf": 0.1}"#, "0.3"))
        #expect(try isValid(#"{"multipleOf": 0.1}"#, "12345678901234567890.7"))
        #expect(try errors(#"{"multipleOf": 0.1}"#, "0.35") == "[remainder of division is not zero (0.35 / 0.1)]")
        #expect(try isValid(#"{"multipleOf": 0.01}"#, "19.99"))
        #expect(try isValid(#"{"multipleOf": 1.5}"#, "4.5"))
        #expect(try !isValid(#"{"multipleOf": 1.5}"#, "5"))
        #expect(try isValid(#"{"multipleOf": 3}"#, "3e400"))
        #expect(try !isValid(#"{"multipleOf": 3}"#, "1e400"))
        #expect(try isValid(#"{"multipleOf": 2}"#, "1e400"))
        #expect(try !isValid(#"{"multipleOf": 7}"#, "1e400"))
        #expect(try isValid(#"{"multipleOf": 7}"#, "7e2147483647"))
        #expect(try isValid(#"{"multipleOf": 2}"#, "-0"))
        #expect(try !isValid(#"{"multipleOf": 2}"#, "1e-400"))
        #expect(try isValid(#"{"multipleOf": 1e-3}"#, "2.5e-2"))
        #expect(try isValid(#"{"multipleOf": 123456789012345678}"#, "246913578024691356"))
        #expect(try !isValid(#"{"multipleOf": 123456789012345678}"#, "246913578024691357"))
        #expect(try isValid(#"{"multipleOf": 16}"#, "340282366920938463463374607431768211456"))  // 2^128
        #expect(try !isValid(#"{"multipleOf": 12}"#, "340282366920938463463374607431768211456"))
        #expect(try !isValid(#"{"multipleOf": 7}"#, "340282366920938463463374607431768211456"))
    }

    @Test func strings() throws {
        #expect(try isValid(#"{"minLength": 2, "maxLength": 3}"#, #""ab""#))
        #expect(try errors(#"{"minLength": 3}"#, #""ab""#) == #"[string "ab" is too short (length: 2, required minimum: 3)]"#)
        #expect(try errors(#"{"maxLength": 1}"#, #""ab""#) == #"[string "ab" is too long (length: 2, maximum allowed: 1)]"#)
        // Code points, as fge and Python count them: 😀 is one, é written as e + U+0301 is two.
        #expect(try isValid(#"{"maxLength": 1}"#, #""😀""#))
        #expect(try isValid(#"{"maxLength": 1}"#, #""\ud83d\ude00""#))
        #expect(try !isValid(#"{"maxLength": 1}"#, #""e\u0301""#))
        #expect(try isValid(#"{"minLength": 1, "maxLength": 1}"#, #""\u00e9""#))
        // Keywords for strings pass other types.
        #expect(try isValid(#"{"minLength": 5, "pattern": "^x"}"#, "12"))
    }

    @Test func pattern() throws {
        #expect(try isValid(#"{"pattern": "b"}"#, #""abc""#))
        #expect(try errors(#"{"pattern": "^a"}"#, #""b""#) == #"[ECMA 262 regex "^a" does not match input string "b"]"#)
        // ECMA 262: $ only at the very end, \d and \w ASCII, . not a line end.
        #expect(try !isValid(#"{"pattern": "^a$"}"#, #""a\n""#))
        #expect(try !isValid(#"{"pattern": "\\d"}"#, #""٣""#))
        #expect(try !isValid(#"{"pattern": "^\\w$"}"#, #""é""#))
        #expect(try !isValid(#"{"pattern": "a.c"}"#, #""a\nc""#))
        #expect(try isValid(#"{"pattern": "^.$"}"#, #""😀""#))
        #expect(try isValid(#"{"pattern": "^[a-z]+\\.json$"}"#, #""pets.json""#))
        #expect(try isValid(#"{"pattern": "^x\"y$"}"#, #""x\"y""#))
    }

    @Test func combinators() throws {
        #expect(try isValid(#"{"allOf": [{"type": "integer"}, {"minimum": 2}]}"#, "3"))
        #expect(try errors(#"{"allOf": [{"type": "integer"}, {"minimum": 2}, {"maximum": 0}]}"#, "1")
                == "[instance failed to match all required schemas (matched only 1 out of 3)]")
        #expect(try isValid(#"{"anyOf": [{"type": "string"}, {"minimum": 2}]}"#, "3"))
        #expect(try errors(#"{"anyOf": [{"type": "string"}, {"minimum": 2}]}"#, "1")
                == "[instance failed to match at least one required schema among 2]")
        #expect(try isValid(#"{"oneOf": [{"type": "integer"}, {"minimum": 2}]}"#, "1"))
        #expect(try errors(#"{"oneOf": [{"type": "integer"}, {"minimum": 2}]}"#, "3")
                == "[instance failed to match exactly one schema (matched 2 out of 2)]")
        #expect(try errors(#"{"oneOf": [{"type": "string"}, {"type": "null"}]}"#, "3")
                == "[instance failed to match exactly one schema (matched 0 out of 2)]")
        #expect(try isValid(#"{"not": {"type": "string"}}"#, "3"))
        #expect(try errors(#"{"not": {"type": "string"}}"#, #""s""#) == "[instance matched a schema which it should not have]")
        // Nested: a oneOf inside a not inside an anyOf.
        #expect(try isValid(#"{"anyOf": [{"not": {"oneOf": [{"type": "integer"}, {"minimum": 0}]}}]}"#, "5"))
        #expect(try !isValid(#"{"anyOf": [{"not": {"oneOf": [{"type": "integer"}, {"minimum": 0}]}}]}"#, "-5"))
    }

    @Test func messagesAreListedAndCapped() throws {
        let schema = try compile(#"{"type": "object", "required": ["a"], "properties": {"b": {"type": "string"}}, "minProperties": 3}"#)
        let result = validate(schema, #"{"b": 1}"#)
        #expect(!result.valid)
        #expect(result.errors == "[object has too few properties (found 1 but schema requires at least 3), "
                + #"object has missing required properties (["a"])]"#)
        // Children are checked (and reported) only when the object's own keywords hold, as in fge.
        let children = validate(try compile(#"{"properties": {"a": {"type": "string"}, "b": {"type": "string"}}}"#),
                                #"{"a": 1, "b": 2}"#)
        #expect(children.errors.hasPrefix("[instance type (integer)"))
        #expect(children.errors.ranges(of: "instance type").count == 2)

        var report = ValidationReport(messageBytesMax: 40)
        let long = try compile(#"{"minLength": 100}"#)
        #expect(!long.validate(Array(#""abcdefghijklmnopqrstuvwxyz""#.utf8).span, report: &report))
        #expect(report.validationErrorBytes.count == 40)
        #expect(report.isTruncated)
        #expect(report.validationErrorString == #"[string "abcdefghijklmnopqrstuvwxyz" is]"#)
        // The same report, reused: a valid body leaves it empty.
        #expect(long.validate(Array(#""\#(String(repeating: "x", count: 100))""#.utf8).span, report: &report))
        #expect(report.validationErrorString == "")
        #expect(report.isEmpty)
    }
}
