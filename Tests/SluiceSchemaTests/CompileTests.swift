import SluiceSchema
import Testing

@Suite struct CompileTests {
    /// The line and message of the error for `schema`; the schema is written one keyword a line so
    /// that lines can be checked.
    func error(_ schema: String, document: String? = nil) -> (Int, String)? {
        compileError(schema, document: document).map { ($0.line, $0.message) }
    }

    @Test func malformedKeywordsAreErrorsAtTheirLine() throws {
        let cases: [(String, String)] = [
            ("\"required\": \"x\"", "required must be an array of property names, not a string"),
            ("\"required\": []", "required must name at least one property"),
            ("\"required\": [\"a\", \"a\"]", "required names \"a\" more than once"),
            ("\"minimum\": \"a\"", "minimum must be a number, not a string"),
            ("\"type\": \"integr\"", "type \"integr\" is not one of array, boolean, integer, null, number, object, string"),
            ("\"type\": []", "type must not be an empty array"),
            ("\"type\": [\"string\", \"string\"]", "type \"string\" appears more than once"),
            ("\"minLength\": -1", "minLength must not be negative"),
            ("\"minLength\": 1.5", "minLength must be an integer, not 1.5"),
            ("\"maxItems\": 2.0", "maxItems must be an integer, not 2.0"),
            ("\"multipleOf\": 0", "multipleOf must be greater than 0"),
            ("\"multipleOf\": -2", "multipleOf must be greater than 0"),
            ("\"multipleOf\": 1.2345678901234567891", "multipleOf with more than 18 significant digits is not supported"),
            ("\"enum\": []", "enum must have at least one value"),
            ("\"enum\": [1, 1.0]", "enum values must be unique"),
            ("\"enum\": 3", "enum must be an array, not a number"),
            ("\"allOf\": []", "allOf must have at least one schema"),
            ("\"anyOf\": {}", "anyOf must be an array of schemas, not an object"),
            ("\"not\": true", "a schema must be an object, not a boolean"),
            ("\"items\": 3", "items must be a schema or an array of schemas, not a number"),
            ("\"additionalProperties\": 1", "additionalProperties must be a boolean or a schema, not a number"),
            ("\"uniqueItems\": \"yes\"", "uniqueItems must be a boolean, not a string"),
            ("\"exclusiveMinimum\": true", "exclusiveMinimum needs minimum"),
            ("\"exclusiveMaximum\": 1", "exclusiveMaximum must be a boolean, not a number"),
            ("\"dependencies\": {\"a\": 3}", "dependencies \"a\" must be an array of property names or a schema, not a number"),
            ("\"dependencies\": {\"a\": []}", "dependencies \"a\" must name at least one property"),
            ("\"properties\": []", "properties must be an object of schemas, not an array"),
            ("\"format\": 5", "format must be a string, not a number"),
            ("\"definitions\": {\"A\": 5}", "a schema must be an object, not a number"),
        ]
        for (keyword, message) in cases {
            let schema = "{\n  \"description\": \"x\",\n  \(keyword)\n}"
            let found = try #require(error(schema), "\(keyword) compiled")
            #expect(found.0 == 3, "\(keyword)")
            #expect(found.1 == message, "\(keyword)")
        }
    }

    @Test func invalidRegexesAreErrors() throws {
        let pattern = try #require(error("{\n\"pattern\": \"[a-\"\n}"))
        #expect(pattern.0 == 2)
        #expect(pattern.1.hasPrefix("pattern \"[a-\" is not a valid regular expression"))
        let property = try #require(error("{\"patternProperties\": {\n\"(x\": {}\n}}"))
        #expect(property.0 == 2)
        #expect(property.1.hasPrefix("patternProperties \"(x\" is not a valid regular expression"))
    }

    @Test func nestedErrorsCarryTheirOwnLine() throws {
        let schema = """
            {
              "type": "object",
              "properties": {
                "a": {"type": "string"},
                "b": {
                  "items": {"maxLength": "3"}
                }
              }
            }
            """
        let found = try #require(error(schema))
        #expect(found.0 == 6)
        #expect(found.1 == "maxLength must be a non-negative integer, not a string")
    }

    @Test func unknownKeywordsAndFormatAreIgnored() throws {
        let schema = try compile(##"{"x-amazon-thing": [1, 2], "title": 5, "format": "email", "example": {"a": 1}}"##)
        #expect(validate(schema, #""not an email""#).valid)
    }

    @Test func referencesResolveInTheDocument() throws {
        let document = """
            {"swagger": "2.0",
             "definitions": {"Pet": {"type": "object", "required": ["name"]},
                             "a/b~c": {"type": "integer"},
                             "With space": {"type": "string"}},
             "components": {"schemas": {"Order": {"type": "array"}}}}
            """
        #expect(try isValid(##"{"$ref": "#/definitions/Pet"}"##, ##"{"name": 1}"##, document: document))
        #expect(try !isValid(##"{"$ref": "#/definitions/Pet"}"##, ##"{}"##, document: document))
        #expect(try isValid(##"{"$ref": "#/definitions/a~1b~0c"}"##, "3", document: document))
        #expect(try isValid(##"{"$ref": "#/definitions/With%20space"}"##, #""s""#, document: document))
        let modelURL = "https://apigateway.amazonaws.com/restapis/a1b2c3/models/"
        #expect(try isValid("{\"$ref\": \"\(modelURL)Pet\"}", ##"{"name": 1}"##, document: document))
        #expect(try isValid("{\"$ref\": \"\(modelURL)Order\"}", "[]", document: document))
        #expect(try !isValid("{\"$ref\": \"\(modelURL)Order\"}", "{}", document: document))
        // Draft 4: $ref replaces its siblings.
        #expect(try isValid(##"{"$ref": "#/definitions/a~1b~0c", "type": "string"}"##, "3", document: document))
    }

    @Test func unresolvableReferencesAreErrorsAtTheirLine() throws {
        let document = ##"{"definitions": {"Pet": {"type": "object"}, "Loop": {"$ref": "#/definitions/Loop"}, "N": 5}}"##
        let cases: [(String, String)] = [
            ("#/definitions/Cat", "$ref \"#/definitions/Cat\" does not resolve in the document"),
            ("#/definitions/N", "$ref \"#/definitions/N\" refers to a number, not a schema"),
            ("#definitions/Pet", "$ref \"#definitions/Pet\" is not a JSON pointer (#/…)"),
            ("#/definitions/P~2t", "$ref \"#/definitions/P~2t\" has a '~' not followed by 0 or 1"),
            ("#/definitions/%zz", "$ref \"#/definitions/%zz\" has a malformed percent escape"),
            ("https://example.com/schemas/pet.json", "$ref \"https://example.com/schemas/pet.json\" is neither a reference "
             + "into this document (#/…) nor an API Gateway model URL; other references cannot be resolved"),
            ("pet.json#/Pet", "$ref \"pet.json#/Pet\" is neither a reference into this document (#/…) nor an API Gateway "
             + "model URL; other references cannot be resolved"),
            ("https://apigateway.amazonaws.com/restapis/x/models/Dog",
             "$ref \"https://apigateway.amazonaws.com/restapis/x/models/Dog\": model \"Dog\" is in neither definitions nor "
             + "components/schemas"),
            ("https://apigateway.amazonaws.com/restapis/x/model/Pet",
             "$ref \"https://apigateway.amazonaws.com/restapis/x/model/Pet\" is not a model URL "
             + "(https://apigateway.amazonaws.com/restapis/ID/models/NAME)"),
            ("#/definitions/Loop", "$ref \"#/definitions/Loop\" leads to a cycle of references that never reaches a schema"),
        ]
        for (reference, message) in cases {
            let schema = "{\"type\": \"object\",\n \"properties\": {\"a\":\n {\"$ref\": \"\(reference)\"}}}"
            let found = try #require(error(schema, document: document), "\(reference) compiled")
            #expect(found.0 == 3, "\(reference)")
            #expect(found.1 == message, "\(reference)")
        }
        let notString = try #require(error("{\n\"$ref\": 5}"))
        #expect(notString == (2, "$ref must be a string, not a number"))
    }

    @Test func referenceCyclesWithoutProgressAreErrors() throws {
        let twoStep = ##"{"definitions": {"A": {"$ref": "#/definitions/B"}, "B": {"$ref": "#/definitions/A"}}}"##
        #expect(error(##"{"$ref": "#/definitions/A"}"##, document: twoStep)?.1
                == "$ref \"#/definitions/A\" leads to a cycle of references that never reaches a schema")
        let throughAllOf = """
            {"definitions": {
              "A": {"allOf": [{"$ref": "#/definitions/B"}]},
              "B": {"anyOf": [{"type": "string"}, {"$ref": "#/definitions/A"}]}}}
            """
        let found = try #require(error(##"{"$ref": "#/definitions/A"}"##, document: throughAllOf))
        #expect(found.1.contains("would never end"))
        let throughNot = ##"{"definitions": {"A": {"not": {"$ref": "#/definitions/A"}}}}"##
        #expect(error(##"{"$ref": "#/definitions/A"}"##, document: throughNot)?.1.contains("would never end") == true)
    }

    @Test func recursiveReferencesThroughValuesCompile() throws {
        let document = """
            {"definitions": {
              "Tree": {"type": "object", "properties": {
                "value": {"type": "integer"},
                "children": {"type": "array", "items": {"$ref": "#/definitions/Tree"}},
                "parent": {"$ref": "#/definitions/Tree"}},
                "additionalProperties": false},
              "Even": {"type": "array", "items": [{"type": "integer"}], "additionalItems": {"$ref": "#/definitions/Odd"}},
              "Odd": {"type": "array", "items": {"$ref": "#/definitions/Even"}}}}
            """
        let tree = try compile(##"{"$ref": "#/definitions/Tree"}"##, document: document)
        #expect(tree.nodeCount < 10)
        #expect(validate(tree, ##"{"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}], "parent": {"value": 0}}"##).valid)
        let deep = validate(tree, ##"{"value": 1, "children": [{"value": 2, "children": [{"value": "3"}]}]}"##)
        #expect(!deep.valid)
        #expect(deep.errors == #"[instance type (string) does not match any allowed primitive type (allowed: ["integer"])]"#)
        #expect(!validate(tree, ##"{"children": [{"extra": 1}]}"##).valid)
        let mutual = try compile(##"{"$ref": "#/definitions/Odd"}"##, document: document)
        #expect(validate(mutual, "[[1, [[2]]]]").valid)
        #expect(!validate(mutual, "[[1, [[\"x\"]]]]").valid)
    }

    @Test func schemaTreesParseWithLines() throws {
        let parsed = node("{\n  \"a\": [1,\n 2.50],\n  \"b\": \"x\\ny\"\n}")
        #expect(parsed.line == 1)
        #expect(parsed["a"]?.line == 2)
        guard case .array(let elements)? = parsed["a"]?.value else {
            Issue.record("not an array")
            return
        }
        #expect(elements.map(\.line) == [2, 3])
        #expect(elements[1].value == .number("2.50"))
        #expect(parsed["b"] == SchemaNode(.string("x\ny"), line: 4))
        #expect(SchemaNode.parse(json: Array("{\"a\": }".utf8).span) == nil)
    }

    @Test func duplicateKeysInASchemaAreErrors() throws {
        #expect(error("{\"type\": \"string\",\n\"type\": \"integer\"}")! == (2, "key \"type\" appears more than once"))
        #expect(error("{\"enum\": [{\"a\": 1,\n \"a\": 2}]}")! == (2, "key \"a\" appears more than once"))
    }

    @Test func boundsOnSchemas() throws {
        // Deeper than JSON text may nest (the loader's YAML may), so built as a tree.
        var deep = SchemaNode(.object([]), line: 131)
        for level in (1...130).reversed() { deep = SchemaNode(.object([.init(key: "not", value: deep)]), line: level) }
        do {
            _ = try CompiledSchema.compile(deep, document: deep)
            Issue.record("a schema nested 130 deep compiled")
        } catch {
            #expect(error == SchemaError(line: 130, message: "schema is nested more than 128 levels deep"))
        }
        var chain = "{\"definitions\": {"
        for index in 0..<40 { chain += "\"S\(index)\": {\"allOf\": [{\"$ref\": \"#/definitions/S\(index + 1)\"}]}," }
        chain += "\"S40\": {}}}"
        #expect(error(##"{"$ref": "#/definitions/S0"}"##, document: chain)?.1
                == "more than 32 schemas apply to one value through allOf/anyOf/oneOf/not/dependencies")
    }
}
