/// `%XX` decoding (RFC 3986 §2.1): for text read outside the request path (admin query strings,
/// JSON pointers in definitions, names in the quota journal), and in place into a buffer for the
/// values mapping templates read.
public enum PercentDecoding {
    /// The text with every `%XX` decoded (and `+` as a space when `plusAsSpace`, as in form
    /// queries); nil when a `%` is not followed by two hex digits or the result is not UTF-8.
    public static func decode(_ text: Substring, plusAsSpace: Bool = false) -> String? {
        var bytes: [UInt8] = []
        var rest = Array(text.utf8)[...]
        while let byte = rest.popFirst() {
            switch byte {
            case UInt8(ascii: "+") where plusAsSpace:
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard rest.count >= 2, let high = hexValue(rest[rest.startIndex]),
                      let low = hexValue(rest[rest.startIndex + 1]) else { return nil }
                bytes.append(high << 4 | low)
                rest = rest.dropFirst(2)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Whether `bytes` hold a `%` to decode.
    public static func needsDecoding(_ bytes: Span<UInt8>) -> Bool {
        for offset in 0..<bytes.count where bytes[offset] == UInt8(ascii: "%") { return true }
        return false
    }

    /// Appends `bytes` with every valid `%XX` decoded; a `%` without two hex digits stays as it
    /// is. On the request path: nothing is allocated beyond `output`'s capacity.
    public static func decode(_ bytes: Span<UInt8>, into output: inout [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "%"), offset + 2 < bytes.count,
               let high = hexValue(bytes[offset + 1]), let low = hexValue(bytes[offset + 2]) {
                output.append(high << 4 | low)
                offset += 3
            } else {
                output.append(byte)
                offset += 1
            }
        }
    }

    /// The value of one hex digit, either case.
    public static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension PercentDecoding {
    /// `%`, tab, newline and carriage return percent-encoded, scalar by scalar: a name made safe
    /// for one tab-separated field of a line (the quota journal, the deployment records), which
    /// `decode` reads back.
    public static func fieldEscaped(_ text: String) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "%": escaped += "%25"
            case "\t": escaped += "%09"
            case "\n": escaped += "%0A"
            case "\r": escaped += "%0D"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
