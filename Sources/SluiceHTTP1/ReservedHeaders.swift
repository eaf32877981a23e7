/// Request headers API Gateway leaves out of a Lambda proxy event (1.0 and 2.0): they frame or
/// route the client's request to the gateway, not the function's.
public enum OmittedEventHeaders {
    public static let names: [[UInt8]] = [
        "connection", "content-length", "content-md5", "expect", "max-forwards", "proxy-authenticate", "server", "te",
        "trailer", "transfer-encoding", "upgrade", "www-authenticate",
    ].map { Array($0.utf8) }

    @inline(__always)
    public static func contains(_ bytes: Span<UInt8>, _ name: Range<Int>) -> Bool {
        guard name.count >= 2 && name.count <= 18 else { return false }
        for candidate in names where candidate.count == name.count
            && HTTPBytes.equalsIgnoringCase(bytes, name, lowercased: candidate.span) {
            return true
        }
        return false
    }
}

/// Response header names an integration's answer or a mapping may not set as they are, with
/// what the gateway does instead (API Gateway's rules): the one table behind every answer the
/// gateway relays or prepares — HTTP_PROXY and HTTP upstreams, Lambda functions, MOCK and
/// integration `responseParameters`, gateway responses.
///
/// API Gateway sends the names that frame the response or that it writes itself as
/// `x-amzn-Remapped-<Name>`, and drops `Transfer-Encoding`. Sluice also drops the hop-by-hop
/// names API Gateway's list leaves out (`Keep-Alive`, `Proxy-Connection`, `TE`): they describe
/// the upstream's connection, not the client's (RFC 9110 §7.6.1).
public enum ReservedResponseHeaders {
    public enum Disposition: UInt8, Sendable {
        /// Sent as it is.
        case pass
        /// Sent as `x-amzn-Remapped-<Name>`.
        case remap
        /// Not sent.
        case drop
    }

    /// Every reserved name, lowercase, with what becomes of it.
    public static let names: [(name: [UInt8], disposition: Disposition)] = {
        let remapped = ["authorization", "connection", "content-length", "content-md5", "date", "expect", "host",
                        "max-forwards", "proxy-authenticate", "server", "trailer", "upgrade", "user-agent",
                        "www-authenticate", "x-amzn-requestid"]
        let dropped = ["transfer-encoding", "keep-alive", "proxy-connection", "te"]
        return remapped.map { (Array($0.utf8), Disposition.remap) } + dropped.map { (Array($0.utf8), Disposition.drop) }
    }()

    /// The prefix of a remapped name.
    public static let remappedPrefix: [UInt8] = Array("x-amzn-Remapped-".utf8)

    /// What becomes of the header named `bytes[name]` (any case).
    @inline(__always)
    public static func disposition(of bytes: Span<UInt8>, _ name: Range<Int>) -> Disposition {
        // Reserved names are 2 to 18 bytes long: most names are dismissed by their length.
        guard name.count >= 2 && name.count <= 18 else { return .pass }
        for entry in names where entry.name.count == name.count
            && HTTPBytes.equalsIgnoringCase(bytes, name, lowercased: entry.name.span) {
            return entry.disposition
        }
        return .pass
    }

    /// What becomes of the header `name` (any case), for answers prepared at load.
    public static func disposition(of name: String) -> Disposition {
        let bytes = Array(name.utf8)
        return disposition(of: bytes.span, 0..<bytes.count)
    }

    /// `Name: value\r\n` as the gateway sends it, or nil when it is not sent.
    public static func line(_ name: String, _ value: String) -> [UInt8]? {
        switch disposition(of: name) {
        case .pass: ResponseHead.headerLine(name, value)
        case .remap: ResponseHead.headerLine("x-amzn-Remapped-" + name, value)
        case .drop: nil
        }
    }

    /// `Name: ` as the gateway sends it, or nil when it is not sent.
    public static func linePrefix(_ name: String) -> [UInt8]? {
        switch disposition(of: name) {
        case .pass: Array((name + ": ").utf8)
        case .remap: Array(("x-amzn-Remapped-" + name + ": ").utf8)
        case .drop: nil
        }
    }
}
