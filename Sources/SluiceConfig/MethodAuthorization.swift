import Yams

/// How a method is protected besides an API key, as its definition says: a `security`
/// requirement naming an authorizer or IAM scheme, or `x-amazon-apigateway-auth`.
public enum MethodAuthorization: Sendable, Equatable {
    /// Open to every caller (an API key may still be required: `Operation.apiKeyRequired`).
    case none
    /// `AWS_IAM`: the request must be signed (Signature Version 4) with one of `iam.credentials`.
    case iam
    /// A JWT or Cognito user pool authorizer (`Deployment.authorizers` index) and the scopes the
    /// method requires (`authorizationScopes`; any one of them).
    case authorizer(Int, scopes: [String])
    /// Protected by an authorizer or an auth type that Sluice does not enforce yet. Serving such a
    /// method without its protection would hand its answers to anyone, so every request answers
    /// API Gateway's AUTHORIZER_CONFIGURATION_ERROR instead: 500 `{"message": null}` with
    /// `x-amzn-ErrorType: AuthorizerConfigurationException` (fail closed). The text names the
    /// protection, for `check`.
    case unenforced(String)
}

/// The security schemes of a definition (`components.securitySchemes` in OpenAPI 3,
/// `securityDefinitions` in Swagger 2), classified the way API Gateway's importer reads them.
struct SecuritySchemes {
    enum Kind {
        /// `type: apiKey` in the header `x-api-key`: the method requires an API key.
        case apiKey
        /// `x-amazon-apigateway-authtype: awsSigv4`.
        case iam
        /// A JWT or Cognito user pool authorizer: its index in `authorizers`.
        case authorizer(Int)
        /// An authorizer Sluice does not enforce yet: its description, for messages.
        case protection(String)
    }

    private(set) var kinds: [String: Kind] = [:]
    /// The authorizers the schemes declare, in the order read.
    private(set) var authorizers: [Authorizer] = []

    mutating func add(name: String, scheme: Node, file: String, log: DiagnosticLog) {
        let fields = scheme.entries ?? []
        func field(_ key: String) -> Node? { fields.first { $0.key.text == key }?.value }
        let authType = field("x-amazon-apigateway-authtype")?.text?.lowercased()
        if let node = field("x-amazon-apigateway-authorizer") {
            switch AuthorizerImport(file: file, log: log).read(node, name: name, scheme: fields) {
            case .authorizer(let authorizer):
                kinds[name] = .authorizer(authorizers.count)
                authorizers.append(authorizer)
            case .unenforced(let description):
                kinds[name] = .protection(description)
            }
            return
        }
        if let authType {
            switch authType {
            case "awssigv4": kinds[name] = .iam
            default: kinds[name] = .protection("the authorizer '\(name)' (\(authType))")
            }
            return
        }
        if OpenAPIImport.isAPIKeyScheme(scheme) {
            kinds[name] = .apiKey
            return
        }
        let type = field("type")?.text ?? "?"
        kinds[name] = .protection("the security scheme '\(name)' (type \(type))")
    }

    /// What a requirement's scheme name stands for. API Gateway's own name for the API key is
    /// `api_key` even without a definition; any other undefined name is treated as a protection
    /// (an importer that cannot tell what guards a method must not open it).
    func kind(of name: String) -> Kind {
        if let kind = kinds[name] { return kind }
        return name == "api_key" ? .apiKey : .protection("the undefined security scheme '\(name)'")
    }
}
