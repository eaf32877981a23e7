import SluiceConfig
import SluiceHTTP1

/// An HTTP API's CORS configuration compiled for the request path: every header line written
/// once at load, origins as bytes. Matching an origin and writing the headers allocate nothing.
public struct CORSPolicy: Sendable {
    /// `Access-Control-Allow-Origin: …\r\n` for each allowed origin, or one `*` line.
    public let originLines: [[UInt8]]
    let origins: [[UInt8]]
    let anyOrigin: Bool
    /// What follows the origin line on every response of the API (credentials, exposed headers,
    /// `Vary`), and what a preflight's answer has besides (methods, headers, max age).
    public let responseLines: [UInt8]
    public let preflightLines: [UInt8]

    public init(_ settings: CORSSettings) {
        anyOrigin = settings.allowOrigins.contains("*")
        origins = anyOrigin ? [] : settings.allowOrigins.map { Array($0.lowercased().utf8) }
        originLines = anyOrigin ? [ResponseHead.headerLine("Access-Control-Allow-Origin", "*")]
            : settings.allowOrigins.map { ResponseHead.headerLine("Access-Control-Allow-Origin", $0) }
        var response: [UInt8] = []
        if settings.allowCredentials { response += ResponseHead.headerLine("Access-Control-Allow-Credentials", "true") }
        if !settings.exposeHeaders.isEmpty {
            response += ResponseHead.headerLine("Access-Control-Expose-Headers", settings.exposeHeaders.joined(separator: ","))
        }
        // The answer depends on the Origin when the API names origins: shared caches must know.
        if !anyOrigin { response += ResponseHead.headerLine("Vary", "Origin") }
        responseLines = response
        // A preflight's answer also gets the origin line and `responseLines` (the response writer
        // adds those to every answer).
        var preflight: [UInt8] = []
        if !settings.allowMethods.isEmpty {
            preflight += ResponseHead.headerLine("Access-Control-Allow-Methods", settings.allowMethods.joined(separator: ","))
        }
        if !settings.allowHeaders.isEmpty {
            preflight += ResponseHead.headerLine("Access-Control-Allow-Headers", settings.allowHeaders.joined(separator: ","))
        }
        if let maxAge = settings.maxAgeSeconds {
            preflight += ResponseHead.headerLine("Access-Control-Max-Age", String(maxAge))
        }
        preflightLines = preflight
    }

    /// The most bytes the policy adds to an answer's head: the longest origin line and the
    /// response lines (the output room a response needs counts them).
    public var addedBytesMax: Int { (originLines.map(\.count).max() ?? 0) + responseLines.count }

    /// The index in `originLines` of the line that allows `origin`, or -1 when it is not
    /// allowed. Origins compare without regard to ASCII case (their scheme and host are
    /// case-insensitive).
    public func match(origin: Span<UInt8>) -> Int {
        if anyOrigin { return 0 }
        for (index, allowed) in origins.enumerated() where allowed.count == origin.count {
            var same = true
            for offset in 0..<origin.count where HTTPBytes.lowercased(origin[offset]) != allowed[offset] {
                same = false
                break
            }
            if same { return index }
        }
        return -1
    }

    /// Whether a response header is one of the CORS headers the gateway writes itself: the
    /// integration's are dropped, as API Gateway ignores them when CORS is configured.
    public static func isCORSHeader(_ name: Span<UInt8>) -> Bool {
        guard name.count > prefix.count else { return false }
        for offset in 0..<prefix.count where HTTPBytes.lowercased(name[offset]) != prefix[offset] { return false }
        return true
    }

    static let prefix: [UInt8] = Array("access-control-".utf8)
}
