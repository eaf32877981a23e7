import SluiceHTTP1
import Testing
@testable import SluiceLambda

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func string(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// A JSON value as the tests' own small reader sees it. Objects keep their members in order (and
/// any repeats), so tests can check both.
indirect enum JSON: Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSON])
    case object([Member])

    struct Member: Equatable {
        var key: String
        var value: JSON
    }

    subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    var keys: [String] {
        guard case .object(let members) = self else { return [] }
        return members.map(\.key)
    }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .number(let text): text
        case .string(let text): text.debugDescription
        case .array(let values): "[" + values.map(\.description).joined(separator: ",") + "]"
        case .object(let members):
            "{" + members.map { "\($0.key.debugDescription):\($0.value)" }.joined(separator: ",") + "}"
        }
    }
}

/// A deliberately separate, strict JSON reader (not the module's scanner), so that the event
/// writer's output is checked by code that shares nothing with it.
struct TestJSONReader {
    enum Failure: Error { case invalid(Int) }

    let input: [UInt8]
    var position = 0

    static func parse(_ input: [UInt8]) throws -> JSON {
        var reader = TestJSONReader(input: input)
        reader.skipWhitespace()
        let value = try reader.value()
        reader.skipWhitespace()
        guard reader.position == input.count else { throw Failure.invalid(reader.position) }
        return value
    }

    mutating func skipWhitespace() {
        while position < input.count, [0x20, 0x09, 0x0A, 0x0D].contains(input[position]) { position += 1 }
    }

    mutating func expect(_ byte: UInt8) throws {
        skipWhitespace()
        guard position < input.count, input[position] == byte else { throw Failure.invalid(position) }
        position += 1
    }

    mutating func value() throws -> JSON {
        skipWhitespace()
        guard position < input.count else { throw Failure.invalid(position) }
        switch input[position] {
        case UInt8(ascii: "{"):
            position += 1
            var members: [JSON.Member] = []
            skipWhitespace()
            if input[position] == UInt8(ascii: "}") { position += 1; return .object([]) }
            while true {
                skipWhitespace()
                let key = try stringValue()
                try expect(UInt8(ascii: ":"))
                members.append(JSON.Member(key: key, value: try value()))
                skipWhitespace()
                if input[position] == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "}"))
                return .object(members)
            }
        case UInt8(ascii: "["):
            position += 1
            var values: [JSON] = []
            skipWhitespace()
            if input[position] == UInt8(ascii: "]") { position += 1; return .array([]) }
            while true {
                values.append(try value())
                skipWhitespace()
                if input[position] == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "]"))
                return .array(values)
            }
        case UInt8(ascii: "\""): return .string(try stringValue())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            let start = position
            while position < input.count, "-+.eE0123456789".utf8.contains(input[position]) { position += 1 }
            guard position > start else { throw Failure.invalid(position) }
            return .number(string(Array(input[start..<position])))
        }
    }

    mutating func literal(_ text: String) throws {
        for byte in text.utf8 {
            guard position < input.count, input[position] == byte else { throw Failure.invalid(position) }
            position += 1
        }
    }

    mutating func stringValue() throws -> String {
        guard position < input.count, input[position] == UInt8(ascii: "\"") else { throw Failure.invalid(position) }
        position += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flushRaw() throws {
            guard !raw.isEmpty else { return }
            guard let text = String(validating: raw, as: UTF8.self) else { throw Failure.invalid(position) }
            scalars.append(contentsOf: text.unicodeScalars)
            raw.removeAll()
        }
        while position < input.count {
            let byte = input[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                try flushRaw()
                return String(scalars)
            case UInt8(ascii: "\\"):
                try flushRaw()
                let escape = input[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{8}")
                case UInt8(ascii: "f"): scalars.append("\u{C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    guard let code = UInt32(string(Array(input[position..<position + 4])), radix: 16),
                          let scalar = Unicode.Scalar(code) else { throw Failure.invalid(position) }
                    position += 4
                    scalars.append(scalar)
                default: throw Failure.invalid(position)
                }
            case 0..<0x20: throw Failure.invalid(position)
            default: raw.append(byte)
            }
        }
        throw Failure.invalid(position)
    }
}

/// The head bytes and parsed head of a request written as text (CRLF line ends added).
func parsedHead(_ lines: [String]) throws -> ([UInt8], RequestHead) {
    try parsedHead(bytes(lines.joined(separator: "\r\n") + "\r\n\r\n"))
}

func parsedHead(_ input: [UInt8]) throws -> ([UInt8], RequestHead) {
    var parser = RequestHeadParser(limits: RequestLimits(headBytesMax: 1 << 20, headersMax: 10_000))
    var head = RequestHead()
    let result = parser.parse(input.span, into: &head)
    guard case .complete = result else {
        Issue.record("the test request did not parse: \(result)")
        throw TestJSONReader.Failure.invalid(0)
    }
    return (input, head)
}

/// Writes a whole event (prefix, the body in the given pieces, suffix) and returns its bytes.
func writeEvent(
    head input: [UInt8], _ head: RequestHead, context: LambdaEventContext, stagePrefix: Int,
    pathParameterValues: [Range<Int>] = [], body: [[UInt8]]? = nil, encoding: LambdaBodyEncoding = .text,
    requestID: String = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", sourceIP: String = "192.0.2.1",
    extendedRequestID: String = "", traceID: String = "", timeMilliseconds: Int = 1_428_582_896_000,
    apiKey: Range<Int>? = nil, apiKeyID: String = ""
) -> [UInt8] {
    var output: [UInt8] = []
    var scratch = LambdaEventScratch()
    let parts = LambdaRequestParts(head: head, stagePrefixByteCount: stagePrefix,
                                   requestTimeEpochMilliseconds: timeMilliseconds, apiKey: apiKey)
    let requestIDBytes = bytes(requestID)
    let extendedRequestIDBytes = bytes(extendedRequestID)
    let apiKeyIDBytes = bytes(apiKeyID)
    let sourceIPBytes = bytes(sourceIP)
    let traceIDBytes = bytes(traceID)
    var state = LambdaEvent.writePrefix(
        request: parts, head: input.span, headers: head.headers, pathParameterValues: pathParameterValues,
        requestID: requestIDBytes.span, extendedRequestID: extendedRequestIDBytes.span, sourceIP: sourceIPBytes.span,
        apiKeyID: apiKeyIDBytes.span, traceID: traceIDBytes.span, context: context,
        body: body == nil ? .none : encoding, scratch: &scratch, to: &output)
    for piece in body ?? [] {
        LambdaEvent.writeBodyChunk(piece.span, state: &state, to: &output)
    }
    LambdaEvent.writeSuffix(state: &state, to: &output)
    return output
}

/// The range of the first occurrence of `needle` in `haystack`.
func range(of needle: String, in haystack: [UInt8]) -> Range<Int> {
    let pattern = bytes(needle)
    for start in 0...(haystack.count - pattern.count) where Array(haystack[start..<start + pattern.count]) == pattern {
        return start..<start + pattern.count
    }
    preconditionFailure("\(needle) not found")
}

/// A plain, whole-buffer base64 encoder written independently of the module's streaming one.
func referenceBase64(_ input: [UInt8]) -> [UInt8] {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var output: [UInt8] = []
    var index = 0
    while index < input.count {
        let chunk = Array(input[index..<min(index + 3, input.count)])
        let value = (UInt32(chunk[0]) << 16) | (chunk.count > 1 ? UInt32(chunk[1]) << 8 : 0)
            | (chunk.count > 2 ? UInt32(chunk[2]) : 0)
        output.append(alphabet[Int(value >> 18 & 63)])
        output.append(alphabet[Int(value >> 12 & 63)])
        output.append(chunk.count > 1 ? alphabet[Int(value >> 6 & 63)] : UInt8(ascii: "="))
        output.append(chunk.count > 2 ? alphabet[Int(value & 63)] : UInt8(ascii: "="))
        index += 3
    }
    return output
}

/// JSON string content for `text` as the tests expect the writer to produce it: the shortest
/// escapes for `"`, `\` and the five named controls, `\u00XX` (lowercase hex) for the other
/// controls, everything else as UTF-8.
func referenceEscaped(_ text: String) -> [UInt8] {
    var output: [UInt8] = []
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": output += bytes("\\\"")
        case "\\": output += bytes("\\\\")
        case "\u{8}": output += bytes("\\b")
        case "\u{C}": output += bytes("\\f")
        case "\n": output += bytes("\\n")
        case "\r": output += bytes("\\r")
        case "\t": output += bytes("\\t")
        case "\u{0}"..."\u{1F}":
            let hex = String(scalar.value, radix: 16)
            output += bytes("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
        default: output += Array(String(scalar).utf8)
        }
    }
    return output
}

/// A small deterministic generator (SplitMix64), so that random cases repeat from run to run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
