/// A strict JSON (RFC 8259) scanner over one complete text in a `Span`: it validates as it goes
/// and reports where values are, never copying them. Strings must be well-formed UTF-8 with
/// valid escapes and no raw control characters; numbers follow the RFC's grammar exactly; only
/// SP, HTAB, LF and CR count as whitespace (no byte order mark); nesting deeper than `depthMax`
/// is refused, so a hostile text cannot exhaust the stack.
public struct JSONScanner {
    /// The deepest nesting accepted: the outermost object or array is depth 1.
    public static let depthMax = 64

    public enum Kind: UInt8, Equatable {
        case string, number, trueLiteral, falseLiteral, null, object, array
    }

    /// A value just scanned: its kind, its whole text, and for a string the content between its
    /// quotes (escapes not decoded) and whether it holds any escape.
    public struct Value {
        public var kind: Kind
        public var range: Range<Int>
        public var content: Range<Int>
        public var hasEscapes: Bool

        public init(kind: Kind, range: Range<Int>, content: Range<Int>, hasEscapes: Bool) {
            self.kind = kind
            self.range = range
            self.content = content
            self.hasEscapes = hasEscapes
        }
    }

    public var position: Int
    public let end: Int

    public init(end: Int) {
        position = 0
        self.end = end
    }

    /// The byte at `position`, or nil at the end.
    @inline(__always)
    public func peek(_ bytes: Span<UInt8>) -> UInt8? {
        position < end ? bytes[position] : nil
    }

    @inline(__always)
    public mutating func skipWhitespace(_ bytes: Span<UInt8>) {
        while position < end {
            let byte = bytes[position]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            position += 1
        }
    }

    /// Consumes `byte` (after whitespace) if it is next.
    @inline(__always)
    public mutating func consume(_ byte: UInt8, _ bytes: Span<UInt8>) -> Bool {
        skipWhitespace(bytes)
        if position < end && bytes[position] == byte {
            position += 1
            return true
        }
        return false
    }

    /// Scans the value at `position` (whitespace already skipped), containers included, which
    /// are validated to the end; `depth` is the depth of the container the value is in (0 at the
    /// top). Nil when the text is not valid JSON there.
    public mutating func scanValue(_ bytes: Span<UInt8>, depth: Int) -> Value? {
        guard position < end else { return nil }
        let start = position
        switch bytes[position] {
        case 0x22:
            guard let (content, hasEscapes) = scanString(bytes) else { return nil }
            return Value(kind: .string, range: start..<position, content: content, hasEscapes: hasEscapes)
        case 0x7B:
            guard skipObject(bytes, depth: depth + 1) else { return nil }
            return Value(kind: .object, range: start..<position, content: start..<position, hasEscapes: false)
        case 0x5B:
            guard skipArray(bytes, depth: depth + 1) else { return nil }
            return Value(kind: .array, range: start..<position, content: start..<position, hasEscapes: false)
        case 0x74:
            guard scanLiteral(bytes, JSONScanner.trueBytes) else { return nil }
            return Value(kind: .trueLiteral, range: start..<position, content: start..<position, hasEscapes: false)
        case 0x66:
            guard scanLiteral(bytes, JSONScanner.falseBytes) else { return nil }
            return Value(kind: .falseLiteral, range: start..<position, content: start..<position, hasEscapes: false)
        case 0x6E:
            guard scanLiteral(bytes, JSONScanner.nullBytes) else { return nil }
            return Value(kind: .null, range: start..<position, content: start..<position, hasEscapes: false)
        default:
            guard scanNumber(bytes) else { return nil }
            return Value(kind: .number, range: start..<position, content: start..<position, hasEscapes: false)
        }
    }

    /// Skips the object at `position`, which is at `depth`.
    public mutating func skipObject(_ bytes: Span<UInt8>, depth: Int) -> Bool {
        guard depth <= JSONScanner.depthMax else { return false }
        position += 1  // {
        if consume(0x7D, bytes) { return true }
        while true {
            skipWhitespace(bytes)
            guard peek(bytes) == 0x22, scanString(bytes) != nil, consume(0x3A, bytes) else { return false }
            skipWhitespace(bytes)
            guard scanValue(bytes, depth: depth) != nil else { return false }
            if consume(0x2C, bytes) { continue }
            return consume(0x7D, bytes)
        }
    }

    /// Skips the array at `position`, which is at `depth`.
    public mutating func skipArray(_ bytes: Span<UInt8>, depth: Int) -> Bool {
        guard depth <= JSONScanner.depthMax else { return false }
        position += 1  // [
        if consume(0x5D, bytes) { return true }
        while true {
            skipWhitespace(bytes)
            guard scanValue(bytes, depth: depth) != nil else { return false }
            if consume(0x2C, bytes) { continue }
            return consume(0x5D, bytes)
        }
    }

    /// Scans the string at `position` (its opening quote) and returns the range between its
    /// quotes and whether it holds escapes.
    public mutating func scanString(_ bytes: Span<UInt8>) -> (Range<Int>, Bool)? {
        position += 1  // "
        let start = position
        var hasEscapes = false
        while position < end {
            let byte = bytes[position]
            if byte >= 0x20 && byte < 0x80 {
                if byte == 0x22 {
                    let content = start..<position
                    position += 1
                    return (content, hasEscapes)
                }
                if byte == 0x5C {
                    hasEscapes = true
                    guard position + 1 < end else { return nil }
                    switch bytes[position + 1] {
                    case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74:
                        position += 2
                    case 0x75:
                        guard position + 6 <= end, JSONScanner.hex4(bytes, position + 2) != nil else { return nil }
                        position += 6
                    default:
                        return nil
                    }
                } else {
                    position += 1
                }
            } else if byte >= 0x80 {
                let length = UTF8Sequence.wellFormedLength(bytes, at: position, end: end)
                guard length > 0 else { return nil }
                position += length
            } else {
                return nil  // A raw control character.
            }
        }
        return nil  // Unterminated.
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    public mutating func scanNumber(_ bytes: Span<UInt8>) -> Bool {
        if peek(bytes) == 0x2D { position += 1 }
        guard let first = peek(bytes), isDigit(first) else { return false }
        position += 1
        if first != 0x30 {
            while let byte = peek(bytes), isDigit(byte) { position += 1 }
        }
        if peek(bytes) == 0x2E {
            position += 1
            guard let byte = peek(bytes), isDigit(byte) else { return false }
            while let byte = peek(bytes), isDigit(byte) { position += 1 }
        }
        if let byte = peek(bytes), byte == 0x65 || byte == 0x45 {
            position += 1
            if let sign = peek(bytes), sign == 0x2B || sign == 0x2D { position += 1 }
            guard let byte = peek(bytes), isDigit(byte) else { return false }
            while let byte = peek(bytes), isDigit(byte) { position += 1 }
        }
        return true
    }

    private mutating func scanLiteral(_ bytes: Span<UInt8>, _ literal: UInt64) -> Bool {
        // The literal's bytes packed little-endian, its length in the top byte.
        let length = Int(literal >> 56)
        guard end - position >= length else { return false }
        var offset = 0
        while offset < length {
            guard bytes[position + offset] == UInt8(truncatingIfNeeded: literal >> (8 * UInt64(offset))) else {
                return false
            }
            offset += 1
        }
        position += length
        return true
    }

    private static let trueBytes: UInt64 = 4 << 56 | 0x6575_7274
    private static let falseBytes: UInt64 = 5 << 56 | 0x65_736C_6166
    private static let nullBytes: UInt64 = 4 << 56 | 0x6C6C_756E

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    /// The value of the 4 hex digits at `index`, or nil.
    public static func hex4(_ bytes: Span<UInt8>, _ index: Int) -> UInt32? {
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte &- 0x30
            case 0x41...0x46: digit = byte &- 0x41 &+ 10
            case 0x61...0x66: digit = byte &- 0x61 &+ 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}

/// The bytes a JSON string stands for, one at a time: escapes decoded, `\uXXXX` (and surrogate
/// pairs) encoded as UTF-8. A lone surrogate becomes U+FFFD, as writing it as UTF-8 requires. The
/// range must be the content of a string `JSONScanner` accepted (or a literal, whose bytes come
/// back as they are).
public struct UnescapedBytes {
    private var position: Int
    private let end: Int
    /// Bytes of an encoded code point still to return, next lowest.
    private var pending: UInt32 = 0
    private var pendingCount = 0

    public init(_ range: Range<Int>) {
        position = range.lowerBound
        end = range.upperBound
    }

    @inline(__always)
    public mutating func next(_ bytes: Span<UInt8>) -> UInt8? {
        if pendingCount > 0 {
            let byte = UInt8(truncatingIfNeeded: pending)
            pending >>= 8
            pendingCount -= 1
            return byte
        }
        guard position < end else { return nil }
        let byte = bytes[position]
        if byte != 0x5C {
            position += 1
            return byte
        }
        let (scalar, length) = UnescapedBytes.decodeEscape(bytes, at: position, end: end)
        position += length
        if scalar < 0x80 { return UInt8(truncatingIfNeeded: scalar) }
        let (encoded, count) = UnescapedBytes.utf8(scalar)
        pending = encoded >> 8
        pendingCount = count - 1
        return UInt8(truncatingIfNeeded: encoded)
    }

    /// The code point of the escape at `index` (a backslash) and how many bytes it spans.
    public static func decodeEscape(_ bytes: Span<UInt8>, at index: Int, end: Int) -> (scalar: UInt32, length: Int) {
        switch bytes[index + 1] {
        case 0x62: return (0x08, 2)
        case 0x66: return (0x0C, 2)
        case 0x6E: return (0x0A, 2)
        case 0x72: return (0x0D, 2)
        case 0x74: return (0x09, 2)
        case 0x75:
            let unit = JSONScanner.hex4(bytes, index + 2) ?? 0xFFFD
            if unit >= 0xD800 && unit <= 0xDBFF {
                if index + 12 <= end && bytes[index + 6] == 0x5C && bytes[index + 7] == 0x75,
                   let low = JSONScanner.hex4(bytes, index + 8), low >= 0xDC00 && low <= 0xDFFF {
                    return (0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), 12)
                }
                return (0xFFFD, 6)
            }
            if unit >= 0xDC00 && unit <= 0xDFFF { return (0xFFFD, 6) }
            return (unit, 6)
        default: return (UInt32(bytes[index + 1]), 2)  // \" \\ \/
        }
    }

    /// `scalar` in UTF-8, first byte lowest, and its length.
    public static func utf8(_ scalar: UInt32) -> (UInt32, Int) {
        switch scalar {
        case 0..<0x80: return (scalar, 1)
        case 0x80..<0x800:
            return ((0xC0 | scalar >> 6) | (0x80 | scalar & 0x3F) << 8, 2)
        case 0x800..<0x10000:
            return ((0xE0 | scalar >> 12) | (0x80 | scalar >> 6 & 0x3F) << 8 | (0x80 | scalar & 0x3F) << 16, 3)
        default:
            return ((0xF0 | scalar >> 18) | (0x80 | scalar >> 12 & 0x3F) << 8 | (0x80 | scalar >> 6 & 0x3F) << 16
                | (0x80 | scalar & 0x3F) << 24, 4)
        }
    }
}

/// UTF-8 as RFC 3629 defines it well-formed.
public enum UTF8Sequence {
    /// The length of the well-formed UTF-8 sequence of 2 to 4 bytes at `index`, complete before
    /// `end`; 0 when the bytes there are ill-formed or cut off by `end`.
    @inline(__always)
    public static func wellFormedLength(_ bytes: Span<UInt8>, at index: Int, end: Int) -> Int {
        let first = bytes[index]
        var length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch first {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return 0
        }
        guard end - index >= length else { return 0 }
        let second = bytes[index + 1]
        guard second >= low && second <= high else { return 0 }
        var offset = 2
        while offset < length {
            let byte = bytes[index + offset]
            guard byte >= 0x80 && byte <= 0xBF else { return 0 }
            offset += 1
        }
        return length
    }
}
