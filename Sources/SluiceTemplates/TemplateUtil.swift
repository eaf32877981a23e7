/// `$util`: the escapes and encodings API Gateway gives templates, written byte by byte into the
/// renderer (no intermediate strings).
enum TemplateUtil {
    static let trueText: [UInt8] = Array("true".utf8)
    static let falseText: [UInt8] = Array("false".utf8)
    static let nullText: [UInt8] = Array("null".utf8)
    static let separator: [UInt8] = [0x2C, 0x20]
    static let parameterKinds: [[UInt8]] = [Array("path".utf8), Array("querystring".utf8), Array("header".utf8)]
    static let upperHex: [UInt8] = Array("0123456789ABCDEF".utf8)
    static let base64Alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    @inline(__always)
    static func lowercase(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

    /// Commons Lang 2's `escapeJavaScript`, which API Gateway uses: `"`, `'`, `\` and `/` get a
    /// backslash, control characters their short escape or `\u00XX`, and everything above 0x7E
    /// becomes `\uXXXX` (UTF-16 units, uppercase hex).
    static func escapeJavaScript(_ text: Bytes, _ renderer: inout TemplateRenderer, _ template: Template) {
        var offset = Int(text.start)
        let end = Int(text.end)
        while offset < end {
            let byte = renderer.byte(text.space, offset, template)
            if byte < 0x80 {
                offset += 1
                switch byte {
                case 0x08: renderer.put(contentsOf: [0x5C, 0x62])
                case 0x09: renderer.put(contentsOf: [0x5C, 0x74])
                case 0x0A: renderer.put(contentsOf: [0x5C, 0x6E])
                case 0x0C: renderer.put(contentsOf: [0x5C, 0x66])
                case 0x0D: renderer.put(contentsOf: [0x5C, 0x72])
                case 0x22, 0x27, 0x5C, 0x2F:
                    renderer.put(0x5C)
                    renderer.put(byte)
                case 0x00..<0x20, 0x7F:
                    if byte == 0x7F { renderer.put(byte) } else { unicodeEscape(UInt16(byte), &renderer) }
                default: renderer.put(byte)
                }
                continue
            }
            // A UTF-8 sequence: its code point, as one or two UTF-16 units.
            let (scalar, length) = decodeUTF8(text, offset, end, renderer, template)
            offset += length
            if scalar >= 0x10000 {
                let value = scalar - 0x10000
                unicodeEscape(UInt16(0xD800 + (value >> 10)), &renderer)
                unicodeEscape(UInt16(0xDC00 + (value & 0x3FF)), &renderer)
            } else {
                unicodeEscape(UInt16(scalar), &renderer)
            }
        }
    }

    static func unicodeEscape(_ unit: UInt16, _ renderer: inout TemplateRenderer) {
        renderer.put(0x5C)
        renderer.put(0x75)
        for shift in stride(from: 12, through: 0, by: -4) {
            renderer.put(upperHex[Int((unit >> UInt16(shift)) & 0xF)])
        }
    }

    /// The code point at `offset` and its length; an ill-formed sequence is U+FFFD for one byte.
    static func decodeUTF8(_ text: Bytes, _ offset: Int, _ end: Int, _ renderer: TemplateRenderer,
                           _ template: Template) -> (UInt32, Int) {
        let first = renderer.byte(text.space, offset, template)
        let length: Int
        var scalar: UInt32
        switch first {
        case 0xC2...0xDF: length = 2; scalar = UInt32(first & 0x1F)
        case 0xE0...0xEF: length = 3; scalar = UInt32(first & 0x0F)
        case 0xF0...0xF4: length = 4; scalar = UInt32(first & 0x07)
        default: return (0xFFFD, 1)
        }
        guard offset + length <= end else { return (0xFFFD, 1) }
        for index in 1..<length {
            let next = renderer.byte(text.space, offset + index, template)
            guard next & 0xC0 == 0x80 else { return (0xFFFD, 1) }
            scalar = scalar << 6 | UInt32(next & 0x3F)
        }
        let minimum: UInt32 = length == 2 ? 0x80 : (length == 3 ? 0x800 : 0x10000)
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return (0xFFFD, 1) }
        return (scalar, length)
    }

    /// Java's `URLEncoder.encode(s, "UTF-8")`: letters, digits and `.-*_` as they are, space as
    /// `+`, every other byte `%XX`.
    static func formEncode(_ byte: UInt8, _ renderer: inout TemplateRenderer) {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2E, 0x2D, 0x2A, 0x5F: renderer.put(byte)
        case 0x20: renderer.put(0x2B)
        default:
            renderer.put(0x25)
            renderer.put(upperHex[Int(byte >> 4)])
            renderer.put(upperHex[Int(byte & 0xF)])
        }
    }

    /// For query overrides: RFC 3986's unreserved bytes as they are, others `%XX`.
    static func percentEncode(_ byte: UInt8, into output: inout [UInt8]) {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2E, 0x2D, 0x7E, 0x5F: output.append(byte)
        default:
            output.append(0x25)
            output.append(upperHex[Int(byte >> 4)])
            output.append(upperHex[Int(byte & 0xF)])
        }
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x37
        case 0x61...0x66: byte - 0x57
        default: nil
        }
    }

    /// Java's `URLDecoder.decode(s, "UTF-8")`: `+` is a space, `%XX` a byte; false where Java
    /// throws (a `%` without two hex digits).
    static func formDecode(_ text: Bytes, _ renderer: inout TemplateRenderer, _ template: Template) -> Bool {
        var offset = Int(text.start)
        let end = Int(text.end)
        while offset < end {
            let byte = renderer.byte(text.space, offset, template)
            if byte == 0x2B {
                renderer.put(0x20)
                offset += 1
            } else if byte == 0x25 {
                guard offset + 2 < end,
                      let high = hexValue(renderer.byte(text.space, offset + 1, template)),
                      let low = hexValue(renderer.byte(text.space, offset + 2, template)) else { return false }
                renderer.put(high << 4 | low)
                offset += 3
            } else {
                renderer.put(byte)
                offset += 1
            }
        }
        return true
    }

    static func base64Encode(_ text: Bytes, _ renderer: inout TemplateRenderer, _ template: Template) {
        var offset = Int(text.start)
        let end = Int(text.end)
        while offset < end {
            let count = min(3, end - offset)
            var group: UInt32 = 0
            for index in 0..<3 {
                group <<= 8
                if index < count { group |= UInt32(renderer.byte(text.space, offset + index, template)) }
            }
            for index in 0..<4 {
                if index <= count {
                    renderer.put(base64Alphabet[Int((group >> UInt32(18 - 6 * index)) & 0x3F)])
                } else {
                    renderer.put(0x3D)
                }
            }
            offset += 3
        }
    }

    static func base64Value(_ byte: UInt8) -> UInt32? {
        switch byte {
        case 0x41...0x5A: UInt32(byte - 0x41)
        case 0x61...0x7A: UInt32(byte - 0x61 + 26)
        case 0x30...0x39: UInt32(byte - 0x30 + 52)
        case 0x2B: 62
        case 0x2F: 63
        default: nil
        }
    }

    /// Standard base64 with padding; false when the text is not that.
    static func base64Decode(_ text: Bytes, _ renderer: inout TemplateRenderer, _ template: Template) -> Bool {
        guard text.count % 4 == 0 else { return false }
        var offset = Int(text.start)
        let end = Int(text.end)
        while offset < end {
            var group: UInt32 = 0
            var padding = 0
            for index in 0..<4 {
                let byte = renderer.byte(text.space, offset + index, template)
                group <<= 6
                if byte == 0x3D, offset + 4 == end, index >= 2 {
                    padding += 1
                } else {
                    guard padding == 0, let value = base64Value(byte) else { return false }
                    group |= value
                }
            }
            renderer.put(UInt8(truncatingIfNeeded: group >> 16))
            if padding < 2 { renderer.put(UInt8(truncatingIfNeeded: group >> 8)) }
            if padding < 1 { renderer.put(UInt8(truncatingIfNeeded: group)) }
            offset += 4
        }
        return true
    }
}
