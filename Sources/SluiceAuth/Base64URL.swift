/// base64url without padding (RFC 4648 §5, as JWS uses it, RFC 7515 §2).
public enum Base64URL {
    /// The value of one base64url digit, or nil.
    @inline(__always)
    static func value(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(byte - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(byte - UInt8(ascii: "a")) + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0")) + 52
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: nil
        }
    }

    /// Decodes `text` into `output` (replacing what it held). False when `text` is not base64url
    /// (padding, other characters, a length no encoding has, or bits left over that are not zero).
    public static func decode(_ text: Span<UInt8>, into output: inout [UInt8]) -> Bool {
        output.removeAll(keepingCapacity: true)
        guard text.count % 4 != 1 else { return false }
        var accumulator: UInt32 = 0
        var bits = 0
        for offset in 0..<text.count {
            guard let digit = value(text[offset]) else { return false }
            accumulator = accumulator << 6 | digit
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        return accumulator == 0
    }

    static let digits: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Encodes `bytes` (tests, and signing later).
    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index + 3 <= bytes.count {
            let word = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] { output.append(digits[Int(word >> UInt32(shift) & 63)]) }
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let word = UInt32(bytes[index]) << 16
            output.append(digits[Int(word >> 18 & 63)])
            output.append(digits[Int(word >> 12 & 63)])
        } else if rest == 2 {
            let word = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            output.append(digits[Int(word >> 18 & 63)])
            output.append(digits[Int(word >> 12 & 63)])
            output.append(digits[Int(word >> 6 & 63)])
        }
        return output
    }
}
