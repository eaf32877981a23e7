import SluiceJSON

/// A schema that failed to compile: what a `check` prints as FILE:LINE: message. API Gateway
/// refuses such models, so Sluice refuses the configuration.
public struct SchemaError: Error, Equatable, Sendable {
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
}

/// A JSON Schema draft 4 model, compiled once at config load for validating request bodies as
/// API Gateway's request validator (the fge json-schema-validator) does. The schema tree becomes a
/// flat array of nodes linked by index, so `$ref` cycles through properties or items (recursive
/// models) are plain back-links; names, numbers and `enum` values live in one byte pool.
///
/// Enforced: `type`, `enum`, `allOf`, `anyOf`, `oneOf`, `not`, `$ref` (which, as draft 4 says,
/// replaces its siblings), `properties`, `patternProperties`, `additionalProperties`, `required`,
/// `dependencies`, `minProperties`, `maxProperties`, `items`, `additionalItems`, `minItems`,
/// `maxItems`, `uniqueItems`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
/// `multipleOf`, `minLength`, `maxLength`, `pattern`. `definitions` only holds `$ref` targets.
///
/// `format` is not validated: API Gateway does not document checking it, and fge only checks the
/// formats it knows when asked to; its value must still be a string. Other keywords are ignored,
/// as draft 4 says (§5 of the validation spec).
public struct CompiledSchema: Sendable {
    let nodes: [Node]
    let root: Int
    /// Every object schema's names (properties, required names, dependencies), each node's
    /// range sorted by hash.
    let names: [Name]
    /// Lists of node indexes (allOf, anyOf, oneOf, tuple items) and of name indexes (required,
    /// property dependencies).
    let lists: [Int]
    let dependencies: [Dependency]
    let patterns: [Pattern]
    let enumValues: [EnumValue]
    let decimals: [DecimalNumber]
    let decimalTexts: [Range<Int>]
    let divisors: [Divisor]
    /// Name bytes, number texts, `enum` values as compact JSON, pattern sources.
    let pool: [UInt8]

    /// How many nodes a schema may compile to, its nesting depth, and the longest chain of
    /// schemas that apply to one instance without descending into it (allOf, anyOf, oneOf, not,
    /// schema dependencies): each bounds the stack the validation uses.
    public static let nodeCountMax = 65_536
    public static let nestingDepthMax = 128
    public static let sameInstanceChainMax = 32

    /// The JSON types, as bits. `integer` is its own bit; `number` in a schema allows both.
    struct TypeSet: OptionSet, Sendable {
        var rawValue: UInt8
        static let array = TypeSet(rawValue: 1)
        static let boolean = TypeSet(rawValue: 2)
        static let integer = TypeSet(rawValue: 4)
        static let null = TypeSet(rawValue: 8)
        static let number = TypeSet(rawValue: 16)
        static let object = TypeSet(rawValue: 32)
        static let string = TypeSet(rawValue: 64)
        static let all = TypeSet(rawValue: 127)

        /// fge's names, in its order (that of its NodeType enum), which is the order messages
        /// list them in.
        static let ordered: [(TypeSet, String)] = [
            (.array, "array"), (.boolean, "boolean"), (.integer, "integer"), (.null, "null"), (.number, "number"),
            (.object, "object"), (.string, "string"),
        ]
    }

    /// Where a subschema slot (additionalProperties, additionalItems) points.
    static let allowed = -1
    static let forbidden = -2

    struct Node: Sendable {
        var types = TypeSet.all
        var enumValues = 0..<0
        var hasEnum = false
        var allOf = 0..<0
        var anyOf = 0..<0
        var oneOf = 0..<0
        var not = -1

        var names = 0..<0
        var required = 0..<0
        var dependencies = 0..<0
        var patternProperties = 0..<0
        var additionalProperties = CompiledSchema.allowed
        var minProperties = 0
        var maxProperties = Int.max
        /// How many of the node's names carry a presence bit (the first 64 tracked).
        var presenceCount = 0

        var items = CompiledSchema.allowed
        var tupleItems: Range<Int>?
        var additionalItems = CompiledSchema.allowed
        var minItems = 0
        var maxItems = Int.max
        var uniqueItems = false

        var minLength = 0
        var maxLength = Int.max
        var pattern = -1

        var minimum = -1
        var exclusiveMinimum = false
        var maximum = -1
        var exclusiveMaximum = false
        var multipleOf = -1
    }

    struct Name: Sendable {
        var hash: UInt64
        var bytes: Range<Int>
        /// The property's schema, or -1 when the name is only required or a dependency.
        var property: Int
        /// The presence slot (see `Node.presenceCount`), or -1 when nothing asks whether it is there.
        var presence: Int
    }

    struct Dependency: Sendable {
        /// The property whose presence triggers the dependency (a name index).
        var trigger: Int
        /// The names that must then be present (name indexes in `lists`), or a schema the whole
        /// object must then match.
        var required: Range<Int>
        var schema: Int
    }

    /// A compiled `pattern` or `patternProperties` regex, and the schema a matching member's value
    /// must match (patternProperties).
    struct Pattern: Sendable {
        var regex: SchemaRegex
        var source: Range<Int>
        var schema: Int
    }

    struct EnumValue: Sendable {
        var text: Range<Int>
        var hash: UInt64
    }

    /// Compiles `schema`, resolving its `$ref`s in `document` (the OpenAPI or Swagger document the
    /// model comes from, or the model itself): `#/…` is a JSON pointer into it (`~0`, `~1` and
    /// percent escapes decoded), and an API Gateway model URL
    /// (`https://apigateway.amazonaws.com/restapis/ID/models/NAME`) names `definitions/NAME`, else
    /// `components/schemas/NAME`. Malformed draft 4 keywords, unresolvable references and
    /// reference cycles that never reach a schema are errors at their line.
    public static func compile(_ schema: SchemaNode, document: SchemaNode) throws(SchemaError) -> CompiledSchema {
        var compiler = SchemaCompiler(document: document)
        let root = try compiler.compileSchema(schema, depth: 0)
        try compiler.checkSameInstanceChains()
        return CompiledSchema(nodes: compiler.nodes, root: root, names: compiler.names, lists: compiler.lists,
                              dependencies: compiler.dependencies, patterns: compiler.patterns,
                              enumValues: compiler.enumValues, decimals: compiler.decimals, decimalTexts: compiler.decimalTexts,
                              divisors: compiler.divisors, pool: compiler.pool)
    }

    /// How many schema nodes the compiled form holds (shared `$ref` targets once).
    public var nodeCount: Int { nodes.count }
}

/// A compiled `pattern`: a `PatternProgram` when the pattern is within its subset (matched
/// without allocating), else Swift's `Regex`. `Regex` is not declared Sendable, but it is
/// immutable once built and its lowered program is made at compile (`SchemaCompiler.regex`
/// matches once), after which matching only reads it; compiled schemas are built at load and
/// then only read.
final class SchemaRegex: @unchecked Sendable {
    let program: PatternProgram?
    let regex: Regex<AnyRegexOutput>

    init(_ regex: Regex<AnyRegexOutput>, program: PatternProgram?) {
        self.regex = regex
        self.program = program
    }

    /// ECMA 262's unanchored search: a match anywhere in `utf8` (a decoded string).
    func matches(_ utf8: [UInt8], _ scratch: inout PatternScratch) -> Bool {
        if let program { return program.matches(utf8.span, &scratch) }
        return matches(String(decoding: utf8, as: UTF8.self))
    }

    /// The same through Swift's Regex (allocates).
    func matches(_ text: String) -> Bool {
        (try? regex.firstMatch(in: text)) != nil
    }
}
