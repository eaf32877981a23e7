import Yams

/// An HTTP API's CORS configuration (`x-amazon-apigateway-cors`): API Gateway answers browser
/// preflights itself and adds the CORS headers to every response of the API, errors included.
public struct CORSSettings: Sendable, Equatable {
    /// `allowOrigins`: exact origins (`https://example.com`), or `*` for any.
    public var allowOrigins: [String]
    /// `allowMethods`: `GET`, `POST`, … or `*`.
    public var allowMethods: [String]
    /// `allowHeaders`: request headers a preflight may ask for, or `*`.
    public var allowHeaders: [String]
    /// `exposeHeaders`: response headers the browser may read.
    public var exposeHeaders: [String]
    /// `maxAge`: how long a browser may keep a preflight's answer, in seconds; nil sends none.
    public var maxAgeSeconds: Int?
    /// `allowCredentials`.
    public var allowCredentials: Bool

    public init(allowOrigins: [String] = [], allowMethods: [String] = [], allowHeaders: [String] = [],
                exposeHeaders: [String] = [], maxAgeSeconds: Int? = nil, allowCredentials: Bool = false) {
        self.allowOrigins = allowOrigins
        self.allowMethods = allowMethods
        self.allowHeaders = allowHeaders
        self.exposeHeaders = exposeHeaders
        self.maxAgeSeconds = maxAgeSeconds
        self.allowCredentials = allowCredentials
    }
}

/// Reads `x-amazon-apigateway-cors`, with API Gateway's rules: `*` is not allowed with
/// credentials, `maxAge` is at most 86400.
struct CORSImport {
    let file: String
    let log: DiagnosticLog

    /// Nil when an error was reported.
    func read(_ node: Node) -> CORSSettings? {
        guard let fields = node.entries else {
            log.error(file, node.line, "x-amazon-apigateway-cors must be a mapping, not \(node.kindName)")
            return nil
        }
        var settings = CORSSettings()
        for (key, value) in fields {
            switch key.text ?? "" {
            case "allowOrigins":
                guard let list = strings(value, "allowOrigins") else { return nil }
                settings.allowOrigins = list
            case "allowMethods":
                guard let list = strings(value, "allowMethods") else { return nil }
                settings.allowMethods = list.map { $0.uppercased() }
            case "allowHeaders":
                guard let list = strings(value, "allowHeaders") else { return nil }
                settings.allowHeaders = list
            case "exposeHeaders":
                guard let list = strings(value, "exposeHeaders") else { return nil }
                settings.exposeHeaders = list
            case "maxAge":
                guard let text = value.text, let seconds = Int(text), (-1...86_400).contains(seconds) else {
                    log.error(file, value.line, "x-amazon-apigateway-cors.maxAge must be an integer from -1 to 86400")
                    return nil
                }
                settings.maxAgeSeconds = seconds < 0 ? nil : seconds
            case "allowCredentials":
                switch value.text {
                case "true": settings.allowCredentials = true
                case "false": settings.allowCredentials = false
                default:
                    log.error(file, value.line, "x-amazon-apigateway-cors.allowCredentials must be true or false")
                    return nil
                }
            default:
                log.warning(file, key.line, "unknown key '\(key.text ?? "?")' in x-amazon-apigateway-cors is ignored")
            }
        }
        if settings.allowCredentials && settings.allowOrigins.contains("*") {
            log.error(file, node.line, "x-amazon-apigateway-cors: allowCredentials cannot be combined with the "
                      + "origin '*' (browsers refuse it; API Gateway too)")
            return nil
        }
        return settings
    }

    private func strings(_ node: Node, _ what: String) -> [String]? {
        var texts: [String] = []
        if case .sequence(let list) = node {
            for item in list {
                guard case .scalar = item, let text = item.text, !text.isEmpty, text.utf8.allSatisfy(Self.isFieldByte) else {
                    log.error(file, item.line, "x-amazon-apigateway-cors.\(what) must be a list of header-safe strings")
                    return nil
                }
                texts.append(text)
            }
            return texts
        }
        log.error(file, node.line, "x-amazon-apigateway-cors.\(what) must be a list")
        return nil
    }

    /// Visible ASCII and spaces: nothing that could end a header line.
    static func isFieldByte(_ byte: UInt8) -> Bool { byte >= 0x20 && byte < 0x7F }
}
