/// Base64 (RFC 4648 §4, with padding) for payload conversions: bytes in, bytes appended to an
/// array whose capacity the caller reserved, so that steady use allocates nothing.
public enum Base64 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The length of the encoding of `count` bytes.
    public static func encodedCount(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    public static func encode(_ bytes: Span<UInt8>, into output: inout [UInt8]) {
        var index = 0
        while index + 3 <= bytes.count {
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            output.append(alphabet[Int((group >> 18) & 63)])
            output.append(alphabet[Int((group >> 12) & 63)])
            output.append(alphabet[Int((group >> 6) & 63)])
            output.append(alphabet[Int(group & 63)])
            index += 3
        }
        let rest = bytes.count - index
        guard rest > 0 else { return }
        var group = UInt32(bytes[index]) << 16
        if rest == 2 { group |= UInt32(bytes[index + 1]) << 8 }
        output.append(alphabet[Int((group >> 18) & 63)])
        output.append(alphabet[Int((group >> 12) & 63)])
        output.append(rest == 2 ? alphabet[Int((group >> 6) & 63)] : UInt8(ascii: "="))
        output.append(UInt8(ascii: "="))
    }

    /// Decodes `text` (padding optional; no other byte outside the alphabet, whitespace
    /// included). False, with `output` as it was, when `text` is not base64.
    public static func decode(_ text: Span<UInt8>, into output: inout [UInt8]) -> Bool {
        let start = output.count
        var end = text.count
        if end > 0 && text[end - 1] == UInt8(ascii: "=") { end -= 1 }
        if end > 0 && text[end - 1] == UInt8(ascii: "=") { end -= 1 }
        // Padding completes a group of four; without it, a lone character is no byte.
        guard end % 4 != 1, text.count == end || text.count % 4 == 0 else { return false }
        var group: UInt32 = 0
        var count = 0
        for index in 0..<end {
            guard let value = Self.value(text[index]) else {
                output.removeSubrange(start...)
                return false
            }
            group = group << 6 | UInt32(value)
            count += 1
            if count == 4 {
                output.append(UInt8(truncatingIfNeeded: group >> 16))
                output.append(UInt8(truncatingIfNeeded: group >> 8))
                output.append(UInt8(truncatingIfNeeded: group))
                group = 0
                count = 0
            }
        }
        if count == 2 {
            output.append(UInt8(truncatingIfNeeded: group >> 4))
        } else if count == 3 {
            output.append(UInt8(truncatingIfNeeded: group >> 10))
            output.append(UInt8(truncatingIfNeeded: group >> 2))
        }
        return true
    }

    /// A base64 character's six bits; nil for any other byte.
    @inline(__always)
    public static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x41...0x5A: byte - 0x41
        case 0x61...0x7A: byte - 0x61 + 26
        case 0x30...0x39: byte - 0x30 + 52
        case 0x2B: 62
        case 0x2F: 63
        default: nil
        }
    }
}
