import Yams

/// How a method is protected besides an API key, as its definition says: a `security`
/// requirement naming an authorizer or IAM scheme, or `x-amazon-apigateway-auth`.
public enum MethodAuthorization: Sendable, Equatable {
    /// Open to every caller (an API key may still be required: `Operation.apiKeyRequired`).
    case none
    /// Protected by an authorizer or an auth type that Sluice does not enforce yet. Serving such a
    /// method without its protection would hand its answers to anyone, so every request answers
    /// API Gateway's AUTHORIZER_CONFIGURATION_ERROR instead: 500 `{"message": null}` with
    /// `x-amzn-ErrorType: AuthorizerConfigurationException` (fail closed). The text names the
    /// protection, for `check`.
    case unenforced(String)

    public var isEnforceable: Bool { self == .none }
}

/// The security schemes of a definition (`components.securitySchemes` in OpenAPI 3,
/// `securityDefinitions` in Swagger 2), classified the way API Gateway's importer reads them.
struct SecuritySchemes {
    enum Kind: Equatable {
        /// `type: apiKey` in the header `x-api-key`: the method requires an API key.
        case apiKey
        /// An authorizer or IAM: its description, for messages.
        case protection(String)
    }

    private(set) var kinds: [String: Kind] = [:]

    mutating func add(name: String, scheme: Node) {
        kinds[name] = Self.classify(name: name, scheme: scheme)
    }

    /// What a requirement's scheme name stands for. API Gateway's own name for the API key is
    /// `api_key` even without a definition; any other undefined name is treated as a protection
    /// (an importer that cannot tell what guards a method must not open it).
    func kind(of name: String) -> Kind {
        if let kind = kinds[name] { return kind }
        return name == "api_key" ? .apiKey : .protection("the undefined security scheme '\(name)'")
    }

    static func classify(name: String, scheme: Node) -> Kind {
        let fields = scheme.entries ?? []
        func field(_ key: String) -> Node? { fields.first { $0.key.text == key }?.value }
        if let authorizer = field("x-amazon-apigateway-authorizer") {
            let type = authorizer.entries?.first { $0.key.text == "type" }?.value.text?.lowercased() ?? ""
            switch type {
            case "token", "request": return .protection("the Lambda authorizer '\(name)'")
            case "cognito_user_pools": return .protection("the Cognito user pool authorizer '\(name)'")
            case "jwt": return .protection("the JWT authorizer '\(name)'")
            default: return .protection("the authorizer '\(name)'")
            }
        }
        if let authType = field("x-amazon-apigateway-authtype")?.text?.lowercased() {
            switch authType {
            case "awssigv4": return .protection("IAM authorization ('\(name)', awsSigv4)")
            case "cognito_user_pools": return .protection("the Cognito user pool authorizer '\(name)'")
            default: return .protection("the authorizer '\(name)' (\(authType))")
            }
        }
        if OpenAPIImport.isAPIKeyScheme(scheme) { return .apiKey }
        let type = field("type")?.text ?? "?"
        return .protection("the security scheme '\(name)' (type \(type))")
    }
}
