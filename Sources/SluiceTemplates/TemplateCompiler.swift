/// Compiles a mapping template's text to a `Template`: one pass of recursive descent over the
/// bytes, with Velocity 1.7's rules for what a directive's line leaves behind (checked against
/// the real engine by the differential test):
///
/// - a directive with arguments (`#set(…)`, `#if(…)`, `#foreach(…)`, a macro call) and the
///   argument-less `#else` and `#end` swallow the spaces and the newline after them when nothing
///   else follows on their line;
/// - `#set` also swallows the spaces before it when they are all that stands between it and the
///   previous directive or reference (or the start of the template);
/// - `## comment` swallows its newline.
///
/// Limits: a template of at most 1 MiB, nesting at most 64 deep.
public struct TemplateCompiler {
    /// What a template may read beyond `$input`, `$util` and its own variables.
    public typealias Warning = (line: Int, column: Int, message: String)

    public static let sourceBytesMax = 1 << 20
    static let nestingMax = 64

    private var source: [UInt8]
    private let templateEnd: Int
    private var position = 0
    private var nodes: [Node] = []
    private var expressions: [Expression] = []
    private var children: [Int32] = []
    private var branches: [Branch] = []
    private var macros: [Macro] = []
    private var macroNames: [String: Int32] = [:]
    private var slots: [String: Int32] = [:]
    private var externals: [TemplateExternal] = []
    private var readsBody = false
    private var readsAllParameters = false
    private var readsAllStageVariables = false
    private var setsOverrides = false
    private var nesting = 0
    private var warnings: [Warning] = []

    private init(_ text: String) {
        source = Array(text.utf8)
        templateEnd = source.count
    }

    /// Compiles `text`. Warnings (methods Sluice does not know, which render as nothing) go to
    /// `warn`.
    public static func compile(_ text: String, warn: (Warning) -> Void = { _ in }) throws(TemplateError) -> Template {
        var compiler = TemplateCompiler(text)
        guard compiler.source.count <= sourceBytesMax else {
            throw TemplateError(line: 1, column: 1, message: "the template is larger than 1 MiB")
        }
        let (root, terminator) = try compiler.parseBlock(end: compiler.templateEnd)
        if let terminator {
            throw compiler.error(at: terminator.position, "#\(terminator.name) without a directive to end")
        }
        for warning in compiler.warnings { warn(warning) }
        return Template(source: compiler.source, nodes: compiler.nodes, expressions: compiler.expressions,
                        children: compiler.children, branches: compiler.branches, macros: compiler.macros,
                        slotCount: compiler.slots.count, root: root, externals: compiler.externals,
                        readsBody: compiler.readsBody, readsAllParameters: compiler.readsAllParameters,
                        readsAllStageVariables: compiler.readsAllStageVariables,
                        setsOverrides: compiler.setsOverrides)
    }

    // MARK: - Errors

    private func location(_ offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        var index = 0
        // Offsets past the template are in constants made from a literal; they report its end.
        let limit = min(offset, templateEnd)
        while index < limit {
            if source[index] == 0x0A {
                line += 1
                column = 1
            } else if source[index] & 0xC0 != 0x80 {
                column += 1
            }
            index += 1
        }
        return (line, column)
    }

    private func error(at offset: Int, _ message: String) -> TemplateError {
        let (line, column) = location(offset)
        return TemplateError(line: line, column: column, message: message)
    }

    private mutating func warn(at offset: Int, _ message: String) {
        let (line, column) = location(offset)
        warnings.append((line, column, message))
    }

    // MARK: - Bytes

    private func byte(_ offset: Int, _ end: Int) -> UInt8? { offset < end ? source[offset] : nil }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        isLetter(byte) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F || byte == 0x2D
    }

    private func text(_ range: TextRange) -> String {
        String(decoding: source[Int(range.start)..<Int(range.end)], as: UTF8.self)
    }

    private func range(_ start: Int, _ end: Int) -> TextRange { TextRange(start: Int32(start), end: Int32(end)) }

    /// Reads an identifier at `position`; nil when there is none.
    private mutating func identifier(_ end: Int) -> TextRange? {
        guard let first = byte(position, end), Self.isLetter(first) || first == 0x5F else { return nil }
        let start = position
        position += 1
        while let next = byte(position, end), Self.isIdentifierByte(next) { position += 1 }
        return range(start, position)
    }

    private mutating func skipSpaces(_ end: Int) {
        while let next = byte(position, end), next == 0x20 || next == 0x09 || next == 0x0A || next == 0x0D {
            position += 1
        }
    }

    /// After a directive: the rest of its line when that is only spaces and a newline.
    private mutating func swallowLineEnd(_ end: Int) {
        var cursor = position
        while let next = byte(cursor, end), next == 0x20 || next == 0x09 { cursor += 1 }
        if byte(cursor, end) == 0x0A {
            position = cursor + 1
        } else if byte(cursor, end) == 0x0D {
            position = byte(cursor + 1, end) == 0x0A ? cursor + 2 : cursor + 1
        }
    }

    private mutating func expect(_ expected: UInt8, _ end: Int, _ what: String) throws(TemplateError) {
        skipSpaces(end)
        guard byte(position, end) == expected else {
            throw error(at: position, "expected '\(Character(Unicode.Scalar(expected)))' \(what)")
        }
        position += 1
    }

    // MARK: - Arrays

    private mutating func add(_ node: Node) -> Int32 {
        nodes.append(node)
        return Int32(nodes.count - 1)
    }

    private mutating func add(_ expression: Expression) -> Int32 {
        expressions.append(expression)
        return Int32(expressions.count - 1)
    }

    private mutating func block(_ items: [Int32]) -> Block {
        let start = Int32(children.count)
        children.append(contentsOf: items)
        return Block(start: start, count: Int32(items.count))
    }

    private mutating func slot(_ name: String) -> Int32 {
        if let existing = slots[name] { return existing }
        let index = Int32(slots.count)
        slots[name] = index
        return index
    }

    private mutating func external(_ value: TemplateExternal) -> Int32 {
        if let index = externals.firstIndex(of: value) { return add(.external(Int32(index))) }
        externals.append(value)
        return add(.external(Int32(externals.count - 1)))
    }

    // MARK: - Blocks

    private struct Terminator {
        var name: String
        var position: Int
    }

    /// Parses nodes up to `end`, or up to an `#end`, `#else` or `#elseif` (returned, consumed; an
    /// `#elseif`'s condition is left for the caller).
    private mutating func parseBlock(end: Int) throws(TemplateError) -> (Block, Terminator?) {
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= Self.nestingMax else { throw error(at: position, "directives nested more than 64 deep") }
        var items: [Int32] = []
        var textStart = position
        // Where a reference that ends in a property ended: Velocity reads a `##` right there as text.
        var propertyReferenceEnd = -1

        func flush(_ compiler: inout TemplateCompiler, upTo offset: Int) {
            if offset > textStart {
                items.append(compiler.add(.text(compiler.range(textStart, offset))))
            }
        }

        while position < end {
            let current = source[position]
            if current == 0x23 {  // #
                let hashAt = position
                if byte(position + 1, end) == 0x23 && position == propertyReferenceEnd {
                    position += 2
                    continue
                }
                if byte(position + 1, end) == 0x23 {  // ## comment
                    flush(&self, upTo: hashAt)
                    while let next = byte(position, end), next != 0x0A { position += 1 }
                    if position < end { position += 1 }
                    textStart = position
                    continue
                }
                if byte(position + 1, end) == 0x2A {  // #* comment *#
                    flush(&self, upTo: hashAt)
                    position += 2
                    while position < end && !(source[position] == 0x2A && byte(position + 1, end) == 0x23) {
                        position += 1
                    }
                    guard position < end else { throw error(at: hashAt, "a #* comment is not closed with *#") }
                    position += 2
                    textStart = position
                    continue
                }
                if byte(position + 1, end) == 0x5B && byte(position + 2, end) == 0x5B {  // #[[ unparsed ]]#
                    flush(&self, upTo: hashAt)
                    let contentStart = position + 3
                    position = contentStart
                    while position < end && !(source[position] == 0x5D && byte(position + 1, end) == 0x5D
                                              && byte(position + 2, end) == 0x23) {
                        position += 1
                    }
                    guard position < end else { throw error(at: hashAt, "a #[[ block is not closed with ]]#") }
                    items.append(add(.text(range(contentStart, position))))
                    position += 3
                    textStart = position
                    continue
                }
                // A directive: #name or #{name}.
                var cursor = position + 1
                let braced = byte(cursor, end) == 0x7B
                if braced { cursor += 1 }
                let saved = position
                position = cursor
                guard saved + 1 < end else { throw error(at: saved, "a lone '#' ends the template") }
                guard let nameRange = identifier(end), !braced || byte(position, end) == 0x7D else {
                    position = saved + 1
                    continue
                }
                if braced { position += 1 }
                let name = text(nameRange)
                switch name {
                case "end", "else", "elseif":
                    flush(&self, upTo: hashAt)
                    if name != "elseif" { swallowLineEnd(end) }
                    return (block(items), Terminator(name: name, position: hashAt))
                case "set":
                    // The spaces before #set go with it when they are a run of their own.
                    var textEnd = hashAt
                    if source[textStart..<hashAt].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                        textEnd = textStart
                    }
                    flush(&self, upTo: textEnd)
                    items.append(try parseSet(end))
                case "if":
                    flush(&self, upTo: hashAt)
                    items.append(try parseIf(end, at: hashAt))
                case "foreach":
                    flush(&self, upTo: hashAt)
                    items.append(try parseForeach(end, at: hashAt))
                case "break", "stop":
                    flush(&self, upTo: hashAt)
                    items.append(add(name == "break" ? Node.breakLoop : Node.stop))
                    swallowLineEnd(end)
                case "define":
                    flush(&self, upTo: hashAt)
                    items.append(try parseDefine(end, at: hashAt))
                case "macro":
                    flush(&self, upTo: hashAt)
                    try parseMacro(end, at: hashAt)
                case "include", "parse", "evaluate", "literal":
                    throw error(at: hashAt, "#\(name) is not available in API Gateway mapping templates")
                default:
                    if let macro = macroNames[name] {
                        var cursor = position
                        while let next = byte(cursor, end), next == 0x20 || next == 0x09 { cursor += 1 }
                        if byte(cursor, end) == 0x28 {
                            flush(&self, upTo: hashAt)
                            position = cursor
                            items.append(try parseMacroCall(macro, end))
                            textStart = position
                            continue
                        }
                    }
                    // Not a directive: the `#` and the name are text.
                    position = hashAt + 1
                    continue
                }
                textStart = position
                continue
            }
            if current == 0x24 {  // $
                let start = position
                if let reference = try parseReference(end) {
                    flush(&self, upTo: start)
                    items.append(add(.output(reference)))
                    textStart = position
                    switch expressions[Int(reference)] {
                    case .property, .loopProperty:
                        if source[position - 1] != 0x7D { propertyReferenceEnd = position }
                    default: break
                    }
                    continue
                }
                guard start + 1 < end else { throw error(at: start, "a lone '$' ends the template") }
                var cursor = start + 1
                while let next = byte(cursor, end), next == 0x20 || next == 0x09 { cursor += 1 }
                // Velocity drops a `$` right before a directive, or before the spaces of a #set.
                let beforeDirective = byte(start + 1, end) == 0x23 && byte(start + 2, end).map { Self.isLetter($0) || $0 == 0x7B } == true
                let beforeSet = isSet(at: cursor, end)
                if beforeDirective || beforeSet {
                    flush(&self, upTo: start)
                    textStart = start + 1
                }
                position = start + 1
                continue
            }
            if current == 0x5C {  // backslashes before a reference escape it, or themselves
                var cursor = position
                while cursor < end && source[cursor] == 0x5C { cursor += 1 }
                let count = cursor - position
                if byte(cursor, end) == 0x24 {
                    let start = position
                    position = cursor
                    if let reference = try parseReference(end) {
                        flush(&self, upTo: start)
                        // Each pair is one backslash; an odd one left escapes the reference.
                        if count >= 2 { items.append(add(.text(range(start, start + count / 2)))) }
                        if count % 2 == 1 {
                            items.append(add(.escapedReference(expression: reference, text: range(cursor, position))))
                        } else {
                            items.append(add(.output(reference)))
                        }
                        textStart = position
                        continue
                    }
                }
                if count == 1 && byte(cursor, end) == 0x23 {  // \#directive: the text without `\`
                    flush(&self, upTo: position)
                    position += 1
                    textStart = position
                    position += 1
                    continue
                }
                position = cursor
                continue
            }
            position += 1
        }
        flush(&self, upTo: end)
        return (block(items), nil)
    }

    /// Whether `#set(` or `#{set}(` starts at `offset`.
    private func isSet(at offset: Int, _ end: Int) -> Bool {
        for spelling in [Self.setSpelling, Self.bracedSetSpelling] where offset + spelling.count <= end {
            if source[offset..<offset + spelling.count].elementsEqual(spelling) { return true }
        }
        return false
    }

    private static let setSpelling: [UInt8] = Array("#set(".utf8)
    private static let bracedSetSpelling: [UInt8] = Array("#{set}(".utf8)

    // MARK: - Directives

    private mutating func parseSet(_ end: Int) throws(TemplateError) -> Int32 {
        try expect(0x28, end, "after #set")
        skipSpaces(end)
        let targetAt = position
        guard byte(position, end) == 0x24, let reference = try parseReference(end) else {
            throw error(at: targetAt, "#set needs a reference to set: #set($name = value)")
        }
        let target: SetTarget
        switch expressions[Int(reference)] {
        case .variable(let slot): target = .slot(slot)
        case .property(let base, let name): target = .property(base: base, name: name)
        case .overrideValue(let override):
            target = override
            setsOverrides = true
        default:
            throw error(at: targetAt, "#set can set a variable, a map's key or $context.*Override, not this reference")
        }
        try expect(0x3D, end, "in #set")
        let value = try parseExpression(end)
        try expect(0x29, end, "to close #set")
        swallowLineEnd(end)
        return add(.set(target, value))
    }

    private mutating func parseIf(_ end: Int, at start: Int) throws(TemplateError) -> Int32 {
        var list: [Branch] = []
        var condition = try parseCondition(end, "#if")
        while true {
            let (body, terminator) = try parseBlock(end: end)
            guard let terminator else { throw error(at: start, "#if without #end") }
            list.append(Branch(condition: condition, body: body))
            switch terminator.name {
            case "end":
                let first = Int32(branches.count)
                branches.append(contentsOf: list)
                return add(.conditional(start: first, count: Int32(list.count)))
            case "elseif":
                guard condition >= 0 else { throw error(at: terminator.position, "#elseif after #else") }
                condition = try parseCondition(end, "#elseif")
            default:  // else
                guard condition >= 0 else { throw error(at: terminator.position, "a second #else") }
                condition = -1
            }
        }
    }

    private mutating func parseCondition(_ end: Int, _ directive: String) throws(TemplateError) -> Int32 {
        try expect(0x28, end, "after \(directive)")
        let condition = try parseExpression(end)
        try expect(0x29, end, "to close \(directive)")
        swallowLineEnd(end)
        return condition
    }

    private mutating func parseForeach(_ end: Int, at start: Int) throws(TemplateError) -> Int32 {
        try expect(0x28, end, "after #foreach")
        skipSpaces(end)
        guard byte(position, end) == 0x24 else { throw error(at: position, "#foreach needs a variable: #foreach($item in $list)") }
        position += 1
        guard let name = identifier(end) else { throw error(at: position, "#foreach needs a variable name") }
        let slot = slot(text(name))
        skipSpaces(end)
        guard byte(position, end) == 0x69, byte(position + 1, end) == 0x6E else {
            throw error(at: position, "expected 'in' in #foreach")
        }
        position += 2
        let iterable = try parseExpression(end)
        try expect(0x29, end, "to close #foreach")
        swallowLineEnd(end)
        let (body, terminator) = try parseBlock(end: end)
        guard let terminator, terminator.name == "end" else {
            throw error(at: terminator?.position ?? start, "#foreach without #end")
        }
        return add(.loop(slot: slot, iterable: iterable, body: body))
    }

    private mutating func parseDefine(_ end: Int, at start: Int) throws(TemplateError) -> Int32 {
        try expect(0x28, end, "after #define")
        skipSpaces(end)
        guard byte(position, end) == 0x24 else { throw error(at: position, "#define needs a reference: #define($name)") }
        position += 1
        guard let name = identifier(end) else { throw error(at: position, "#define needs a name") }
        let slot = slot(text(name))
        try expect(0x29, end, "to close #define")
        swallowLineEnd(end)
        let (body, terminator) = try parseBlock(end: end)
        guard let terminator, terminator.name == "end" else {
            throw error(at: terminator?.position ?? start, "#define without #end")
        }
        return add(.define(slot: slot, body: body))
    }

    private mutating func parseMacro(_ end: Int, at start: Int) throws(TemplateError) {
        try expect(0x28, end, "after #macro")
        skipSpaces(end)
        guard let name = identifier(end) else { throw error(at: position, "#macro needs a name") }
        let macroName = text(name)
        var parameters: [Int32] = []
        while true {
            skipSpaces(end)
            if byte(position, end) == 0x2C { position += 1; skipSpaces(end) }
            guard byte(position, end) == 0x24 else { break }
            position += 1
            guard let parameter = identifier(end) else { throw error(at: position, "a macro parameter needs a name") }
            parameters.append(slot(text(parameter)))
        }
        try expect(0x29, end, "to close #macro")
        swallowLineEnd(end)
        // Registered before its body is read, so that it may call itself.
        let index = Int32(macros.count)
        macros.append(Macro(name: name, parameters: Block.empty, body: Block.empty))
        macroNames[macroName] = index
        let (body, terminator) = try parseBlock(end: end)
        guard let terminator, terminator.name == "end" else {
            throw error(at: terminator?.position ?? start, "#macro without #end")
        }
        macros[Int(index)] = Macro(name: name, parameters: block(parameters), body: body)
    }

    private mutating func parseMacroCall(_ macro: Int32, _ end: Int) throws(TemplateError) -> Int32 {
        let start = position
        position += 1  // (
        var arguments: [Int32] = []
        while true {
            skipSpaces(end)
            if byte(position, end) == 0x29 { position += 1; break }
            if byte(position, end) == 0x2C { position += 1; continue }
            guard position < end else { throw error(at: start, "a macro call is not closed with ')'") }
            arguments.append(try parseExpression(end))
        }
        let expected = macros[Int(macro)].parameters.count
        // While a macro's own body is read its parameter count is not known yet (recursion).
        if macros[Int(macro)].body.count > 0 || expected > 0, Int32(arguments.count) != expected {
            throw error(at: start, "the macro takes \(expected) argument(s), not \(arguments.count)")
        }
        swallowLineEnd(end)
        return add(.macroCall(macro: macro, arguments: block(arguments)))
    }

    // MARK: - References

    /// Parses `$name…`, `$!name…`, `${name…}` at `position` (a `$`). Nil, with `position`
    /// unchanged, when the `$` does not start a reference.
    private mutating func parseReference(_ end: Int) throws(TemplateError) -> Int32? {
        let start = position
        position += 1
        if byte(position, end) == 0x21 { position += 1 }  // $! (quiet: nulls render as nothing anyway)
        let braced = byte(position, end) == 0x7B
        if braced { position += 1 }
        guard let rootName = identifier(end) else {
            position = start
            return nil
        }
        let root = text(rootName)
        var current: Int32
        switch root {
        case "input": current = try parseInput(end, start)
        case "util": current = try parseUtil(end, start)
        case "context": current = try parseContext(end, start)
        case "stageVariables":
            if byte(position, end) == 0x2E, let name = peekIdentifier(position + 1, end),
               byte(Int(name.end), end) != 0x28 {
                position = Int(name.end)
                current = external(.stageVariable(text(name)))
            } else {
                readsAllStageVariables = true
                current = add(.stageVariables)
            }
        case "foreach":
            if byte(position, end) == 0x2E, let name = peekIdentifier(position + 1, end),
               let property = Self.loopProperty(text(name)) {
                position = Int(name.end)
                if byte(position, end) == 0x28, byte(position + 1, end) == 0x29 { position += 2 }  // hasNext()
                current = add(.loopProperty(property))
            } else {
                // Any other property of $foreach is nothing, as in Velocity.
                if byte(position, end) == 0x2E, let name = peekIdentifier(position + 1, end) { position = Int(name.end) }
                current = nullExpression()
            }
        case "velocityCount": current = add(.loopProperty(.count))
        case "velocityHasNext": current = add(.loopProperty(.hasNext))
        default: current = add(.variable(slot(root)))
        }
        current = try parseAccessors(current, end)
        if braced {
            guard byte(position, end) == 0x7D else { throw error(at: start, "'${' is not closed with '}'") }
            position += 1
        }
        return current
    }

    private func peekIdentifier(_ at: Int, _ end: Int) -> TextRange? {
        guard let first = byte(at, end), Self.isLetter(first) || first == 0x5F else { return nil }
        var cursor = at + 1
        while let next = byte(cursor, end), Self.isIdentifierByte(next) { cursor += 1 }
        return range(at, cursor)
    }

    private static func loopProperty(_ name: String) -> LoopProperty? {
        switch name {
        case "hasNext": .hasNext
        case "count": .count
        case "index": .index
        case "first": .first
        case "last": .last
        default: nil
        }
    }

    /// `.name`, `.name(args)`, `[index]` after a reference.
    private mutating func parseAccessors(_ base: Int32, _ end: Int) throws(TemplateError) -> Int32 {
        var current = base
        while true {
            if byte(position, end) == 0x2E, let name = peekIdentifier(position + 1, end) {
                position = Int(name.end)
                if byte(position, end) == 0x28 {
                    let methodName = text(name)
                    let method = Method.named(methodName)
                    if method == .unknown {
                        warn(at: Int(name.start), "the method \(methodName) is not one Sluice's templates have; it renders as nothing")
                    }
                    let arguments = try parseArguments(end)
                    current = add(.call(base: current, method: method, arguments: arguments))
                } else {
                    current = add(.property(base: current, name: name))
                }
                continue
            }
            if byte(position, end) == 0x5B {
                position += 1
                let index = try parseExpression(end)
                try expect(0x5D, end, "to close an index")
                current = add(.index(base: current, index: index))
                continue
            }
            return current
        }
    }

    /// `(a, b)` at `position`.
    private mutating func parseArguments(_ end: Int) throws(TemplateError) -> Block {
        let start = position
        position += 1
        var arguments: [Int32] = []
        skipSpaces(end)
        if byte(position, end) == 0x29 {
            position += 1
            return block(arguments)
        }
        while true {
            arguments.append(try parseExpression(end))
            skipSpaces(end)
            if byte(position, end) == 0x2C { position += 1; continue }
            if byte(position, end) == 0x29 { position += 1; return block(arguments) }
            throw error(at: start, "a method's arguments are not closed with ')'")
        }
    }

    private mutating func parseInput(_ end: Int, _ start: Int) throws(TemplateError) -> Int32 {
        guard byte(position, end) == 0x2E, let name = peekIdentifier(position + 1, end) else {
            throw error(at: start, "$input has body, json(path), path(path), params() and params(name)")
        }
        position = Int(name.end)
        let member = text(name)
        switch member {
        case "body":
            readsBody = true
            return add(.input(.body, arguments: .empty))
        case "json", "path":
            guard byte(position, end) == 0x28 else { throw error(at: start, "$input.\(member) needs a JSONPath: $input.\(member)('$.a')") }
            readsBody = true
            let arguments = try parseArguments(end)
            guard arguments.count == 1 else { throw error(at: start, "$input.\(member) takes one JSONPath") }
            if case .string(let literal) = expressions[Int(children[Int(arguments.start)])],
               JSONPath.compile(source[Int(literal.start)..<Int(literal.end)]) == nil {
                throw error(at: Int(literal.start), "'\(text(literal))' is not a JSONPath Sluice reads ($, .name, ['name'], [index])")
            }
            return add(.input(member == "json" ? .json : .path, arguments: arguments))
        case "params":
            guard byte(position, end) == 0x28 else {
                throw error(at: start, "$input.params needs parentheses: $input.params() or $input.params('name')")
            }
            let arguments = try parseArguments(end)
            switch arguments.count {
            case 0:
                // $input.params().path.NAME and the like are one value; otherwise every parameter.
                if byte(position, end) == 0x2E, let kind = peekIdentifier(position + 1, end),
                   ["path", "querystring", "header"].contains(text(kind)),
                   byte(Int(kind.end), end) == 0x2E, let name = peekIdentifier(Int(kind.end) + 1, end),
                   byte(Int(name.end), end) != 0x28 {
                    position = Int(name.end)
                    let parameter = text(name)
                    switch text(kind) {
                    case "path": return external(.pathParameter(parameter))
                    case "querystring": return external(.queryParameter(parameter))
                    default: return external(.header(parameter))
                    }
                }
                readsAllParameters = true
                return add(.input(.parameters, arguments: arguments))
            case 1:
                if case .string(let literal) = expressions[Int(children[Int(arguments.start)])] {
                    return external(.parameter(text(literal)))
                }
                readsAllParameters = true
                return add(.input(.parameter, arguments: arguments))
            default:
                throw error(at: start, "$input.params takes no argument or a name")
            }
        default:
            throw error(at: start, "$input has body, json(path), path(path), params() and params(name), not \(member)")
        }
    }

    private mutating func parseUtil(_ end: Int, _ start: Int) throws(TemplateError) -> Int32 {
        guard byte(position, end) == 0x2E, let name = peekIdentifier(position + 1, end),
              byte(Int(name.end), end) == 0x28 else {
            throw error(at: start, "$util has escapeJavaScript, parseJson, urlEncode, urlDecode, base64Encode and base64Decode")
        }
        let call: UtilCall
        switch text(name) {
        case "escapeJavaScript": call = .escapeJavaScript
        case "parseJson": call = .parseJson
        case "urlEncode": call = .urlEncode
        case "urlDecode": call = .urlDecode
        case "base64Encode": call = .base64Encode
        case "base64Decode": call = .base64Decode
        default: throw error(at: Int(name.start), "$util has no \(text(name))")
        }
        position = Int(name.end)
        let arguments = try parseArguments(end)
        guard arguments.count == 1 else { throw error(at: start, "$util.\(text(name)) takes one argument") }
        return add(.util(call, arguments: arguments))
    }

    /// `$context.a.b.c`: the dotted name is one value; `requestOverride` and `responseOverride`
    /// are what the template sets.
    private mutating func parseContext(_ end: Int, _ start: Int) throws(TemplateError) -> Int32 {
        var names: [String] = []
        while byte(position, end) == 0x2E, let name = peekIdentifier(position + 1, end), byte(Int(name.end), end) != 0x28 {
            names.append(text(name))
            position = Int(name.end)
            // A header or parameter name may hold what identifiers cannot: stop at the last piece.
            if names.count == 3 && (names[0] == "requestOverride" || names[0] == "responseOverride") { break }
            if names.count == 2 && names[0] == "responseOverride" && names[1] == "status" { break }
        }
        guard !names.isEmpty else { throw error(at: start, "$context needs a variable: $context.requestId") }
        if names[0] == "responseOverride" || names[0] == "requestOverride" {
            let override: SetTarget
            switch (names[0], names.count > 1 ? names[1] : "", names.count) {
            case ("responseOverride", "status", 2): override = .responseStatus
            case ("responseOverride", "header", 3): override = .responseHeader(nameRange(names[2]))
            case ("requestOverride", "header", 3): override = .requestHeader(nameRange(names[2]))
            case ("requestOverride", "querystring", 3): override = .requestQuery(nameRange(names[2]))
            case ("requestOverride", "path", 3): override = .requestPath(nameRange(names[2]))
            default:
                throw error(at: start, "$context.\(names.joined(separator: ".")) is not an override API Gateway has "
                            + "(responseOverride.status, responseOverride.header.NAME, requestOverride.header.NAME, "
                            + "requestOverride.querystring.NAME, requestOverride.path.NAME)")
            }
            return add(.overrideValue(override))
        }
        return external(.context(names.joined(separator: ".")))
    }

    /// A constant appended to `source`.
    private mutating func constant(_ bytes: some Sequence<UInt8>) -> TextRange {
        let start = source.count
        source.append(contentsOf: bytes)
        return range(start, source.count)
    }

    private mutating func nameRange(_ name: String) -> TextRange { constant(name.utf8) }

    // MARK: - Expressions

    private mutating func parseExpression(_ end: Int) throws(TemplateError) -> Int32 {
        try parseOr(end)
    }

    /// Whether the next token is the operator `symbol` or the word `word`; consumed when it is.
    private mutating func take(_ symbol: String, _ word: String?, _ end: Int) -> Bool {
        skipSpaces(end)
        let symbolBytes = Array(symbol.utf8)
        if position + symbolBytes.count <= end, source[position..<position + symbolBytes.count].elementsEqual(symbolBytes) {
            // `=` alone is assignment, `!` alone is `not`: `==`/`!=` must not be read as `<`, `>`.
            let after = byte(position + symbolBytes.count, end)
            if (symbol == "<" || symbol == ">") && after == 0x3D { return false }
            if symbol == "!" && after == 0x3D { return false }
            position += symbolBytes.count
            return true
        }
        if let word, let found = peekIdentifier(position, end), text(found) == word {
            position = Int(found.end)
            return true
        }
        return false
    }

    private mutating func parseOr(_ end: Int) throws(TemplateError) -> Int32 {
        var left = try parseAnd(end)
        while take("||", "or", end) { left = add(.binary(.or, left, try parseAnd(end))) }
        return left
    }

    private mutating func parseAnd(_ end: Int) throws(TemplateError) -> Int32 {
        var left = try parseEquality(end)
        while take("&&", "and", end) { left = add(.binary(.and, left, try parseEquality(end))) }
        return left
    }

    private mutating func parseEquality(_ end: Int) throws(TemplateError) -> Int32 {
        var left = try parseRelational(end)
        while true {
            if take("==", "eq", end) { left = add(.binary(.equal, left, try parseRelational(end))); continue }
            if take("!=", "ne", end) { left = add(.binary(.notEqual, left, try parseRelational(end))); continue }
            return left
        }
    }

    private mutating func parseRelational(_ end: Int) throws(TemplateError) -> Int32 {
        var left = try parseAdditive(end)
        while true {
            if take("<=", "le", end) { left = add(.binary(.lessOrEqual, left, try parseAdditive(end))); continue }
            if take(">=", "ge", end) { left = add(.binary(.greaterOrEqual, left, try parseAdditive(end))); continue }
            if take("<", "lt", end) { left = add(.binary(.less, left, try parseAdditive(end))); continue }
            if take(">", "gt", end) { left = add(.binary(.greater, left, try parseAdditive(end))); continue }
            return left
        }
    }

    private mutating func parseAdditive(_ end: Int) throws(TemplateError) -> Int32 {
        var left = try parseMultiplicative(end)
        while true {
            if take("+", nil, end) { left = add(.binary(.add, left, try parseMultiplicative(end))); continue }
            skipSpaces(end)
            // A `-` before a digit right after an operand is still subtraction: `$a -1`.
            if take("-", nil, end) { left = add(.binary(.subtract, left, try parseMultiplicative(end))); continue }
            return left
        }
    }

    private mutating func parseMultiplicative(_ end: Int) throws(TemplateError) -> Int32 {
        var left = try parseUnary(end)
        while true {
            if take("*", nil, end) { left = add(.binary(.multiply, left, try parseUnary(end))); continue }
            if take("/", nil, end) { left = add(.binary(.divide, left, try parseUnary(end))); continue }
            if take("%", nil, end) { left = add(.binary(.remainder, left, try parseUnary(end))); continue }
            return left
        }
    }

    private mutating func parseUnary(_ end: Int) throws(TemplateError) -> Int32 {
        if take("!", "not", end) { return add(.not(try parseUnary(end))) }
        skipSpaces(end)
        if byte(position, end) == 0x2D, let next = byte(position + 1, end), !(next >= 0x30 && next <= 0x39) {
            position += 1
            return add(.negate(try parseUnary(end)))
        }
        return try parsePrimary(end)
    }

    private mutating func parsePrimary(_ end: Int) throws(TemplateError) -> Int32 {
        skipSpaces(end)
        let start = position
        guard let first = byte(position, end) else { throw error(at: start, "expected a value") }
        switch first {
        case 0x24:
            guard let reference = try parseReference(end) else {
                throw error(at: start, "expected a reference after '$'")
            }
            return reference
        case 0x27, 0x22:
            return try parseStringLiteral(end, quote: first)
        case 0x28:
            position += 1
            let inner = try parseExpression(end)
            try expect(0x29, end, "to close a parenthesis")
            return inner
        case 0x5B:
            return try parseList(end)
        case 0x7B:
            return try parseMap(end)
        case 0x2D, 0x30...0x39:
            return try parseNumber(end)
        default:
            if let word = peekIdentifier(position, end) {
                switch text(word) {
                case "true": position = Int(word.end); return add(.boolean(true))
                case "false": position = Int(word.end); return add(.boolean(false))
                case "null": position = Int(word.end); return nullExpression()
                default: break
                }
            }
            throw error(at: start, "expected a value: a reference, a string, a number, true, false, a list or a map")
        }
    }

    private mutating func nullExpression() -> Int32 {
        // There is no null literal in Velocity 1.7; `null` is an undefined reference's value.
        add(.variable(slot("\u{0}null")))
    }

    private mutating func parseNumber(_ end: Int) throws(TemplateError) -> Int32 {
        let start = position
        if byte(position, end) == 0x2D { position += 1 }
        while let next = byte(position, end), next >= 0x30 && next <= 0x39 { position += 1 }
        var isInteger = true
        if byte(position, end) == 0x2E, let next = byte(position + 1, end), next >= 0x30 && next <= 0x39 {
            isInteger = false
            position += 1
            while let digit = byte(position, end), digit >= 0x30 && digit <= 0x39 { position += 1 }
        }
        if let exponent = byte(position, end), exponent == 0x65 || exponent == 0x45 {
            var cursor = position + 1
            if let sign = byte(cursor, end), sign == 0x2B || sign == 0x2D { cursor += 1 }
            if let digit = byte(cursor, end), digit >= 0x30 && digit <= 0x39 {
                isInteger = false
                position = cursor
                while let more = byte(position, end), more >= 0x30 && more <= 0x39 { position += 1 }
            }
        }
        let literal = String(decoding: source[start..<position], as: UTF8.self)
        if isInteger {
            guard let value = Int64(literal) else { throw error(at: start, "the number \(literal) is too large") }
            return add(.integer(value))
        }
        guard let value = Double(literal) else { throw error(at: start, "\(literal) is not a number") }
        return add(.number(value))
    }

    private mutating func parseStringLiteral(_ end: Int, quote: UInt8) throws(TemplateError) -> Int32 {
        let start = position
        position += 1
        let contentStart = position
        var doubled = false
        while true {
            guard let next = byte(position, end) else { throw error(at: start, "a string is not closed") }
            if next == quote {
                if byte(position + 1, end) == quote {
                    doubled = true
                    position += 2
                    continue
                }
                break
            }
            position += 1
        }
        let contentEnd = position
        position += 1
        var content = range(contentStart, contentEnd)
        if doubled {
            // `''` in a single-quoted string and `""` in a double-quoted one stand for one quote.
            var folded: [UInt8] = []
            var index = contentStart
            while index < contentEnd {
                folded.append(source[index])
                index += source[index] == quote ? 2 : 1
            }
            content = constant(folded)
        }
        guard quote == 0x22, source[Int(content.start)..<Int(content.end)].contains(where: { $0 == 0x24 || $0 == 0x23 }) else {
            return add(.string(content))
        }
        // A double-quoted string is a template of its own.
        let saved = position
        position = Int(content.start)
        let (body, terminator) = try parseBlock(end: Int(content.end))
        if let terminator { throw error(at: terminator.position, "#\(terminator.name) without a directive to end") }
        position = saved
        return add(.interpolated(body))
    }

    private mutating func parseList(_ end: Int) throws(TemplateError) -> Int32 {
        let start = position
        position += 1
        skipSpaces(end)
        var items: [Int32] = []
        if byte(position, end) == 0x5D {
            position += 1
            return add(.list(block(items)))
        }
        let first = try parseExpression(end)
        skipSpaces(end)
        if byte(position, end) == 0x2E, byte(position + 1, end) == 0x2E {
            position += 2
            let last = try parseExpression(end)
            try expect(0x5D, end, "to close a range")
            return add(.range(first, last))
        }
        items.append(first)
        while true {
            skipSpaces(end)
            if byte(position, end) == 0x2C {
                position += 1
                items.append(try parseExpression(end))
                continue
            }
            guard byte(position, end) == 0x5D else { throw error(at: start, "a list is not closed with ']'") }
            position += 1
            return add(.list(block(items)))
        }
    }

    private mutating func parseMap(_ end: Int) throws(TemplateError) -> Int32 {
        let start = position
        position += 1
        var items: [Int32] = []
        while true {
            skipSpaces(end)
            if byte(position, end) == 0x7D {
                position += 1
                return add(.map(block(items)))
            }
            if !items.isEmpty {
                guard byte(position, end) == 0x2C else { throw error(at: start, "a map is not closed with '}'") }
                position += 1
            }
            items.append(try parseExpression(end))
            try expect(0x3A, end, "between a map's key and value")
            items.append(try parseExpression(end))
        }
    }
}
