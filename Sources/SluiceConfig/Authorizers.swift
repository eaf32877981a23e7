import Yams

// Authorizers as definitions declare them (`x-amazon-apigateway-authorizer` on a security
// scheme), and what sluice.yaml adds for them to run locally (docs/authorizers.md):
//
//     aws: { region: us-east-1, account_id: "123456789012" }
//     jwt_issuers:
//       - issuer: https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf
//         jwks: keys/pool.json            # a file, or an http:// URL the coordinator fetches
//         refresh_s: 3600
//         leeway_s: 0
//     iam:
//       credentials:
//         - name: deployer
//           access_key_id: AKIAEXAMPLE
//           secret_access_key_file: secrets/deployer   # or secret_access_key: "…"
//           user_arn: arn:aws:iam::123456789012:user/deployer

/// An authorizer a definition declares.
public struct Authorizer: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// HTTP APIs' JWT authorizer (`jwtConfiguration`).
        case jwt
        /// REST APIs' Amazon Cognito user pool authorizer (`providerARNs`).
        case cognitoUserPools = "cognito_user_pools"
        /// A Lambda authorizer given the token (one header).
        case token
        /// A Lambda authorizer given the request (its identity sources, headers, query, path,
        /// stage variables and context).
        case request
    }

    /// Where a Lambda authorizer's identity comes from.
    public enum IdentitySource: Sendable, Equatable {
        case header(String)
        case query(String)
        case stageVariable(String)
        case context(ContextVariable)
    }

    /// Lambda authorizers: the function (`authorizerUri`; its target set when integrations are
    /// compiled, nil when it cannot be invoked here), the identity sources (their values key the
    /// result cache; a request without one is refused without invoking), the TOKEN authorizer's
    /// `identityValidationExpression`, how long results are kept (0: not), the event's format
    /// (`1.0`; HTTP APIs may say `2.0`) and whether the function answers `{"isAuthorized": …}`.
    public var functionURI = ""
    public var function: LambdaTarget?
    public var identitySources: [IdentitySource] = []
    public var validationExpression: String?
    public var resultTTLSeconds = 300
    public var payloadFormatVersion = "1.0"
    public var simpleResponses = false
    /// An HTTP API's authorizer (it names `authorizerPayloadFormatVersion`): its refusals are HTTP
    /// APIs' (403 `{"message":"Forbidden"}`).
    public var isHTTPAPI = false

    /// Index into `Deployment.apis` (set when the API is built).
    public var api = 0
    /// The security scheme's name.
    public var name: String
    public var kind: Kind
    /// Where the token is: a header's name (lowercase), from `identitySource`.
    public var tokenHeader: String
    /// The issuers a token may come from (`iss`, exactly): the JWT configuration's, or each
    /// user pool's (`https://cognito-idp.REGION.amazonaws.com/POOL_ID`).
    public var issuers: [String]
    /// `jwtConfiguration.audience`: a token's `aud` (or, without one, `client_id`) must be one
    /// of them. Empty for user pools, whose tokens are checked against the pool only.
    public var audiences: [String]
    /// Where the definition says this, for messages.
    public var file: String
    public var line: Int

    public init(name: String, kind: Kind, tokenHeader: String = "authorization", issuers: [String],
                audiences: [String] = [], file: String = "", line: Int = 0) {
        self.name = name
        self.kind = kind
        self.tokenHeader = tokenHeader
        self.issuers = issuers
        self.audiences = audiences
        self.file = file
        self.line = line
    }
}

/// `jwt_issuers` entries: where an issuer's signing keys (its JWKS) come from.
public struct JWTIssuer: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// A JWKS file, read at start and again every `refreshSeconds`.
        case file(String)
        /// An `http://` URL the coordinator fetches at start and every `refreshSeconds`, and
        /// sooner when a token names a key it does not have.
        case url(KeySetURL)
    }

    /// The `iss` its tokens carry, exactly.
    public var issuer: String
    public var source: Source
    public var refreshSeconds: Int
    /// Seconds of clock difference allowed when `exp`, `nbf` and `iat` are checked.
    public var leewaySeconds: Int
    /// The JWKS as read at load (files only), so that a bad file is an error of `check`.
    public var initialKeys: [UInt8]?
    /// The largest key set taken (the shared memory each issuer's keys have).
    public static let keySetBytesMax = 262_144

    public init(issuer: String, source: Source, refreshSeconds: Int = 3_600, leewaySeconds: Int = 0) {
        self.issuer = issuer
        self.source = source
        self.refreshSeconds = refreshSeconds
        self.leewaySeconds = leewaySeconds
    }
}

/// Where a JWKS is served: an `http://` URL, taken apart for the request.
public struct KeySetURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// The `Host` header and the request target (path and query).
    public var hostHeader: String
    public var target: String
    public var description: String

    public init(host: String, port: Int, hostHeader: String, target: String, description: String) {
        self.host = host
        self.port = port
        self.hostHeader = hostHeader
        self.target = target
        self.description = description
    }
}

/// `iam`: the access keys that may sign requests to `AWS_IAM` methods.
public struct IAMCredential: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var accessKeyID: String
    /// Never printed: `description` leaves it out.
    public var secretAccessKey: String
    /// Temporary credentials: the token requests must carry (`X-Amz-Security-Token`), and when it
    /// expires (Unix seconds).
    public var sessionToken: String?
    public var expiresEpochSeconds: Int64?
    /// `$context.identity.userArn`; `arn:aws:iam::ACCOUNT:user/NAME` unless set.
    public var userARN: String
    /// `$context.identity.caller` and `user`; the name unless set.
    public var principalID: String

    public var description: String { "IAM credential '\(name)' (\(accessKeyID))" }

    public init(name: String, accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil,
                expiresEpochSeconds: Int64? = nil, userARN: String, principalID: String) {
        self.name = name
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiresEpochSeconds = expiresEpochSeconds
        self.userARN = userARN
        self.principalID = principalID
    }
}

/// `aws`: the region and account Sluice stands in for: SigV4's credential scope, ARNs.
public struct AWSIdentity: Sendable, Equatable {
    public var region = "us-east-1"
    public var accountID = "123456789012"

    public init(region: String = "us-east-1", accountID: String = "123456789012") {
        self.region = region
        self.accountID = accountID
    }
}

/// Reads one `x-amazon-apigateway-authorizer`.
struct AuthorizerImport {
    enum Outcome {
        case authorizer(Authorizer)
        /// A kind Sluice does not enforce yet, described.
        case unenforced(String)
    }

    let file: String
    let log: DiagnosticLog

    func read(_ node: Node, name: String, scheme: [(key: Node, value: Node)]) -> Outcome {
        let fields = node.entries ?? []
        func field(_ key: String) -> Node? { fields.first { $0.key.text == key }?.value }
        let type = field("type")?.text?.lowercased() ?? ""
        switch type {
        case "token", "request":
            return lambda(fields, node: node, name: name, isToken: type == "token", scheme: scheme)
        case "jwt":
            let configuration = field("jwtConfiguration")?.entries ?? []
            let issuer = configuration.first { $0.key.text == "issuer" }?.value.text
            let audiences = strings(configuration.first { $0.key.text == "audience" }?.value)
            guard let issuer, !issuer.isEmpty else {
                log.warning(file, node.line, "the JWT authorizer '\(name)' has no jwtConfiguration.issuer; the methods "
                            + "it protects answer 500 (AuthorizerConfigurationException)")
                return .unenforced("the JWT authorizer '\(name)' (no issuer)")
            }
            guard !audiences.isEmpty else {
                log.warning(file, node.line, "the JWT authorizer '\(name)' has no jwtConfiguration.audience, which API "
                            + "Gateway requires; the methods it protects answer 500 (AuthorizerConfigurationException)")
                return .unenforced("the JWT authorizer '\(name)' (no audience)")
            }
            guard let header = tokenHeader(field("identitySource"), scheme: scheme, name: name,
                                           default: "authorization") else {
                return .unenforced("the JWT authorizer '\(name)' (identity source)")
            }
            return .authorizer(Authorizer(name: name, kind: .jwt, tokenHeader: header, issuers: [issuer],
                                          audiences: audiences, file: file, line: node.line))
        case "cognito_user_pools":
            var issuers: [String] = []
            for arn in strings(field("providerARNs")) {
                // arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID
                let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 6, parts[0] == "arn", parts[2] == "cognito-idp", parts[5].hasPrefix("userpool/"),
                      !parts[3].isEmpty, parts[5].count > "userpool/".count else {
                    log.warning(file, node.line, "the Cognito user pool authorizer '\(name)': '\(arn)' is not a user "
                                + "pool ARN (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID); it is ignored")
                    continue
                }
                issuers.append("https://cognito-idp.\(parts[3]).amazonaws.com/\(parts[5].dropFirst("userpool/".count))")
            }
            guard !issuers.isEmpty else {
                log.warning(file, node.line, "the Cognito user pool authorizer '\(name)' names no user pool "
                            + "(providerARNs); the methods it protects answer 500 (AuthorizerConfigurationException)")
                return .unenforced("the Cognito user pool authorizer '\(name)' (no user pool)")
            }
            guard let header = tokenHeader(field("identitySource"), scheme: scheme, name: name,
                                           default: "authorization") else {
                return .unenforced("the Cognito user pool authorizer '\(name)' (identity source)")
            }
            return .authorizer(Authorizer(name: name, kind: .cognitoUserPools, tokenHeader: header, issuers: issuers,
                                          file: file, line: node.line))
        default:
            return .unenforced("the authorizer '\(name)' (type '\(type)')")
        }
    }

    /// A Lambda authorizer, TOKEN or REQUEST.
    func lambda(_ fields: [(key: Node, value: Node)], node: Node, name: String, isToken: Bool,
                scheme: [(key: Node, value: Node)]) -> Outcome {
        func field(_ key: String) -> Node? { fields.first { $0.key.text == key }?.value }
        let what = "the Lambda authorizer '\(name)'"
        guard let uri = field("authorizerUri")?.text, !uri.isEmpty else {
            log.warning(file, node.line, "\(what) has no authorizerUri; the methods it protects answer 500 "
                        + "(AuthorizerConfigurationException)")
            return .unenforced("\(what) (no authorizerUri)")
        }
        var authorizer = Authorizer(name: name, kind: isToken ? .token : .request, issuers: [], file: file,
                                    line: node.line)
        authorizer.functionURI = uri
        if let version = field("authorizerPayloadFormatVersion")?.text {
            guard version == "1.0" || version == "2.0" else {
                log.warning(file, node.line, "\(what): authorizerPayloadFormatVersion must be 1.0 or 2.0, not "
                            + "'\(version)'; the methods it protects answer 500 (AuthorizerConfigurationException)")
                return .unenforced("\(what) (payload format \(version))")
            }
            authorizer.payloadFormatVersion = version
            authorizer.isHTTPAPI = true
            // HTTP APIs keep no results unless told to.
            authorizer.resultTTLSeconds = 0
        }
        if let simple = field("enableSimpleResponses")?.text { authorizer.simpleResponses = simple == "true" }
        if authorizer.simpleResponses && authorizer.payloadFormatVersion != "2.0" {
            log.warning(file, node.line, "\(what): enableSimpleResponses needs authorizerPayloadFormatVersion 2.0; "
                        + "the function's answer is read as a policy")
            authorizer.simpleResponses = false
        }
        if let ttlNode = field("authorizerResultTtlInSeconds") {
            guard let ttl = ttlNode.text.flatMap(Int.init), (0...3_600).contains(ttl) else {
                log.warning(file, ttlNode.line, "\(what): authorizerResultTtlInSeconds must be 0 to 3600, not "
                            + "'\(ttlNode.text ?? ttlNode.kindName)'; the methods it protects answer 500 "
                            + "(AuthorizerConfigurationException)")
                return .unenforced("\(what) (result TTL)")
            }
            authorizer.resultTTLSeconds = ttl
        }
        if isToken {
            guard let header = tokenHeader(field("identitySource"), scheme: scheme, name: name,
                                           default: "authorization") else {
                return .unenforced("\(what) (identity source)")
            }
            authorizer.tokenHeader = header
            authorizer.identitySources = [.header(header)]
            if let expression = field("identityValidationExpression")?.text, !expression.isEmpty {
                guard (try? Regex(expression)) != nil else {
                    log.warning(file, node.line, "\(what): identityValidationExpression '\(expression)' is not a "
                                + "regular expression Sluice can read; the methods it protects answer 500 "
                                + "(AuthorizerConfigurationException)")
                    return .unenforced("\(what) (identityValidationExpression)")
                }
                authorizer.validationExpression = expression
            }
        } else if let sources = field("identitySource")?.text?.trimmingSpaces, !sources.isEmpty {
            for part in sources.split(separator: ",") {
                let text = String(part).trimmingSpaces
                guard let source = Self.identitySource(text) else {
                    log.warning(file, node.line, "\(what): identity source '\(text)' is not a header, query parameter, "
                                + "stage variable or context variable Sluice reads; the methods it protects answer 500 "
                                + "(AuthorizerConfigurationException)")
                    return .unenforced("\(what) (identity source '\(text)')")
                }
                authorizer.identitySources.append(source)
            }
        }
        if !isToken && authorizer.identitySources.isEmpty && authorizer.resultTTLSeconds > 0 {
            log.warning(file, node.line, "\(what) keeps results (authorizerResultTtlInSeconds \(authorizer.resultTTLSeconds)) "
                        + "but names no identity source to key them by; results are not kept")
            authorizer.resultTTLSeconds = 0
        }
        return .authorizer(authorizer)
    }

    /// `method.request.header.NAME`, `method.request.querystring.NAME`, `stageVariables.NAME`,
    /// `context.NAME` (REST APIs), and `$request.header.NAME`, `$request.querystring.NAME`,
    /// `$stageVariables.NAME`, `$context.NAME` (HTTP APIs).
    static func identitySource(_ text: String) -> Authorizer.IdentitySource? {
        let forms: [(String, (String) -> Authorizer.IdentitySource?)] = [
            ("method.request.header.", { .header($0.lowercased()) }),
            ("$request.header.", { .header($0.lowercased()) }),
            ("method.request.querystring.", { .query($0) }),
            ("$request.querystring.", { .query($0) }),
            ("stageVariables.", { .stageVariable($0) }),
            ("$stageVariables.", { .stageVariable($0) }),
            ("context.", { ContextVariable(rawValue: $0).map(Authorizer.IdentitySource.context) }),
            ("$context.", { ContextVariable(rawValue: $0).map(Authorizer.IdentitySource.context) }),
        ]
        for (prefix, make) in forms where text.hasPrefix(prefix) && text.count > prefix.count {
            return make(String(text.dropFirst(prefix.count)))
        }
        return nil
    }

    /// The header a token authorizer reads: `identitySource` (`method.request.header.NAME` on
    /// REST APIs, `$request.header.NAME` on HTTP APIs), else the scheme's own `name` for
    /// `in: header`, else `default`. Nil (with a warning) for a source that is not one header.
    func tokenHeader(_ node: Node?, scheme: [(key: Node, value: Node)], name: String, default: String) -> String? {
        if let text = node?.text?.trimmingSpaces, !text.isEmpty {
            for prefix in ["method.request.header.", "$request.header."] where text.hasPrefix(prefix) {
                let header = String(text.dropFirst(prefix.count))
                if !header.isEmpty && !header.contains(",") { return header.lowercased() }
            }
            log.warning(file, node?.line ?? 0, "the authorizer '\(name)': identitySource '\(text)' is not one request "
                        + "header; the methods it protects answer 500 (AuthorizerConfigurationException)")
            return nil
        }
        let fields = scheme
        if fields.first(where: { $0.key.text == "in" })?.value.text == "header",
           let header = fields.first(where: { $0.key.text == "name" })?.value.text, !header.isEmpty {
            return header.lowercased()
        }
        return `default`
    }

    /// A string, or a list of strings.
    func strings(_ node: Node?) -> [String] {
        guard let node else { return [] }
        if let text = node.text { return text.isEmpty ? [] : [text] }
        guard case .sequence(let items) = node else { return [] }
        return items.compactMap(\.text)
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
