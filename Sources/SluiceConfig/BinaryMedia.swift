import SluiceHTTP1
import Yams

/// `x-amazon-apigateway-binary-media-types`: the media types a REST API treats as binary. A
/// request is binary when its `Content-Type` is one of them, an answer is wanted as binary when
/// the first media type of the request's `Accept` is (API Gateway reads only the first).
public struct BinaryMediaTypes: Sendable, Equatable {
    /// Each as `type/subtype`, lowercased; either part may be `*`.
    public private(set) var patterns: [(type: [UInt8], subtype: [UInt8])] = []

    public init(_ types: [String] = []) {
        for text in types {
            let lowered = Array(text.lowercased().utf8)
            guard let slash = lowered.firstIndex(of: UInt8(ascii: "/")) else { continue }
            patterns.append((Array(lowered[..<slash]), Array(lowered[(slash + 1)...])))
        }
    }

    public var isEmpty: Bool { patterns.isEmpty }

    public static func == (lhs: BinaryMediaTypes, rhs: BinaryMediaTypes) -> Bool {
        lhs.patterns.elementsEqual(rhs.patterns) { $0.type == $1.type && $0.subtype == $1.subtype }
    }

    /// Whether the media type `value` starts with (up to `;` or `,`) is one of the types.
    public func matches(_ value: Span<UInt8>) -> Bool {
        guard !patterns.isEmpty else { return false }
        var end = 0
        while end < value.count && value[end] != UInt8(ascii: ";") && value[end] != UInt8(ascii: ",") { end += 1 }
        let range = HTTPBytes.trimmingWhitespace(value, 0..<end)
        var slash = range.lowerBound
        while slash < range.upperBound && value[slash] != UInt8(ascii: "/") { slash += 1 }
        guard slash < range.upperBound else { return false }
        for pattern in patterns {
            if Self.part(value, range.lowerBound..<slash, is: pattern.type)
                && Self.part(value, (slash + 1)..<range.upperBound, is: pattern.subtype) { return true }
        }
        return false
    }

    private static func part(_ value: Span<UInt8>, _ range: Range<Int>, is pattern: [UInt8]) -> Bool {
        if pattern.count == 1 && pattern[0] == UInt8(ascii: "*") { return true }
        guard range.count == pattern.count else { return false }
        for offset in 0..<range.count where HTTPBytes.lowercased(value[range.lowerBound + offset]) != pattern[offset] {
            return false
        }
        return true
    }

    /// Reads the extension's list of strings (`image~1png`, as API Gateway's patch paths write a
    /// `/`, is read as `image/png`); nil when an error was reported.
    static func read(_ node: Node?, file: String, log: DiagnosticLog) -> BinaryMediaTypes? {
        guard let node, !node.isNull else { return BinaryMediaTypes() }
        guard case .sequence(let items) = node else {
            log.error(file, node.line, "x-amazon-apigateway-binary-media-types must be a list of media types, "
                      + "not \(node.kindName)")
            return nil
        }
        var types: [String] = []
        for item in items {
            let text = item.text?.replacing("~1", with: "/") ?? ""
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(HTTPBytes.isTokenByte) }) else {
                log.error(file, item.line, "x-amazon-apigateway-binary-media-types: '\(item.text ?? item.kindName)' "
                          + "is not a media type (type/subtype, either may be *)")
                return nil
            }
            types.append(text)
        }
        return BinaryMediaTypes(types)
    }
}

/// An integration's (request) or integration response's `contentHandling`: how a payload is
/// converted between text and binary. Without it, a payload passes as it is, except that an
/// answer to a request that wants binary is base64-decoded (API Gateway's table; see
/// docs/templates.md).
public enum ContentHandling: String, Sendable, Equatable {
    /// Base64 text is decoded to bytes (a binary payload passes as it is).
    case convertToBinary = "CONVERT_TO_BINARY"
    /// A binary payload is base64-encoded (a text one passes as it is).
    case convertToText = "CONVERT_TO_TEXT"

    /// The `contentHandling` field (nil: none); `.failure` after an error was reported.
    static func read(_ node: Node?, label: String, file: String, log: DiagnosticLog) -> Result<ContentHandling?, ReadFailure> {
        guard let node, !node.isNull else { return .success(nil) }
        guard let text = node.text, let handling = ContentHandling(rawValue: text.uppercased()) else {
            log.error(file, node.line, "\(label): contentHandling must be CONVERT_TO_BINARY or CONVERT_TO_TEXT, "
                      + "not '\(node.text ?? node.kindName)'")
            return .failure(ReadFailure())
        }
        return .success(handling)
    }

    struct ReadFailure: Error {}
}

/// What happens to a payload on its way: nothing, base64-encoded, or base64-decoded.
public enum PayloadConversion: Sendable, Equatable {
    case none
    case base64Encode
    case base64Decode

    /// A request's body, by API Gateway's table: `binary` when its Content-Type is a binary
    /// media type.
    public static func request(binary: Bool, handling: ContentHandling?) -> PayloadConversion {
        switch handling {
        case nil: .none
        case .convertToBinary: binary ? .none : .base64Decode
        case .convertToText: binary ? .base64Encode : .none
        }
    }

    /// An answer's body, by API Gateway's table: `binary` when the integration's answer is of a
    /// binary media type, `wantsBinary` when the request's first `Accept` type is one.
    public static func response(binary: Bool, wantsBinary: Bool, handling: ContentHandling?) -> PayloadConversion {
        switch (handling, binary) {
        case (nil, false): wantsBinary ? .base64Decode : .none
        case (nil, true): wantsBinary ? .none : .base64Encode
        case (.convertToBinary, false): .base64Decode
        case (.convertToBinary, true): .none
        case (.convertToText, false): .none
        case (.convertToText, true): .base64Encode
        }
    }
}
