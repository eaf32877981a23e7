/// The content codings the gateway reads and writes (RFC 9110 §8.4.1): what API Gateway supports.
public enum ContentCoding: UInt8, Sendable {
    case identity
    case gzip
    case deflate

    /// The coding a request's `Content-Encoding` names: identity for none (an empty value), nil
    /// for a coding the gateway cannot decode (an unknown one, or more than one applied).
    public static func ofContent(_ value: Span<UInt8>) -> ContentCoding? {
        let token = HTTPBytes.trimmingWhitespace(value, 0..<value.count)
        if token.isEmpty { return .identity }
        return named(value, token)
    }

    /// The coding to answer in for a request's `Accept-Encoding` (RFC 9110 §12.5.3), or nil to
    /// answer uncompressed. As API Gateway does, the highest-ranked coding (ties: the first
    /// listed) must be gzip or deflate: `br` or `*` first means no compression, and a coding
    /// with `q=0` is never chosen.
    public static func preferred(acceptEncoding value: Span<UInt8>) -> ContentCoding? {
        var best: ContentCoding? = nil
        var bestWeight = 0  // thousandths; only codings above 0 count
        var start = 0
        while start <= value.count {
            var end = start
            while end < value.count && value[end] != 0x2C { end += 1 }
            var nameEnd = start
            while nameEnd < end && value[nameEnd] != 0x3B { nameEnd += 1 }
            let name = HTTPBytes.trimmingWhitespace(value, start..<nameEnd)
            start = end + 1
            if name.isEmpty { continue }
            guard let weight = Self.weight(value, nameEnd..<end) else { continue }
            if weight > bestWeight {
                bestWeight = weight
                best = named(value, name)  // nil: a coding the gateway does not write (br, *)
            }
        }
        return best == .identity ? nil : best
    }

    /// A coding's name: gzip (and x-gzip, RFC 9110 §8.4.1.3) or deflate.
    static func named(_ bytes: Span<UInt8>, _ token: Range<Int>) -> ContentCoding? {
        if HTTPBytes.equalsIgnoringCase(bytes, token, lowercased: gzipName.span)
            || HTTPBytes.equalsIgnoringCase(bytes, token, lowercased: xGzipName.span) {
            return .gzip
        }
        if HTTPBytes.equalsIgnoringCase(bytes, token, lowercased: deflateName.span) { return .deflate }
        if HTTPBytes.equalsIgnoringCase(bytes, token, lowercased: identityName.span) { return .identity }
        return nil
    }

    /// The weight of an element's parameters (`;q=0.5`) in thousandths: 1000 without one, nil
    /// when a parameter is malformed (the element is then ignored).
    static func weight(_ bytes: Span<UInt8>, _ parameters: Range<Int>) -> Int? {
        var weight = 1000
        var start = parameters.lowerBound
        while start < parameters.upperBound {
            // Past the ';'.
            start += 1
            var end = start
            while end < parameters.upperBound && bytes[end] != 0x3B { end += 1 }
            let parameter = HTTPBytes.trimmingWhitespace(bytes, start..<end)
            start = end
            guard parameter.count >= 2, bytes[parameter.lowerBound] | 0x20 == 0x71,
                  bytes[parameter.lowerBound + 1] == 0x3D else { continue }
            let text = HTTPBytes.trimmingWhitespace(bytes, (parameter.lowerBound + 2)..<parameter.upperBound)
            guard let parsed = qvalue(bytes.extracting(text)) else { return nil }
            weight = parsed
        }
        return weight
    }

    /// A qvalue (`0`, `0.5`, `1.000`: RFC 9110 §12.4.2) in thousandths.
    static func qvalue(_ text: Span<UInt8>) -> Int? {
        guard text.count >= 1, text.count <= 5, text[0] == 0x30 || text[0] == 0x31 else { return nil }
        var value = Int(text[0] - 0x30) * 1000
        guard text.count > 1 else { return value }
        guard text[1] == 0x2E else { return nil }
        var scale = 100
        for index in 2..<text.count {
            let digit = text[index] &- 0x30
            guard digit <= 9 else { return nil }
            value += Int(digit) * scale
            scale /= 10
        }
        return value <= 1000 ? value : nil
    }

    /// The value a response's `Content-Encoding` line carries.
    public var token: [UInt8] {
        switch self {
        case .identity: Self.identityName
        case .gzip: Self.gzipName
        case .deflate: Self.deflateName
        }
    }

    static let identityName: [UInt8] = Array("identity".utf8)
    static let gzipName: [UInt8] = Array("gzip".utf8)
    static let xGzipName: [UInt8] = Array("x-gzip".utf8)
    static let deflateName: [UInt8] = Array("deflate".utf8)
}
