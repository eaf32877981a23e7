/// Byte-level helpers for HTTP syntax, shared by the parsers here and usable by other modules
/// (the router compares hosts, authorizers look up headers). Everything works on bytes: nothing
/// here builds a `String` or allocates.
public enum HTTPBytes {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let comma: UInt8 = 0x2C
    static let semicolon: UInt8 = 0x3B
    static let slash: UInt8 = 0x2F
    static let question: UInt8 = 0x3F
    static let hash: UInt8 = 0x23
    static let asterisk: UInt8 = 0x2A
    static let equals: UInt8 = 0x3D
    static let quote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C
    static let delete: UInt8 = 0x7F

    // The `tchar` set of RFC 9110 §5.6.2 as two 64-bit masks (bytes 0–63 and 64–127):
    // "!" "#" "$" "%" "&" "'" "*" "+" "-" "." "^" "_" "`" "|" "~" DIGIT ALPHA.
    // A unit test checks these against the RFC's list, byte by byte.
    static let tokenMaskLow: UInt64 = 0x03FF_6CFA_0000_0000
    static let tokenMaskHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    /// FNV-1a, 64 bits: a checksum of a journal, a hash of a cache key.
    public static func fnv1a(_ bytes: Span<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for position in 0..<bytes.count {
            hash = (hash ^ UInt64(bytes[position])) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// Whether `byte` is a `tchar` (RFC 9110 §5.6.2), the characters of methods, header names and
    /// transfer codings.
    public static func isTokenByte(_ byte: UInt8) -> Bool {
        if byte < 64 { return (tokenMaskLow >> UInt64(byte)) & 1 == 1 }
        if byte < 128 { return (tokenMaskHigh >> UInt64(byte &- 64)) & 1 == 1 }
        return false
    }

    /// Whether `byte` may appear in a field value (RFC 9110 §5.5): VCHAR, obs-text, SP or HTAB.
    /// Every other control character, NUL, CR and LF included, is refused.
    public static func isFieldValueByte(_ byte: UInt8) -> Bool {
        (byte >= space && byte != delete) || byte == tab
    }

    /// Skips whole 8-byte words in which every byte is at least `lowest` and none is DEL (0x7F),
    /// from `index`, and returns where a byte-at-a-time scan must resume: at the first word holding
    /// another byte, or where fewer than 8 bytes remain before `limit`. With `lowest` 0x20 this
    /// skips plain field-value bytes (VCHAR, SP, obs-text) and stops near HTAB, CR or a forbidden
    /// control byte; with 0x21 it skips request-target bytes and stops near the space after it.
    ///
    /// Each word is tested with the classic SWAR tricks ("has a byte less than n", "has a zero
    /// byte" after XOR with 0x7F). They can flag a clean byte only above a byte that really
    /// matches, never miss one, so a flagged word is left to the exact byte loop and no byte is
    /// misjudged. This keeps long values (cookies, tokens) at about a third of a nanosecond per byte.
    static func skipWords(_ bytes: Span<UInt8>, from index: Int, limit: Int, lowest: UInt8) -> Int {
        precondition(lowest <= 0x80, "the less-than test needs lowest <= 0x80")
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let lowests = ones &* UInt64(lowest)
        let deletes = ones &* 0x7F
        var index = index
        while index + 8 <= limit {
            let word = loadWord(bytes, index)
            let below = (word &- lowests) & ~word & highs
            let notDelete = word ^ deletes
            let delete = (notDelete &- ones) & ~notDelete & highs
            if below | delete != 0 { break }
            index += 8
        }
        return index
    }

    /// The 8 bytes at `index`, little-endian. The optimizer merges the byte loads into one, and
    /// the single check up front lets it drop the eight per-byte bounds checks.
    @inline(__always)
    static func loadWord(_ bytes: Span<UInt8>, _ index: Int) -> UInt64 {
        precondition(index >= 0 && index <= bytes.count &- 8, "word out of bounds")
        return UInt64(bytes[index]) | UInt64(bytes[index + 1]) << 8 | UInt64(bytes[index + 2]) << 16
            | UInt64(bytes[index + 3]) << 24 | UInt64(bytes[index + 4]) << 32
            | UInt64(bytes[index + 5]) << 40 | UInt64(bytes[index + 6]) << 48
            | UInt64(bytes[index + 7]) << 56
    }

    /// Whether `byte` is SP or HTAB, the optional whitespace (OWS) around field values.
    public static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    public static func isDigit(_ byte: UInt8) -> Bool {
        byte &- 0x30 < 10
    }

    /// The value of a hexadecimal digit, or nil when `byte` is not one.
    public static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: Int(byte &- 0x30)
        case 0x41...0x46: Int(byte &- 0x41 &+ 10)
        case 0x61...0x66: Int(byte &- 0x61 &+ 10)
        default: nil
        }
    }

    /// ASCII lowercase of `byte`; bytes other than `A`–`Z` are returned unchanged.
    /// Where a Host value's name ends: before `:port`; an IPv6 literal keeps its brackets.
    public static func hostEnd(_ host: Span<UInt8>) -> Int {
        var index = 0
        if host.count > 0 && host[0] == UInt8(ascii: "[") {
            while index < host.count && host[index] != UInt8(ascii: "]") { index += 1 }
            return min(index + 1, host.count)
        }
        while index < host.count && host[index] != UInt8(ascii: ":") { index += 1 }
        return index
    }

    public static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- 0x41 < 26 ? byte | 0x20 : byte
    }

    /// Whether `bytes[range]` equals `lowercasedName` ignoring ASCII case. `lowercasedName` must
    /// already be lowercase (as the constants used for header names are), which halves the work.
    public static func equalsIgnoringCase(
        _ bytes: Span<UInt8>, _ range: Range<Int>, lowercased lowercasedName: Span<UInt8>
    ) -> Bool {
        guard range.count == lowercasedName.count else { return false }
        var index = 0
        while index < lowercasedName.count {
            if lowercased(bytes[range.lowerBound + index]) != lowercasedName[index] { return false }
            index += 1
        }
        return true
    }

    /// Whether `a[aRange]` equals `b[bRange]` ignoring ASCII case (both sides are folded).
    public static func equalsIgnoringCase(
        _ a: Span<UInt8>, _ aRange: Range<Int>, _ b: Span<UInt8>, _ bRange: Range<Int>
    ) -> Bool {
        guard aRange.count == bRange.count else { return false }
        var index = 0
        while index < aRange.count {
            if lowercased(a[aRange.lowerBound + index]) != lowercased(b[bRange.lowerBound + index]) {
                return false
            }
            index += 1
        }
        return true
    }

    /// Whether `bytes[range]` equals `expected` exactly (case-sensitive), as methods compare.
    public static func equals(_ bytes: Span<UInt8>, _ range: Range<Int>, _ expected: Span<UInt8>) -> Bool {
        guard range.count == expected.count else { return false }
        var index = 0
        while index < expected.count {
            if bytes[range.lowerBound + index] != expected[index] { return false }
            index += 1
        }
        return true
    }

    /// `range` without leading and trailing SP and HTAB.
    public static func trimmingWhitespace(_ bytes: Span<UInt8>, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper && isWhitespace(bytes[lower]) { lower += 1 }
        while upper > lower && isWhitespace(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    /// The first label of a Host value in `host` (up to its first `.` or `:`): API Gateway's
    /// `domainPrefix`.
    public static func firstLabel(_ bytes: Span<UInt8>, _ host: Range<Int>) -> Range<Int> {
        var end = host.lowerBound
        while end < host.upperBound && bytes[end] != 0x2E && bytes[end] != 0x3A { end += 1 }
        return host.lowerBound..<end
    }
}

/// Walks the elements of a comma-separated field value (`#element` in RFC 9110 §5.6.1) without
/// allocating: each call to `next` returns the next element with its surrounding whitespace
/// trimmed. Empty elements (`a,,b`, a trailing comma) are returned as empty ranges so that the
/// caller decides whether they are acceptable. Quoted strings are not special here: the fields
/// this module interprets (`Connection`, `Content-Length`, `Transfer-Encoding`, `Expect`) carry
/// none that matter for framing.
public struct FieldListIterator: Sendable {
    private var position: Int
    private let end: Int
    private var finished = false

    public init(_ range: Range<Int>) {
        position = range.lowerBound
        end = range.upperBound
    }

    public mutating func next(in bytes: Span<UInt8>) -> Range<Int>? {
        if finished { return nil }
        let start = position
        while position < end && bytes[position] != HTTPBytes.comma { position += 1 }
        let element = HTTPBytes.trimmingWhitespace(bytes, start..<position)
        if position < end {
            position += 1  // Skip the comma; an element (possibly empty) follows it.
        } else {
            finished = true
        }
        return element
    }
}
