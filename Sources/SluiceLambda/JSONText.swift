import SluiceHTTP1
import SluiceJSON

/// Writes arbitrary bytes as the contents of a JSON string (RFC 8259 §7), between quotes the
/// caller writes: `"` and `\` are escaped, control characters become `\n`, `\t`, … or `\u00XX`,
/// and bytes that are not well-formed UTF-8 become U+FFFD, one per maximal invalid subpart as
/// Unicode §3.9 ("U+FFFD substitution of maximal subparts") and the WHATWG decoder do. A JSON
/// text must be UTF-8 (RFC 8259 §8.1), and a Lambda runtime's JSON parser would refuse anything
/// else, so client bytes are never passed through unchecked.
///
/// It keeps an incomplete UTF-8 sequence (at most 3 bytes) between calls, so a body that arrives
/// in pieces split inside a character is written as if it had come whole; `finish` turns a
/// sequence left incomplete at the end into U+FFFD.
struct JSONStringEscaper: Sendable, Equatable {
    /// Bytes of the sequence begun and not yet complete, first byte lowest.
    private var pending: UInt32 = 0
    private var pendingCount: UInt8 = 0
    /// Continuation bytes the pending sequence still needs; 0 when none is pending.
    private var needed: UInt8 = 0
    /// The range the next continuation byte must fall in (Unicode Table 3-7).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// Whether no sequence is pending.
    var isIdle: Bool { needed == 0 }

    /// The most bytes one input byte can produce (`\u00XX`), and the most a pending sequence adds
    /// when it completes or turns into U+FFFD.
    static let outputBytesPerInputByteMax = 6
    static let pendingOutputBytesMax = 3

    /// Appends `bytes[range]`. Runs of plain ASCII and of complete, valid multi-byte sequences are
    /// copied as one span; only the bytes that need escaping or checking go one at a time.
    mutating func append<Sink: ByteSink>(_ bytes: Span<UInt8>, _ range: Range<Int>, to sink: inout Sink) {
        var index = range.lowerBound
        let end = range.upperBound
        while index < end {
            if needed > 0 {
                append(byte: bytes[index], to: &sink)
                index += 1
                continue
            }
            let runStart = index
            while index < end {
                let byte = bytes[index]
                if byte >= 0x20 && byte < 0x80 {
                    if byte == 0x22 || byte == 0x5C { break }
                    index += 1
                } else if byte >= 0x80 {
                    let length = UTF8Sequence.wellFormedLength(bytes, at: index, end: end)
                    if length == 0 { break }
                    index += length
                } else {
                    break
                }
            }
            if index > runStart { sink.append(bytes.extracting(runStart..<index)) }
            if index < end {
                append(byte: bytes[index], to: &sink)
                index += 1
            }
        }
    }

    mutating func append<Sink: ByteSink>(_ bytes: Span<UInt8>, to sink: inout Sink) {
        append(bytes, 0..<bytes.count, to: &sink)
    }

    /// Appends one byte: the slow path, which also carries sequences across calls.
    mutating func append<Sink: ByteSink>(byte: UInt8, to sink: inout Sink) {
        if needed > 0 {
            if byte >= lower && byte <= upper {
                pending |= UInt32(byte) << (8 * UInt32(pendingCount))
                pendingCount += 1
                needed -= 1
                lower = 0x80
                upper = 0xBF
                if needed == 0 {
                    var index: UInt8 = 0
                    while index < pendingCount {
                        sink.append(UInt8(truncatingIfNeeded: pending >> (8 * UInt32(index))))
                        index += 1
                    }
                    reset()
                }
                return
            }
            // The pending bytes are a maximal subpart of an ill-formed sequence: one U+FFFD for
            // them, then `byte` starts afresh.
            JSONStringEscaper.appendReplacementCharacter(to: &sink)
            reset()
        }
        switch byte {
        case 0x00..<0x80: JSONStringEscaper.appendEscapedASCII(byte, to: &sink)
        case 0xC2...0xDF: begin(byte, needed: 1, lower: 0x80, upper: 0xBF)
        case 0xE0: begin(byte, needed: 2, lower: 0xA0, upper: 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: begin(byte, needed: 2, lower: 0x80, upper: 0xBF)
        case 0xED: begin(byte, needed: 2, lower: 0x80, upper: 0x9F)
        case 0xF0: begin(byte, needed: 3, lower: 0x90, upper: 0xBF)
        case 0xF1...0xF3: begin(byte, needed: 3, lower: 0x80, upper: 0xBF)
        case 0xF4: begin(byte, needed: 3, lower: 0x80, upper: 0x8F)
        default: JSONStringEscaper.appendReplacementCharacter(to: &sink)  // 80–C1, F5–FF
        }
    }

    /// Ends the text: a sequence still incomplete becomes U+FFFD.
    mutating func finish<Sink: ByteSink>(to sink: inout Sink) {
        if needed > 0 {
            JSONStringEscaper.appendReplacementCharacter(to: &sink)
            reset()
        }
    }

    private mutating func begin(_ byte: UInt8, needed count: UInt8, lower low: UInt8, upper high: UInt8) {
        pending = UInt32(byte)
        pendingCount = 1
        needed = count
        lower = low
        upper = high
    }

    private mutating func reset() {
        pending = 0
        pendingCount = 0
        needed = 0
        lower = 0x80
        upper = 0xBF
    }

    /// U+FFFD REPLACEMENT CHARACTER in UTF-8.
    @inline(__always)
    static func appendReplacementCharacter<Sink: ByteSink>(to sink: inout Sink) {
        sink.append(0xEF)
        sink.append(0xBF)
        sink.append(0xBD)
    }

    /// Appends an ASCII byte as JSON string content: escaped when JSON requires it.
    @inline(__always)
    static func appendEscapedASCII<Sink: ByteSink>(_ byte: UInt8, to sink: inout Sink) {
        switch byte {
        case 0x22: sink.append(0x5C); sink.append(0x22)
        case 0x5C: sink.append(0x5C); sink.append(0x5C)
        case 0x08: sink.append(0x5C); sink.append(UInt8(ascii: "b"))
        case 0x0C: sink.append(0x5C); sink.append(UInt8(ascii: "f"))
        case 0x0A: sink.append(0x5C); sink.append(UInt8(ascii: "n"))
        case 0x0D: sink.append(0x5C); sink.append(UInt8(ascii: "r"))
        case 0x09: sink.append(0x5C); sink.append(UInt8(ascii: "t"))
        case 0x00..<0x20:
            sink.append(0x5C)
            sink.append(UInt8(ascii: "u"))
            sink.append(UInt8(ascii: "0"))
            sink.append(UInt8(ascii: "0"))
            sink.append(JSONText.hexDigit(byte >> 4))
            sink.append(JSONText.hexDigit(byte & 0x0F))
        default: sink.append(byte)
        }
    }
}

/// Small writers shared by the event writer and its tests.
public enum JSONText {
    @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? nibble &+ 0x30 : nibble &+ 0x57
    }

    /// Appends `bytes[range]` as a complete JSON string, quotes included.
    static func appendString<Sink: ByteSink>(_ bytes: Span<UInt8>, _ range: Range<Int>, to sink: inout Sink) {
        sink.append(0x22)
        var escaper = JSONStringEscaper()
        escaper.append(bytes, range, to: &sink)
        escaper.finish(to: &sink)
        sink.append(0x22)
    }

    /// Appends `bytes` as a complete JSON string, quotes included.
    static func appendString<Sink: ByteSink>(_ bytes: Span<UInt8>, to sink: inout Sink) {
        appendString(bytes, 0..<bytes.count, to: &sink)
    }

    /// Appends `bytes` escaped as the content of a JSON string, without the quotes.
    public static func appendStringContent<Sink: ByteSink>(_ bytes: Span<UInt8>, to sink: inout Sink) {
        var escaper = JSONStringEscaper()
        escaper.append(bytes, 0..<bytes.count, to: &sink)
        escaper.finish(to: &sink)
    }

    /// `text` as JSON string content (no quotes), for values prepared at load time.
    static func escaped(_ text: String) -> [UInt8] {
        var output: [UInt8] = []
        let utf8 = Array(text.utf8)
        var escaper = JSONStringEscaper()
        escaper.append(utf8.span, to: &output)
        escaper.finish(to: &output)
        return output
    }

    /// Appends a non-negative integer in decimal; a negative one (a clock before 1970) as 0.
    static func appendDecimal<Sink: ByteSink>(_ value: Int, to sink: inout Sink) {
        ResponseHead.appendDecimal(max(0, value), to: &sink)
    }

    /// Appends the time `epochMilliseconds` as API Gateway's `requestTime` writes it, in the
    /// Common Log Format: `dd/MMM/yyyy:HH:mm:ss +0000` (always UTC).
    public static func appendCommonLogTime<Sink: ByteSink>(epochMilliseconds: Int, to sink: inout Sink) {
        let seconds = max(0, epochMilliseconds) / 1000
        let days = seconds / 86_400
        let secondOfDay = seconds % 86_400
        let (year, month, day) = DateLine.civilDate(daysSinceEpoch: days)
        append2(day, to: &sink)
        sink.append(0x2F)
        let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
        let monthStart = (month - 1) * 3
        months.withUTF8Buffer { names in
            sink.append(names[monthStart])
            sink.append(names[monthStart + 1])
            sink.append(names[monthStart + 2])
        }
        sink.append(0x2F)
        append2(year / 100, to: &sink)
        append2(year % 100, to: &sink)
        sink.append(0x3A)
        append2(secondOfDay / 3600, to: &sink)
        sink.append(0x3A)
        append2(secondOfDay / 60 % 60, to: &sink)
        sink.append(0x3A)
        append2(secondOfDay % 60, to: &sink)
        sink.append(0x20)
        sink.append(UInt8(ascii: "+"))
        sink.append(UInt8(ascii: "0"))
        sink.append(UInt8(ascii: "0"))
        sink.append(UInt8(ascii: "0"))
        sink.append(UInt8(ascii: "0"))
    }

    private static func append2<Sink: ByteSink>(_ value: Int, to sink: inout Sink) {
        sink.append(UInt8(truncatingIfNeeded: 48 + value / 10))
        sink.append(UInt8(truncatingIfNeeded: 48 + value % 10))
    }
}

/// Base64 (RFC 4648 §4, standard alphabet, padded), encoded as bytes arrive: up to 2 bytes are
/// carried until a 3-byte group is complete.
struct Base64Encoder: Sendable, Equatable {
    private var carry0: UInt8 = 0
    private var carry1: UInt8 = 0
    private(set) var carryCount: UInt8 = 0

    static func digit(_ value: UInt8) -> UInt8 {
        switch value {
        case 0..<26: value &+ 0x41
        case 26..<52: value &+ (0x61 &- 26)
        case 52..<62: value &- 52 &+ 0x30
        case 62: 0x2B
        default: 0x2F
        }
    }

    @inline(__always)
    private static func appendGroup<Sink: ByteSink>(_ a: UInt8, _ b: UInt8, _ c: UInt8, to sink: inout Sink) {
        sink.append(digit(a >> 2))
        sink.append(digit((a & 0x03) << 4 | b >> 4))
        sink.append(digit((b & 0x0F) << 2 | c >> 6))
        sink.append(digit(c & 0x3F))
    }

    mutating func append<Sink: ByteSink>(_ bytes: Span<UInt8>, to sink: inout Sink) {
        var index = 0
        let count = bytes.count
        // Complete the carried group first.
        while carryCount > 0 && index < count {
            if carryCount == 1 {
                carry1 = bytes[index]
                carryCount = 2
                index += 1
            } else {
                Base64Encoder.appendGroup(carry0, carry1, bytes[index], to: &sink)
                carryCount = 0
                index += 1
            }
        }
        while index + 3 <= count {
            Base64Encoder.appendGroup(bytes[index], bytes[index + 1], bytes[index + 2], to: &sink)
            index += 3
        }
        if index < count {
            carry0 = bytes[index]
            carryCount = 1
            index += 1
            if index < count {
                carry1 = bytes[index]
                carryCount = 2
            }
        }
    }

    /// Writes the carried bytes with `=` padding.
    mutating func finish<Sink: ByteSink>(to sink: inout Sink) {
        switch carryCount {
        case 1:
            sink.append(Base64Encoder.digit(carry0 >> 2))
            sink.append(Base64Encoder.digit((carry0 & 0x03) << 4))
            sink.append(0x3D)
            sink.append(0x3D)
        case 2:
            sink.append(Base64Encoder.digit(carry0 >> 2))
            sink.append(Base64Encoder.digit((carry0 & 0x03) << 4 | carry1 >> 4))
            sink.append(Base64Encoder.digit((carry1 & 0x0F) << 2))
            sink.append(0x3D)
        default: break
        }
        carryCount = 0
    }
}

/// A `ByteSink` that only counts: run a writer into it to learn how many bytes it would write
/// (for instance to check that an event's prefix fits the output buffer before writing it).
public struct ByteCounter: ByteSink, Sendable {
    public private(set) var count = 0

    public init() {}

    public mutating func append(_ byte: UInt8) { count += 1 }
    public mutating func append(_ bytes: Span<UInt8>) { count += bytes.count }
}
