import SluiceJSON

/// A schema (or a whole OpenAPI / Swagger document) as the config loader hands it over: a JSON-like
/// tree in which every node keeps the source line it came from, so that a compile error can say
/// FILE:LINE. Objects keep their members in source order, and numbers keep their source text so
/// that nothing is rounded before it is compared.
public struct SchemaNode: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case object([Member])
        case array([SchemaNode])
        case string(String)
        /// The number's source text, which must follow JSON's number grammar (checked at compile).
        case number(String)
        case bool(Bool)
        case null
    }

    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: SchemaNode

        public init(key: String, value: SchemaNode) {
            self.key = key
            self.value = value
        }
    }

    public var value: Value
    /// The 1-based source line of the node's first character.
    public var line: Int

    public init(_ value: Value, line: Int) {
        self.value = value
        self.line = line
    }

    /// The first member named `key`, when the node is an object.
    public subscript(key: String) -> SchemaNode? {
        guard case .object(let members) = value else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The JSON text `bytes` as a tree, with lines counted from 1; nil when it is not JSON (see
    /// `JSONScanner`: strict RFC 8259, nesting at most `JSONScanner.depthMax`).
    public static func parse(json bytes: Span<UInt8>) -> SchemaNode? {
        guard let root = JSONScanner.document(bytes) else { return nil }
        var lines = LineCounter()
        return build(bytes, root, depth: 0, lines: &lines)
    }

    /// Counts lines up to a position; positions only move forward as the tree is built in
    /// document order, so the whole text is counted once.
    private struct LineCounter {
        var position = 0
        var line = 1

        mutating func line(at target: Int, _ bytes: Span<UInt8>) -> Int {
            precondition(target >= position, "the tree is built in document order")
            while position < target {
                if bytes[position] == 0x0A { line += 1 }
                position += 1
            }
            return line
        }
    }

    private static func build(_ bytes: Span<UInt8>, _ value: JSONScanner.Value, depth: Int,
                              lines: inout LineCounter) -> SchemaNode {
        let line = lines.line(at: value.range.lowerBound, bytes)
        switch value.kind {
        case .object:
            var members: [Member] = []
            var reader = JSONMembers(value.range, depth: depth + 1)
            while let (key, memberValue) = reader.next(bytes) {
                _ = lines.line(at: key.range.lowerBound, bytes)
                let name = decodedString(bytes, key)
                members.append(Member(key: name, value: build(bytes, memberValue, depth: depth + 1, lines: &lines)))
            }
            return SchemaNode(.object(members), line: line)
        case .array:
            var elements: [SchemaNode] = []
            var reader = JSONElements(value.range, depth: depth + 1)
            while let element = reader.next(bytes) {
                elements.append(build(bytes, element, depth: depth + 1, lines: &lines))
            }
            return SchemaNode(.array(elements), line: line)
        case .string:
            return SchemaNode(.string(decodedString(bytes, value)), line: line)
        case .number:
            var text: [UInt8] = []
            var offset = value.range.lowerBound
            while offset < value.range.upperBound {
                text.append(bytes[offset])
                offset += 1
            }
            return SchemaNode(.number(String(decoding: text, as: UTF8.self)), line: line)
        case .trueLiteral: return SchemaNode(.bool(true), line: line)
        case .falseLiteral: return SchemaNode(.bool(false), line: line)
        case .null: return SchemaNode(.null, line: line)
        }
    }

    private static func decodedString(_ bytes: Span<UInt8>, _ value: JSONScanner.Value) -> String {
        var text: [UInt8] = []
        JSONScanner.appendContent(bytes, value, to: &text)
        return String(decoding: text, as: UTF8.self)
    }
}
