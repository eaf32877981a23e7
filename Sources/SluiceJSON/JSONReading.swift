/// Reading values out of a text `JSONScanner` accepted: an object's members one by one, strings
/// compared or copied with their escapes decoded, integers. Nothing here allocates but the
/// copies asked for.
public struct JSONMembers {
    private var scanner: JSONScanner
    private let depth: Int
    private var first = true
    private var done = false

    /// The members of the object whose text is `object` (a `JSONScanner.Value` of kind object).
    public init(_ object: Range<Int>, depth: Int = 1) {
        scanner = JSONScanner(end: object.upperBound)
        scanner.position = object.lowerBound + 1
        self.depth = depth
    }

    /// The next member's key (a string value) and value; nil after the last.
    public mutating func next(_ bytes: Span<UInt8>) -> (key: JSONScanner.Value, value: JSONScanner.Value)? {
        guard !done else { return nil }
        if first {
            first = false
            if scanner.consume(0x7D, bytes) {
                done = true
                return nil
            }
        } else if !scanner.consume(0x2C, bytes) {
            done = true
            return nil
        }
        scanner.skipWhitespace(bytes)
        guard let key = scanner.scanValue(bytes, depth: depth), key.kind == .string, scanner.consume(0x3A, bytes) else {
            done = true
            return nil
        }
        scanner.skipWhitespace(bytes)
        guard let value = scanner.scanValue(bytes, depth: depth) else {
            done = true
            return nil
        }
        return (key, value)
    }
}

/// The elements of an array, one by one.
public struct JSONElements {
    private var scanner: JSONScanner
    private let depth: Int
    private var first = true
    private var done = false

    public init(_ array: Range<Int>, depth: Int = 1) {
        scanner = JSONScanner(end: array.upperBound)
        scanner.position = array.lowerBound + 1
        self.depth = depth
    }

    public mutating func next(_ bytes: Span<UInt8>) -> JSONScanner.Value? {
        guard !done else { return nil }
        if first {
            first = false
            if scanner.consume(0x5D, bytes) {
                done = true
                return nil
            }
        } else if !scanner.consume(0x2C, bytes) {
            done = true
            return nil
        }
        scanner.skipWhitespace(bytes)
        guard let value = scanner.scanValue(bytes, depth: depth) else {
            done = true
            return nil
        }
        return value
    }
}

extension JSONScanner {
    /// The whole text as one value (whitespace around it allowed), or nil when it is not JSON.
    public static func document(_ bytes: Span<UInt8>) -> Value? {
        var scanner = JSONScanner(end: bytes.count)
        scanner.skipWhitespace(bytes)
        guard let value = scanner.scanValue(bytes, depth: 0) else { return nil }
        scanner.skipWhitespace(bytes)
        return scanner.position == bytes.count ? value : nil
    }

    /// Whether a string value's decoded content is `expected`.
    public static func string(_ bytes: Span<UInt8>, _ value: Value, equals expected: Span<UInt8>) -> Bool {
        guard value.kind == .string else { return false }
        if !value.hasEscapes {
            guard value.content.count == expected.count else { return false }
            var offset = 0
            while offset < expected.count {
                if bytes[value.content.lowerBound + offset] != expected[offset] { return false }
                offset += 1
            }
            return true
        }
        var decoded = UnescapedBytes(value.content)
        var offset = 0
        while let byte = decoded.next(bytes) {
            guard offset < expected.count, byte == expected[offset] else { return false }
            offset += 1
        }
        return offset == expected.count
    }

    /// Appends a string value's decoded content (or a literal's text) to `output`.
    public static func appendContent(_ bytes: Span<UInt8>, _ value: Value, to output: inout [UInt8]) {
        var decoded = UnescapedBytes(value.content)
        while let byte = decoded.next(bytes) { output.append(byte) }
    }

    /// A number value's integer part (`1700000000`, `1.7e9` is refused, `12.5` gives 12), or nil.
    public static func integer(_ bytes: Span<UInt8>, _ value: Value) -> Int64? {
        guard value.kind == .number else { return nil }
        var result: Int64 = 0
        var offset = value.range.lowerBound
        let negative = bytes[offset] == UInt8(ascii: "-")
        if negative { offset += 1 }
        while offset < value.range.upperBound {
            let byte = bytes[offset]
            if byte == UInt8(ascii: ".") { break }
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            let (times, overflow) = result.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            let (sum, carried) = times.addingReportingOverflow(Int64(byte - 0x30))
            guard !carried else { return nil }
            result = sum
            offset += 1
        }
        // A fraction is dropped, but an exponent after it would change the value.
        while offset < value.range.upperBound {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { return nil }
            offset += 1
        }
        return negative ? -result : result
    }
}
