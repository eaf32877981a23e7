import SluiceJSON

/// The mutable builder behind `CompiledSchema.compile`: it walks the schema tree once, checks each
/// draft 4 keyword's form (as fge's syntax validation does before API Gateway accepts a model),
/// and appends nodes, names, numbers and values to flat arrays.
struct SchemaCompiler {
    let document: SchemaNode
    var nodes: [CompiledSchema.Node] = []
    var nodeLines: [Int] = []
    var names: [CompiledSchema.Name] = []
    var lists: [Int] = []
    var dependencies: [CompiledSchema.Dependency] = []
    var patterns: [CompiledSchema.Pattern] = []
    var enumValues: [CompiledSchema.EnumValue] = []
    var decimals: [DecimalNumber] = []
    /// Each decimal's text in the pool, for messages.
    var decimalTexts: [Range<Int>] = []
    var divisors: [Divisor] = []
    var pool: [UInt8] = []
    /// The node each resolved `$ref` target (a JSON pointer's tokens, joined) compiled to; a target
    /// is entered before its body is compiled, so a reference back to it links to it.
    var referenceTargets: [String: Int] = [:]

    init(document: SchemaNode) {
        self.document = document
    }

    static func error(_ line: Int, _ message: String) -> SchemaError {
        SchemaError(line: line, message: message)
    }

    static func kindName(_ node: SchemaNode) -> String {
        switch node.value {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    // MARK: Schemas

    mutating func compileSchema(_ schema: SchemaNode, depth: Int) throws(SchemaError) -> Int {
        guard depth <= CompiledSchema.nestingDepthMax else {
            throw Self.error(schema.line, "schema is nested more than \(CompiledSchema.nestingDepthMax) levels deep")
        }
        guard case .object(let members) = schema.value else {
            throw Self.error(schema.line, "a schema must be an object, not \(Self.kindName(schema))")
        }
        try checkUniqueKeys(members)
        if let reference = members.first(where: { $0.key == "$ref" }) {
            return try compileReference(reference.value, depth: depth)
        }
        let index = try reserve(line: schema.line)
        let node = try compileBody(members, line: schema.line, depth: depth)
        nodes[index] = node
        return index
    }

    private mutating func reserve(line: Int) throws(SchemaError) -> Int {
        guard nodes.count < CompiledSchema.nodeCountMax else {
            throw Self.error(line, "schema compiles to more than \(CompiledSchema.nodeCountMax) nodes")
        }
        nodes.append(CompiledSchema.Node())
        nodeLines.append(line)
        return nodes.count - 1
    }

    private func checkUniqueKeys(_ members: [SchemaNode.Member]) throws(SchemaError) {
        guard members.count > 1 else { return }
        var seen = Set<String>()
        for member in members where !seen.insert(member.key).inserted {
            throw Self.error(member.value.line, "key \"\(member.key)\" appears more than once")
        }
    }

    /// Draft 4: a schema with `$ref` is the schema it references; its other keywords are ignored.
    private mutating func compileReference(_ reference: SchemaNode, depth: Int) throws(SchemaError) -> Int {
        guard case .string(let text) = reference.value else {
            throw Self.error(reference.line, "$ref must be a string, not \(Self.kindName(reference))")
        }
        var tokens = try pointerTokens(text, line: reference.line)
        var chain: [String] = []
        var current = text
        while true {
            let key = tokens.joined(separator: "\u{0}")
            if let index = referenceTargets[key] {
                for earlier in chain { referenceTargets[earlier] = index }
                return index
            }
            if chain.contains(key) {
                throw Self.error(reference.line, "$ref \"\(text)\" leads to a cycle of references that never reaches a schema")
            }
            chain.append(key)
            guard let target = resolve(tokens) else {
                let via = current == text ? "" : " (through \"\(current)\")"
                throw Self.error(reference.line, "$ref \"\(text)\"\(via) does not resolve in the document")
            }
            guard case .object(let members) = target.value else {
                throw Self.error(reference.line, "$ref \"\(text)\" refers to \(Self.kindName(target)), not a schema")
            }
            if let next = members.first(where: { $0.key == "$ref" }) {
                guard case .string(let nextText) = next.value.value else {
                    throw Self.error(next.value.line, "$ref must be a string, not \(Self.kindName(next.value))")
                }
                tokens = try pointerTokens(nextText, line: next.value.line)
                current = nextText
                continue
            }
            try checkUniqueKeys(members)
            let index = try reserve(line: target.line)
            for earlier in chain { referenceTargets[earlier] = index }
            let node = try compileBody(members, line: target.line, depth: depth + 1)
            nodes[index] = node
            return index
        }
    }

    static let modelURLPrefix = "https://apigateway.amazonaws.com/restapis/"

    /// The JSON pointer tokens a `$ref` names in the document.
    private func pointerTokens(_ text: String, line: Int) throws(SchemaError) -> [String] {
        if text.hasPrefix("#") {
            guard let fragment = Self.percentDecoded(text.dropFirst()) else {
                throw Self.error(line, "$ref \"\(text)\" has a malformed percent escape")
            }
            if fragment.isEmpty { return [] }
            guard fragment.hasPrefix("/") else {
                throw Self.error(line, "$ref \"\(text)\" is not a JSON pointer (#/…)")
            }
            var tokens: [String] = []
            for raw in fragment.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
                guard let token = Self.unescapedToken(raw) else {
                    throw Self.error(line, "$ref \"\(text)\" has a '~' not followed by 0 or 1")
                }
                tokens.append(token)
            }
            return tokens
        }
        if text.hasPrefix(Self.modelURLPrefix) {
            let parts = text.dropFirst(Self.modelURLPrefix.count).split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[0].isEmpty, parts[1] == "models", !parts[2].isEmpty,
                  let name = Self.percentDecoded(parts[2]) else {
                throw Self.error(line, "$ref \"\(text)\" is not a model URL (\(Self.modelURLPrefix)ID/models/NAME)")
            }
            if resolve(["definitions", name]) != nil { return ["definitions", name] }
            if resolve(["components", "schemas", name]) != nil { return ["components", "schemas", name] }
            throw Self.error(line, "$ref \"\(text)\": model \"\(name)\" is in neither definitions nor components/schemas")
        }
        throw Self.error(line, "$ref \"\(text)\" is neither a reference into this document (#/…) nor an API Gateway "
                         + "model URL; other references cannot be resolved")
    }

    private static func unescapedToken(_ raw: Substring) -> String? {
        guard raw.contains("~") else { return String(raw) }
        var result = ""
        var iterator = raw.makeIterator()
        while let character = iterator.next() {
            guard character == "~" else {
                result.append(character)
                continue
            }
            switch iterator.next() {
            case "0": result.append("~")
            case "1": result.append("/")
            default: return nil
            }
        }
        return result
    }

    /// URI fragment percent escapes decoded (a `$ref` is a URI reference); nil when malformed.
    private static func percentDecoded(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "%") {
                guard index + 2 < utf8.count, let high = hexDigit(utf8[index + 1]), let low = hexDigit(utf8[index + 2]) else {
                    return nil
                }
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    private func resolve(_ tokens: [String]) -> SchemaNode? {
        var node = document
        for token in tokens {
            switch node.value {
            case .object(let members):
                guard let member = members.first(where: { $0.key == token }) else { return nil }
                node = member.value
            case .array(let elements):
                guard let index = Int(token), String(index) == token, index >= 0, index < elements.count else { return nil }
                node = elements[index]
            default:
                return nil
            }
        }
        return node
    }

    // MARK: Keywords

    /// The names an object schema mentions, gathered before they are laid out.
    private struct NameTable {
        var names: [String] = []
        var indexes: [String: Int] = [:]
        var properties: [Int] = []

        mutating func index(_ name: String) -> Int {
            if let index = indexes[name] { return index }
            names.append(name)
            properties.append(-1)
            indexes[name] = names.count - 1
            return names.count - 1
        }
    }

    private mutating func compileBody(_ members: [SchemaNode.Member], line: Int, depth: Int) throws(SchemaError) -> CompiledSchema.Node {
        var node = CompiledSchema.Node()
        var table = NameTable()
        var required: [Int] = []
        var dependencyTriggers: [(trigger: Int, required: [Int], schema: Int)] = []
        var hasMinimum = false
        var hasMaximum = false
        var exclusiveMinimumLine = 0
        var exclusiveMaximumLine = 0
        for member in members {
            let value = member.value
            switch member.key {
            case "type":
                node.types = try types(value)
            case "enum":
                node.enumValues = try enumeration(value)
                node.hasEnum = true
            case "allOf":
                node.allOf = try schemaList(value, keyword: "allOf", depth: depth)
            case "anyOf":
                node.anyOf = try schemaList(value, keyword: "anyOf", depth: depth)
            case "oneOf":
                node.oneOf = try schemaList(value, keyword: "oneOf", depth: depth)
            case "not":
                node.not = try compileSchema(value, depth: depth + 1)
            case "properties":
                guard case .object(let properties) = value.value else {
                    throw Self.error(value.line, "properties must be an object of schemas, not \(Self.kindName(value))")
                }
                try checkUniqueKeys(properties)
                for property in properties {
                    let schema = try compileSchema(property.value, depth: depth + 1)
                    table.properties[table.index(property.key)] = schema
                }
            case "patternProperties":
                guard case .object(let properties) = value.value else {
                    throw Self.error(value.line, "patternProperties must be an object of schemas, not \(Self.kindName(value))")
                }
                try checkUniqueKeys(properties)
                // The subschemas' own patterns are appended as they compile; this node's go after them.
                var compiled: [CompiledSchema.Pattern] = []
                for property in properties {
                    let regex = try Self.regex(property.key, line: property.value.line, keyword: "patternProperties")
                    let source = appendPool(Array(property.key.utf8))
                    compiled.append(CompiledSchema.Pattern(regex: regex, source: source,
                                                           schema: try compileSchema(property.value, depth: depth + 1)))
                }
                let start = patterns.count
                patterns.append(contentsOf: compiled)
                node.patternProperties = start..<patterns.count
            case "additionalProperties":
                node.additionalProperties = try booleanOrSchema(value, keyword: "additionalProperties", depth: depth)
            case "required":
                for name in try stringSet(value, keyword: "required") { required.append(table.index(name)) }
            case "dependencies":
                guard case .object(let entries) = value.value else {
                    throw Self.error(value.line, "dependencies must be an object, not \(Self.kindName(value))")
                }
                try checkUniqueKeys(entries)
                for entry in entries {
                    let trigger = table.index(entry.key)
                    switch entry.value.value {
                    case .array:
                        let names = try stringSet(entry.value, keyword: "dependencies \"\(entry.key)\"").map { table.index($0) }
                        dependencyTriggers.append((trigger, names, -1))
                    case .object:
                        dependencyTriggers.append((trigger, [], try compileSchema(entry.value, depth: depth + 1)))
                    default:
                        throw Self.error(entry.value.line, "dependencies \"\(entry.key)\" must be an array of property names "
                                         + "or a schema, not \(Self.kindName(entry.value))")
                    }
                }
            case "minProperties": node.minProperties = try nonNegativeInteger(value, keyword: "minProperties")
            case "maxProperties": node.maxProperties = try nonNegativeInteger(value, keyword: "maxProperties")
            case "items":
                switch value.value {
                case .object:
                    node.items = try compileSchema(value, depth: depth + 1)
                case .array:
                    node.tupleItems = try schemaList(value, keyword: "items", depth: depth)
                default:
                    throw Self.error(value.line, "items must be a schema or an array of schemas, not \(Self.kindName(value))")
                }
            case "additionalItems":
                node.additionalItems = try booleanOrSchema(value, keyword: "additionalItems", depth: depth)
            case "minItems": node.minItems = try nonNegativeInteger(value, keyword: "minItems")
            case "maxItems": node.maxItems = try nonNegativeInteger(value, keyword: "maxItems")
            case "uniqueItems": node.uniqueItems = try boolean(value, keyword: "uniqueItems")
            case "minLength": node.minLength = try nonNegativeInteger(value, keyword: "minLength")
            case "maxLength": node.maxLength = try nonNegativeInteger(value, keyword: "maxLength")
            case "pattern":
                guard case .string(let source) = value.value else {
                    throw Self.error(value.line, "pattern must be a string, not \(Self.kindName(value))")
                }
                let regex = try Self.regex(source, line: value.line, keyword: "pattern")
                patterns.append(CompiledSchema.Pattern(regex: regex, source: appendPool(Array(source.utf8)), schema: -1))
                node.pattern = patterns.count - 1
            case "minimum":
                node.minimum = try number(value, keyword: "minimum")
                hasMinimum = true
            case "maximum":
                node.maximum = try number(value, keyword: "maximum")
                hasMaximum = true
            case "exclusiveMinimum":
                node.exclusiveMinimum = try boolean(value, keyword: "exclusiveMinimum")
                exclusiveMinimumLine = value.line
            case "exclusiveMaximum":
                node.exclusiveMaximum = try boolean(value, keyword: "exclusiveMaximum")
                exclusiveMaximumLine = value.line
            case "multipleOf":
                let index = try number(value, keyword: "multipleOf")
                let decimal = decimals[index]
                let text = decimalTexts[index]
                guard !decimal.isZero, !decimal.negative else {
                    throw Self.error(value.line, "multipleOf must be greater than 0")
                }
                guard let divisor = Divisor(decimal, pool.span, text: text) else {
                    throw Self.error(value.line, "multipleOf with more than \(Divisor.significantDigitsMax) significant digits "
                                     + "is not supported")
                }
                divisors.append(divisor)
                node.multipleOf = divisors.count - 1
            case "definitions":
                guard case .object(let definitions) = value.value else {
                    throw Self.error(value.line, "definitions must be an object of schemas, not \(Self.kindName(value))")
                }
                try checkUniqueKeys(definitions)
                // Compiled only to check them (fge checks a whole schema's syntax); a `$ref` to one
                // compiles its target again, under its pointer.
                for definition in definitions { _ = try compileSchema(definition.value, depth: depth + 1) }
            case "format":
                guard case .string = value.value else {
                    throw Self.error(value.line, "format must be a string, not \(Self.kindName(value))")
                }
            default:
                break  // Draft 4: keywords it does not define are ignored.
            }
        }
        // The draft 4 meta-schema makes exclusiveMinimum depend on minimum, and so does fge.
        if exclusiveMinimumLine > 0 && !hasMinimum {
            throw Self.error(exclusiveMinimumLine, "exclusiveMinimum needs minimum")
        }
        if exclusiveMaximumLine > 0 && !hasMaximum {
            throw Self.error(exclusiveMaximumLine, "exclusiveMaximum needs maximum")
        }
        layOutNames(table, required: required, dependencies: dependencyTriggers, into: &node)
        return node
    }

    /// Appends a node's names sorted by hash (looked up by binary search), with presence slots
    /// for the names whose presence is asked: the required names first, so that the common case
    /// of at most 64 of them is tracked in one word.
    private mutating func layOutNames(_ table: NameTable, required: [Int],
                                      dependencies dependencyTriggers: [(trigger: Int, required: [Int], schema: Int)],
                                      into node: inout CompiledSchema.Node) {
        guard !table.names.isEmpty else { return }
        var presence = Array(repeating: -1, count: table.names.count)
        var presenceCount = 0
        func track(_ local: Int) {
            if presence[local] < 0 {
                presence[local] = presenceCount
                presenceCount += 1
            }
        }
        for local in required { track(local) }
        for dependency in dependencyTriggers {
            track(dependency.trigger)
            for local in dependency.required { track(local) }
        }
        let hashes = table.names.map { ValueHash.plain(Array($0.utf8).span) }
        let order = table.names.indices.sorted { hashes[$0] != hashes[$1] ? hashes[$0] < hashes[$1] : $0 < $1 }
        let base = names.count
        var global = Array(repeating: 0, count: table.names.count)
        for (position, local) in order.enumerated() {
            global[local] = base + position
            let bytes = appendPool(Array(table.names[local].utf8))
            names.append(CompiledSchema.Name(hash: hashes[local], bytes: bytes, property: table.properties[local],
                                             presence: presence[local]))
        }
        node.names = base..<names.count
        node.presenceCount = presenceCount
        let requiredStart = lists.count
        lists.append(contentsOf: required.map { global[$0] })
        node.required = requiredStart..<lists.count
        let dependencyStart = dependencies.count
        for dependency in dependencyTriggers {
            let listStart = lists.count
            lists.append(contentsOf: dependency.required.map { global[$0] })
            dependencies.append(CompiledSchema.Dependency(trigger: global[dependency.trigger], required: listStart..<lists.count,
                                                          schema: dependency.schema))
        }
        node.dependencies = dependencyStart..<dependencies.count
    }

    private mutating func appendPool(_ bytes: [UInt8]) -> Range<Int> {
        let start = pool.count
        pool.append(contentsOf: bytes)
        return start..<pool.count
    }

    private mutating func types(_ value: SchemaNode) throws(SchemaError) -> CompiledSchema.TypeSet {
        func type(_ node: SchemaNode) throws(SchemaError) -> CompiledSchema.TypeSet {
            guard case .string(let name) = node.value else {
                throw Self.error(node.line, "type must be a type name or an array of them, not \(Self.kindName(node))")
            }
            switch name {
            case "array": return .array
            case "boolean": return .boolean
            case "integer": return .integer
            case "null": return .null
            case "number": return [.number, .integer]
            case "object": return .object
            case "string": return .string
            default:
                throw Self.error(node.line, "type \"\(name)\" is not one of array, boolean, integer, null, number, object, string")
            }
        }
        switch value.value {
        case .string:
            return try type(value)
        case .array(let elements):
            guard !elements.isEmpty else { throw Self.error(value.line, "type must not be an empty array") }
            var result: CompiledSchema.TypeSet = []
            var seen = Set<String>()
            for element in elements {
                if case .string(let name) = element.value, !seen.insert(name).inserted {
                    throw Self.error(element.line, "type \"\(name)\" appears more than once")
                }
                result.formUnion(try type(element))
            }
            return result
        default:
            return try type(value)
        }
    }

    private mutating func enumeration(_ value: SchemaNode) throws(SchemaError) -> Range<Int> {
        guard case .array(let elements) = value.value else {
            throw Self.error(value.line, "enum must be an array, not \(Self.kindName(value))")
        }
        guard !elements.isEmpty else { throw Self.error(value.line, "enum must have at least one value") }
        let start = enumValues.count
        var compiled: [CompiledSchema.EnumValue] = []
        var comparisons = HashScratch(slotCount: 256)
        for element in elements {
            var text: [UInt8] = []
            try Self.writeJSON(element, to: &text)
            let range = appendPool(text)
            let bytes = pool
            let poolSpan = bytes.span
            guard let parsed = JSONScanner.document(poolSpan.extracting(range)) else {
                throw Self.error(element.line, "enum value is nested more than \(JSONScanner.depthMax) levels deep")
            }
            let value = ValueEquality.value(poolSpan, range, hasEscapes: parsed.hasEscapes)
            if BodyCheck.problem(poolSpan, value, depth: 1, scratch: &comparisons) != nil {
                throw Self.error(element.line, "enum value has a number whose exponent is out of range")
            }
            for earlier in compiled {
                let other = ValueEquality.value(poolSpan, earlier.text, hasEscapes: ValueEquality.hasEscapes(poolSpan, earlier.text))
                if ValueEquality.equal(poolSpan, value, poolSpan, other, scratch: &comparisons) {
                    throw Self.error(element.line, "enum values must be unique")
                }
            }
            compiled.append(CompiledSchema.EnumValue(text: range, hash: ValueHash.value(poolSpan, value)))
        }
        enumValues.append(contentsOf: compiled)
        return start..<enumValues.count
    }

    /// Compact JSON for a value; a number must follow JSON's grammar, and an object's keys must
    /// be unique.
    static func writeJSON(_ node: SchemaNode, to output: inout [UInt8]) throws(SchemaError) {
        switch node.value {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let value): output.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let text):
            let bytes = Array(text.utf8)
            guard DecimalNumber.valid(bytes.span, 0..<bytes.count) else {
                throw error(node.line, "\"\(text)\" is not a JSON number")
            }
            output.append(contentsOf: bytes)
        case .string(let text): writeString(text, to: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                try writeJSON(element, to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            var seen = Set<String>()
            for (index, member) in members.enumerated() {
                guard seen.insert(member.key).inserted else {
                    throw error(member.value.line, "key \"\(member.key)\" appears more than once")
                }
                if index > 0 { output.append(UInt8(ascii: ",")) }
                writeString(member.key, to: &output)
                output.append(UInt8(ascii: ":"))
                try writeJSON(member.value, to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                output.append(UInt8(ascii: "\\"))
                output.append(byte)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output.append(contentsOf: "\\u00".utf8)
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 15)])
            default:
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    private mutating func schemaList(_ value: SchemaNode, keyword: String, depth: Int) throws(SchemaError) -> Range<Int> {
        guard case .array(let elements) = value.value else {
            throw Self.error(value.line, "\(keyword) must be an array of schemas, not \(Self.kindName(value))")
        }
        guard !elements.isEmpty else { throw Self.error(value.line, "\(keyword) must have at least one schema") }
        var indexes: [Int] = []
        for element in elements { indexes.append(try compileSchema(element, depth: depth + 1)) }
        let start = lists.count
        lists.append(contentsOf: indexes)
        return start..<lists.count
    }

    private mutating func booleanOrSchema(_ value: SchemaNode, keyword: String, depth: Int) throws(SchemaError) -> Int {
        switch value.value {
        case .bool(let allowed): return allowed ? CompiledSchema.allowed : CompiledSchema.forbidden
        case .object: return try compileSchema(value, depth: depth + 1)
        default: throw Self.error(value.line, "\(keyword) must be a boolean or a schema, not \(Self.kindName(value))")
        }
    }

    private func boolean(_ value: SchemaNode, keyword: String) throws(SchemaError) -> Bool {
        guard case .bool(let flag) = value.value else {
            throw Self.error(value.line, "\(keyword) must be a boolean, not \(Self.kindName(value))")
        }
        return flag
    }

    /// A non-empty array of unique strings (`required`, property dependencies).
    private func stringSet(_ value: SchemaNode, keyword: String) throws(SchemaError) -> [String] {
        guard case .array(let elements) = value.value else {
            throw Self.error(value.line, "\(keyword) must be an array of property names, not \(Self.kindName(value))")
        }
        guard !elements.isEmpty else { throw Self.error(value.line, "\(keyword) must name at least one property") }
        var result: [String] = []
        var seen = Set<String>()
        for element in elements {
            guard case .string(let name) = element.value else {
                throw Self.error(element.line, "\(keyword) must hold property names (strings), not \(Self.kindName(element))")
            }
            guard seen.insert(name).inserted else {
                throw Self.error(element.line, "\(keyword) names \"\(name)\" more than once")
            }
            result.append(name)
        }
        return result
    }

    /// A count keyword's value: an integer (draft 4: no fraction, no exponent) of at least 0. A
    /// value past Int.max is kept as Int.max, which no body can reach.
    private func nonNegativeInteger(_ value: SchemaNode, keyword: String) throws(SchemaError) -> Int {
        guard case .number(let text) = value.value else {
            throw Self.error(value.line, "\(keyword) must be a non-negative integer, not \(Self.kindName(value))")
        }
        let bytes = Array(text.utf8)
        guard DecimalNumber.valid(bytes.span, 0..<bytes.count) else {
            throw Self.error(value.line, "\(keyword): \"\(text)\" is not a JSON number")
        }
        let decimal = DecimalNumber(bytes.span, 0..<bytes.count)
        guard decimal.isIntegerText else { throw Self.error(value.line, "\(keyword) must be an integer, not \(text)") }
        guard decimal.isZero || !decimal.negative else { throw Self.error(value.line, "\(keyword) must not be negative") }
        var result = 0
        for byte in bytes where byte != UInt8(ascii: "-") {
            let (times, overflow) = result.multipliedReportingOverflow(by: 10)
            let (sum, carried) = times.addingReportingOverflow(Int(byte - 0x30))
            if overflow || carried { return Int.max }
            result = sum
        }
        return result
    }

    /// A number keyword's value, kept as its text in the pool; its index in `decimals`.
    private mutating func number(_ value: SchemaNode, keyword: String) throws(SchemaError) -> Int {
        guard case .number(let text) = value.value else {
            throw Self.error(value.line, "\(keyword) must be a number, not \(Self.kindName(value))")
        }
        let range = appendPool(Array(text.utf8))
        guard DecimalNumber.valid(pool.span, range) else {
            throw Self.error(value.line, "\(keyword): \"\(text)\" is not a JSON number")
        }
        let decimal = DecimalNumber(pool.span, range)
        guard decimal.exponentInRange else {
            throw Self.error(value.line, "\(keyword): the exponent of \(text) is out of range")
        }
        decimals.append(decimal)
        decimalTexts.append(range)
        return decimals.count - 1
    }

    /// `source` compiled as the regex to search with: a `PatternProgram` when it is within that
    /// subset, and Swift's Regex (which also checks the syntax) otherwise. ECMA 262 semantics as near as Swift's Regex
    /// gives them: matched scalar by scalar (not by grapheme), `\d` and `\w` ASCII only, `^` and
    /// `$` only at the ends of the input. Where the syntaxes differ (Swift accepts some that ECMA
    /// does not, such as possessive quantifiers; it has no lookbehind), Swift's answer stands.
    static func regex(_ source: String, line: Int, keyword: String) throws(SchemaError) -> SchemaRegex {
        let built: Regex<AnyRegexOutput>
        do {
            built = try Regex(source)
        } catch {
            throw Self.error(line, "\(keyword) \"\(source)\" is not a valid regular expression: \(error)")
        }
        let regex = SchemaRegex(built.matchingSemantics(.unicodeScalar).asciiOnlyDigits().asciiOnlyWordCharacters(),
                                program: PatternProgram.compile(source))
        // The first match lowers the regex's program, so that later matches (from any thread) only read it.
        _ = regex.matches("")
        return regex
    }

    // MARK: Chains

    /// Refuses a cycle of schemas that apply to the same instance (A's allOf holding a $ref to A:
    /// validating against A would never end) and chains longer than `sameInstanceChainMax`.
    mutating func checkSameInstanceChains() throws(SchemaError) {
        var state = Array(repeating: UInt8(0), count: nodes.count)  // 0 new, 1 on the path, 2 done
        var longest = Array(repeating: 0, count: nodes.count)
        for index in nodes.indices where state[index] == 0 {
            _ = try chainLength(index, depth: 0, state: &state, longest: &longest)
        }
    }

    private func sameInstanceTargets(_ node: CompiledSchema.Node) -> [Int] {
        var targets = Array(lists[node.allOf]) + Array(lists[node.anyOf]) + Array(lists[node.oneOf])
        if node.not >= 0 { targets.append(node.not) }
        for dependency in dependencies[node.dependencies] where dependency.schema >= 0 { targets.append(dependency.schema) }
        return targets
    }

    private func chainLength(_ index: Int, depth: Int, state: inout [UInt8], longest: inout [Int]) throws(SchemaError) -> Int {
        if state[index] == 2 { return longest[index] }
        if state[index] == 1 {
            throw Self.error(nodeLines[index], "this schema applies to the same value through allOf/anyOf/oneOf/not/"
                             + "dependencies and $ref back to itself, so validating against it would never end")
        }
        guard depth <= CompiledSchema.sameInstanceChainMax else {
            throw Self.error(nodeLines[index], "more than \(CompiledSchema.sameInstanceChainMax) schemas apply to one value "
                             + "through allOf/anyOf/oneOf/not/dependencies")
        }
        state[index] = 1
        var length = 0
        for target in sameInstanceTargets(nodes[index]) {
            length = max(length, 1 + (try chainLength(target, depth: depth + 1, state: &state, longest: &longest)))
        }
        state[index] = 2
        longest[index] = length
        return length
    }
}
