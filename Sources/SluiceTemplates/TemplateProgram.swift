/// A mapping template compiled once, at load: Apache Velocity 1.7 as API Gateway runs it, held in
/// flat arrays linked by index (no classes, no indirect enums), so that rendering walks it without
/// reference counting or allocation.
///
/// What a template reads from the request (`$context.*`, `$stageVariables.*`,
/// `$input.params('name')`) is listed in `externals`: the caller resolves each one for the request
/// and hands the values to `TemplateRenderer` before rendering, so this module never sees a
/// request, a connection or a configuration.
public struct Template: Sendable {
    /// The template's text; string literals and text runs are ranges in it. Constants the compiler
    /// makes (a literal's `""` folded to `"`) are appended after the text.
    let source: [UInt8]
    let nodes: [Node]
    let expressions: [Expression]
    /// Blocks (node indices), argument lists (expression indices), branch lists: ranges in here.
    let children: [Int32]
    let branches: [Branch]
    let macros: [Macro]
    /// How many variable slots rendering needs (every `$name` the template uses, and `$foreach`'s
    /// nesting is separate).
    let slotCount: Int
    /// The top-level block.
    let root: Block

    /// What the template reads from outside, by index (`Expression.external`).
    public let externals: [TemplateExternal]
    /// The template reads the request body (`$input.body`, `json`, `path`).
    public let readsBody: Bool
    /// The template enumerates parameters (`$input.params()` or a name not known at load).
    public let readsAllParameters: Bool
    /// The template enumerates stage variables (`$stageVariables` as a map).
    public let readsAllStageVariables: Bool
    /// The template sets `$context.responseOverride.*` or `$context.requestOverride.*`.
    public let setsOverrides: Bool
    /// Whether the template has anything to evaluate: a template that is only text renders as
    /// written.
    public var isStatic: Bool { nodes.allSatisfy { if case .text = $0 { true } else { false } } }
}

extension Template: Equatable {
    /// Two templates are the same when compiled from the same text.
    public static func == (a: Template, b: Template) -> Bool { a.source == b.source }
}

/// A value a template reads from the request, resolved by the caller per request.
public enum TemplateExternal: Sendable, Equatable, Hashable {
    /// `$context.NAME` (the dotted name without `context.`: `identity.sourceIp`,
    /// `authorizer.claims.sub`).
    case context(String)
    /// `$stageVariables.NAME`.
    case stageVariable(String)
    /// `$input.params('NAME')`: the path parameter, else the query parameter, else the header of
    /// that name (API Gateway's order); empty when none.
    case parameter(String)
    /// `$input.params().path.NAME` and the like: one kind only.
    case pathParameter(String)
    case queryParameter(String)
    case header(String)
}

/// A range of `Template.children`.
struct Block: Sendable {
    var start: Int32
    var count: Int32
    static let empty = Block(start: 0, count: 0)
}

struct Branch: Sendable {
    /// The condition's expression; -1 for `#else`.
    var condition: Int32
    var body: Block
}

struct Macro: Sendable {
    var name: TextRange
    /// The parameters' slots, in order (in `children`).
    var parameters: Block
    var body: Block
}

/// A range of `Template.source`.
struct TextRange: Sendable, Equatable {
    var start: Int32
    var end: Int32
    var count: Int { Int(end - start) }
}

enum Node: Sendable {
    /// Text written as it is.
    case text(TextRange)
    /// A reference or expression written with Java's `toString`; null writes nothing (as API
    /// Gateway renders it, where Velocity would write the reference's source).
    case output(Int32)
    /// `\$name`: the reference's text without the backslash when the reference has a value,
    /// with it when not (Velocity's rule).
    case escapedReference(expression: Int32, text: TextRange)
    case set(SetTarget, Int32)
    /// `#if`/`#elseif`/`#else`: a range of `Template.branches`.
    case conditional(start: Int32, count: Int32)
    case loop(slot: Int32, iterable: Int32, body: Block)
    case breakLoop
    case stop
    /// `#define($name) … #end`: the slot holds the block; referencing it renders it.
    case define(slot: Int32, body: Block)
    case macroCall(macro: Int32, arguments: Block)
}

enum SetTarget: Sendable {
    case slot(Int32)
    /// `#set($map.key = …)`: a `put`.
    case property(base: Int32, name: TextRange)
    case responseStatus
    case responseHeader(TextRange)
    case requestHeader(TextRange)
    case requestQuery(TextRange)
    case requestPath(TextRange)
}

enum Expression: Sendable {
    case string(TextRange)
    /// A double-quoted literal with references or directives in it: rendered, then a string.
    case interpolated(Block)
    case integer(Int64)
    case number(Double)
    case boolean(Bool)
    case list(Block)
    case range(Int32, Int32)
    /// Keys and values alternating.
    case map(Block)
    case variable(Int32)
    case external(Int32)
    case property(base: Int32, name: TextRange)
    case call(base: Int32, method: Method, arguments: Block)
    case index(base: Int32, index: Int32)
    case input(InputCall, arguments: Block)
    case util(UtilCall, arguments: Block)
    case loopProperty(LoopProperty)
    case stageVariables
    case overrideValue(SetTarget)
    case not(Int32)
    case negate(Int32)
    case binary(BinaryOperator, Int32, Int32)
}

enum InputCall: Sendable {
    case body, json, path, parameters, parameter, parametersOfKind
}

enum UtilCall: Sendable {
    case escapeJavaScript, parseJson, urlEncode, urlDecode, base64Encode, base64Decode
}

enum LoopProperty: Sendable {
    case hasNext, count, index, first, last
}

enum BinaryOperator: Sendable {
    case or, and, equal, notEqual, less, lessOrEqual, greater, greaterOrEqual
    case add, subtract, multiply, divide, remainder
}

/// The Java methods templates call on strings, lists and maps.
enum Method: Sendable {
    // Maps and lists.
    case size, isEmpty, get, containsKey, containsValue, keySet, values, entrySet, put, putAll, remove, add
    case contains
    // Strings.
    case length, substring, indexOf, lastIndexOf, toLowerCase, toUpperCase, trim, startsWith, endsWith
    case equals, equalsIgnoreCase, replace, replaceAll, replaceFirst, split, matches, concat, toString
    case charAt
    // Map entries (`entrySet`): `getKey`, `getValue`.
    case getKey, getValue
    /// A method Sluice does not know: null, and a warning at load.
    case unknown

    static func named(_ name: String) -> Method {
        switch name {
        case "size": .size
        case "isEmpty": .isEmpty
        case "get": .get
        case "containsKey": .containsKey
        case "containsValue": .containsValue
        case "keySet": .keySet
        case "values": .values
        case "entrySet": .entrySet
        case "put": .put
        case "putAll": .putAll
        case "remove": .remove
        case "add": .add
        case "contains": .contains
        case "length": .length
        case "substring": .substring
        case "indexOf": .indexOf
        case "lastIndexOf": .lastIndexOf
        case "toLowerCase": .toLowerCase
        case "toUpperCase": .toUpperCase
        case "trim": .trim
        case "startsWith": .startsWith
        case "endsWith": .endsWith
        case "equals": .equals
        case "equalsIgnoreCase": .equalsIgnoreCase
        case "replace": .replace
        case "replaceAll": .replaceAll
        case "replaceFirst": .replaceFirst
        case "split": .split
        case "matches": .matches
        case "concat": .concat
        case "toString": .toString
        case "charAt": .charAt
        case "getKey": .getKey
        case "getValue": .getValue
        default: .unknown
        }
    }
}

/// A template that does not compile: where (1-based line and column in the template) and why.
public struct TemplateError: Error, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public var description: String { "line \(line), column \(column): \(message)" }
}
