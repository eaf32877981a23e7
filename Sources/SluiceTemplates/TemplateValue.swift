/// Where a value's bytes are: the template's text, the request's inputs, or the renderer's work
/// area (strings a template computes).
enum Space: UInt8 {
    case source, input, work
}

/// Bytes in one of the spaces.
struct Bytes {
    var space: Space
    var start: Int32
    var end: Int32

    var count: Int { Int(end - start) }
    var range: Range<Int> { Int(start)..<Int(end) }

    init(_ space: Space, _ range: Range<Int>) {
        self.space = space
        start = Int32(range.lowerBound)
        end = Int32(range.upperBound)
    }

    init(_ text: TextRange) {
        space = .source
        start = text.start
        end = text.end
    }
}

/// A template's values, as Java objects behave in Velocity: strings, numbers (Java's `Integer`
/// and `Long` as `integer`, `Double` as `number`), booleans, maps and lists. JSON from the request
/// stays text until a template reads into it.
enum Value {
    case null
    case boolean(Bool)
    case integer(Int64)
    case number(Double)
    case string(Bytes)
    /// A JSON object or array (`$input.path('$')`, `$util.parseJson(…)`), read in place.
    case json(Bytes, isObject: Bool)
    /// A list or map the template made, by index in the renderer's containers.
    case container(Int32)
    /// A `#define` block.
    case block(Block)
    /// `$input.params()` (kind -1) or one kind of it: 0 path, 1 querystring, 2 header.
    case parameters(Int8)
    case stageVariables

    var isNull: Bool { if case .null = self { true } else { false } }

    var isTrue: Bool {
        switch self {
        case .null: false
        case .boolean(let value): value
        default: true
        }
    }
}

/// A list or a map a template built (`[1, 2]`, `{"a": 1}`, `keySet()`, `split`), or a JSON one
/// a template changed.
struct Container {
    var isMap: Bool
    var keys: [Value]
    var values: [Value]
}

/// Java's `Double.toString`: the shortest digits that read back as the value, in plain notation
/// from 10^-3 up to 10^7 and in computerized scientific notation (`1.0E7`) outside.
enum JavaNumber {
    static func format(_ value: Double) -> [UInt8] {
        if value.isNaN { return Array("NaN".utf8) }
        if value.isInfinite { return Array((value < 0 ? "-Infinity" : "Infinity").utf8) }
        if value == 0 { return Array((value.sign == .minus ? "-0.0" : "0.0").utf8) }
        // Swift's description gives the shortest round-tripping digits; only the notation differs.
        let text = Array(value.magnitude.description.utf8)
        var digits: [UInt8] = []
        var exponent = 0
        var seenPoint = false
        var index = 0
        var pointPosition = 0
        while index < text.count {
            let byte = text[index]
            if byte == 0x2E {
                seenPoint = true
            } else if byte == 0x65 || byte == 0x45 {
                exponent = Int(String(decoding: text[(index + 1)...], as: UTF8.self)) ?? 0
                break
            } else {
                digits.append(byte)
                if !seenPoint { pointPosition += 1 }
            }
            index += 1
        }
        // Normalize to digits d1 d2 … with the decimal point after `pointPosition` digits.
        var decimalExponent = pointPosition + exponent
        while digits.count > 1 && digits.first == 0x30 {
            digits.removeFirst()
            decimalExponent -= 1
        }
        while digits.count > 1 && digits.last == 0x30 { digits.removeLast() }
        var result: [UInt8] = value < 0 ? [0x2D] : []
        let magnitude = value.magnitude
        if magnitude >= 1e-3 && magnitude < 1e7 {
            if decimalExponent <= 0 {
                result.append(contentsOf: [0x30, 0x2E])
                result.append(contentsOf: repeatElement(0x30, count: -decimalExponent))
                result.append(contentsOf: digits)
            } else if decimalExponent >= digits.count {
                result.append(contentsOf: digits)
                result.append(contentsOf: repeatElement(0x30, count: decimalExponent - digits.count))
                result.append(contentsOf: [0x2E, 0x30])
            } else {
                result.append(contentsOf: digits[..<decimalExponent])
                result.append(0x2E)
                result.append(contentsOf: digits[decimalExponent...])
            }
        } else {
            result.append(digits[0])
            result.append(0x2E)
            if digits.count > 1 { result.append(contentsOf: digits[1...]) } else { result.append(0x30) }
            result.append(0x45)
            result.append(contentsOf: String(decimalExponent - 1).utf8)
        }
        return result
    }
}
