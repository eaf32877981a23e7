import SluiceHTTP1
import SluiceRouter
import SluiceSchema
import Yams

/// One method of one resource, as read from a definition, before it is given an index.
struct ImportedOperation {
    var pattern: RoutePattern
    var method: RouteMethod
    /// The line of the method's key (`get:`), where messages about the operation point.
    var line: Int
    var integration: ImportedIntegration
    /// Whether a request needs an API key (`apiKeyRequired`), from `security` or
    /// `x-amazon-apigateway-api-key-required`.
    var apiKeyRequired = false
    /// An authorizer or IAM protecting the method (refused until Sluice enforces it).
    var authorization = MethodAuthorization.none
    /// What the method's request validator checks, or nil.
    var requestValidation: RequestValidation?
    /// The integration's `cacheKeyParameters`.
    var cacheKeyParameters: [CacheKeyParameter] = []
}

/// What a definition yields: its operations and where its API keys come from.
struct ImportedDefinition {
    var operations: [ImportedOperation]
    var apiKeySource: APIKeySource
    var resourcePolicy: ResourcePolicy?
    var cors: CORSSettings?
    var gatewayResponses: [GatewayResponseSettings] = []
    var binaryMediaTypes = BinaryMediaTypes()
    var minimumCompressionSizeBytes: Int?
    /// The JWT and Cognito authorizers its security schemes declare; operations refer to them by
    /// index (`MethodAuthorization.authorizer`).
    var authorizers: [Authorizer] = []
}

/// Reads an OpenAPI 3.0/3.1 or Swagger 2.0 definition (YAML or JSON) with API Gateway's
/// extensions into operations.
///
/// As lenient as API Gateway's importer: a missing `info.version` or `responses`, unknown keys and
/// unknown extensions do not stop the import. What Sluice cannot run becomes a warning and an
/// operation that answers 500; only a broken structure (a `paths` that is not a mapping, an invalid
/// path template, an unresolvable `$ref`) is an error.
///
/// Swagger's `host`/`basePath` and OpenAPI's `servers` are ignored, as API Gateway's importer
/// ignores them by default (`basepath=ignore`): where an API is mounted is sluice.yaml's business.
struct OpenAPIImport {
    let file: String
    let log: DiagnosticLog
    /// `timeoutInMillis` is checked against `limits.integration_timeout_ms`.
    let limits: Limits
    private let patterns = SelectionPatternCache()

    /// Extensions Sluice implements.
    static let supportedExtensions: Set<String> = [
        "x-amazon-apigateway-integration",
        "x-amazon-apigateway-any-method",
        "x-amazon-apigateway-integrations",
        "x-amazon-apigateway-api-key-source",
        "x-amazon-apigateway-api-key-required",
        // Read to refuse what they protect until authorizers are enforced (MethodAuthorization).
        "x-amazon-apigateway-auth",
        "x-amazon-apigateway-authorizer",
        "x-amazon-apigateway-authtype",
        "x-amazon-apigateway-policy",
        "x-amazon-apigateway-cors",
        "x-amazon-apigateway-gateway-responses",
        "x-amazon-apigateway-request-validator",
        "x-amazon-apigateway-request-validators",
        "x-amazon-apigateway-binary-media-types",
        "x-amazon-apigateway-minimum-compression-size",
    ]

    /// Extensions with no effect on a data plane (documentation, tags, export bookkeeping).
    static let inertExtensions: Set<String> = [
        "x-amazon-apigateway-documentation",
        "x-amazon-apigateway-importexport-version",
        "x-amazon-apigateway-tag-value",
    ]

    /// API Gateway features that later issues will implement.
    static let plannedExtensions: Set<String> = [
        "x-amazon-apigateway-endpoint-configuration",
    ]

    /// The operation keys OpenAPI allows in a path item; all but `trace` are routed.
    static let operationKeys: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// Ignored extensions, counted so that each is reported once per file, at its first use.
    private var ignoredExtensions: [(name: String, line: Int, count: Int)] = []
    private var root: Node = .scalar(.init(""))
    /// Security schemes by name: API keys, authorizers and IAM.
    private var schemes = SecuritySchemes()
    /// The document's top-level `security`, which applies to every operation without its own.
    private var defaultSecurity: Node?
    /// The request validators and the API's default one.
    private var validators = RequestValidators()
    /// Swagger 2's top-level `consumes`, and the document as the schema compiler reads it (for
    /// models' `$ref`s), made when the first model is compiled.
    private var consumes: [String] = []
    private var schemaDocument: SchemaNode?

    init(file: String, log: DiagnosticLog, limits: Limits = Limits()) {
        self.file = file
        self.log = log
        self.limits = limits
    }

    /// Returns nil when an error was reported.
    mutating func read(_ document: Node) -> ImportedDefinition? {
        root = document
        guard let top = document.entries else {
            log.error(file, document.line, "an API definition must be an OpenAPI or Swagger document (a mapping), "
                      + "not \(document.kindName)")
            return nil
        }
        func entry(_ name: String) -> (key: Node, value: Node)? { top.first { $0.key.text == name } }

        if let version = entry("openapi") {
            let text = version.value.text ?? ""
            if !text.hasPrefix("3.") {
                log.warning(file, version.value.line, "openapi version '\(text)' is not 3.0 or 3.1; reading the "
                            + "document as OpenAPI 3.0")
            }
        } else if let version = entry("swagger") {
            let text = version.value.text ?? ""
            if text != "2.0" {
                log.warning(file, version.value.line, "swagger version '\(text)' is not 2.0; reading the document "
                            + "as Swagger 2.0")
            }
        } else {
            log.warning(file, document.line, "neither 'openapi' nor 'swagger' is set; reading the document as "
                        + "OpenAPI 3.0")
        }

        for (key, _) in top { noteExtension(key) }
        scanSecuritySchemes(entry("components")?.value)
        scanSecuritySchemes(entry("securityDefinitions")?.value, directly: true)
        defaultSecurity = entry("security")?.value
        var apiKeySource = APIKeySource.header
        if let source = entry("x-amazon-apigateway-api-key-source") {
            switch source.value.text?.uppercased() {
            case "HEADER": apiKeySource = .header
            case "AUTHORIZER":
                // The key is a Lambda authorizer's `usageIdentifierKey`: a method without one
                // finds no key and answers 403.
                apiKeySource = .authorizer
            default:
                log.error(file, source.value.line, "x-amazon-apigateway-api-key-source must be HEADER or AUTHORIZER, "
                          + "not '\(source.value.text ?? source.value.kindName)'")
                return nil
            }
        }

        var resourcePolicy: ResourcePolicy?
        if let policy = entry("x-amazon-apigateway-policy") {
            guard let read = ResourcePolicyImport(file: file, log: log).read(policy.value) else { return nil }
            resourcePolicy = read
        }

        var cors: CORSSettings?
        if let corsEntry = entry("x-amazon-apigateway-cors") {
            guard let read = CORSImport(file: file, log: log).read(corsEntry.value) else { return nil }
            cors = read
        }

        var gatewayResponses: [GatewayResponseSettings] = []
        if let responsesEntry = entry("x-amazon-apigateway-gateway-responses") {
            guard let read = GatewayResponsesImport(file: file, log: log).read(responsesEntry.value) else { return nil }
            gatewayResponses = read
        }

        guard let binaryMediaTypes = BinaryMediaTypes.read(entry("x-amazon-apigateway-binary-media-types")?.value,
                                                           file: file, log: log) else { return nil }

        var minimumCompressionSizeBytes: Int?
        if let size = entry("x-amazon-apigateway-minimum-compression-size"), !size.value.isNull {
            // API Gateway's range: 0 through 10 MiB.
            guard let text = size.value.text, let bytes = Int(text), (0...10_485_760).contains(bytes) else {
                log.error(file, size.value.line, "x-amazon-apigateway-minimum-compression-size must be a whole number "
                          + "of bytes from 0 to 10485760, not '\(size.value.text ?? size.value.kindName)'")
                return nil
            }
            minimumCompressionSizeBytes = bytes
        }

        guard let readValidators = RequestValidators.read(validators: entry("x-amazon-apigateway-request-validators")?.value,
                                                          default: entry("x-amazon-apigateway-request-validator")?.value,
                                                          file: file, log: log) else { return nil }
        validators = readValidators
        if case .sequence(let list)? = entry("consumes")?.value { consumes = list.compactMap { $0.text?.lowercased() } }

        var operations: [ImportedOperation] = []
        var valid = true
        if let paths = entry("paths"), !paths.value.isNull {
            guard let pathEntries = paths.value.entries else {
                log.error(file, paths.value.line, "'paths' must be a mapping, not \(paths.value.kindName)")
                return nil
            }
            for (pathKey, pathItem) in pathEntries {
                guard readPathItem(pathKey, pathItem, into: &operations) else {
                    valid = false
                    continue
                }
            }
            if pathEntries.isEmpty {
                log.warning(file, paths.key.line, "'paths' is empty; the API has no routes")
            }
        } else {
            log.warning(file, document.line, "the definition has no 'paths'; the API has no routes")
        }

        for use in ignoredExtensions { reportIgnoredExtension(use) }
        return valid ? ImportedDefinition(operations: operations, apiKeySource: apiKeySource,
                                          resourcePolicy: resourcePolicy, cors: cors,
                                          gatewayResponses: gatewayResponses, binaryMediaTypes: binaryMediaTypes,
                                          minimumCompressionSizeBytes: minimumCompressionSizeBytes, authorizers: schemes.authorizers) : nil
    }

    /// Reads one path item. Returns false when an error was reported.
    private mutating func readPathItem(_ pathKey: Node, _ pathItemNode: Node,
                                       into operations: inout [ImportedOperation]) -> Bool {
        guard let pathText = pathKey.text else {
            log.error(file, pathKey.line, "a path must be a string, not \(pathKey.kindName)")
            return false
        }
        let pattern: RoutePattern
        do {
            pattern = try RoutePattern(parsing: pathText)
        } catch {
            log.error(file, pathKey.line, error.message)
            return false
        }
        guard var item = resolve(pathItemNode, what: "path item '\(pathText)'") else { return false }
        if item.isNull { item = .mapping(Node.Mapping([])) }
        guard let itemEntries = item.entries else {
            log.error(file, item.line, "path item '\(pathText)' must be a mapping, not \(item.kindName)")
            return false
        }

        var valid = true
        for (key, value) in itemEntries {
            let name = key.text ?? ""
            if let method = RouteMethod(openAPIKey: name) {
                let label = "\(method) \(pattern)"
                guard let integration = readOperation(value, label: label, pattern: pattern, method: method) else {
                    valid = false
                    continue
                }
                guard let security = security(value, label: label),
                      let cacheKey = cacheKeyParameters(value, label: label, pattern: pattern) else {
                    valid = false
                    continue
                }
                if case .unenforced(let protection) = security.authorization {
                    log.warning(file, key.line, "\(label) is protected by \(protection), which Sluice does not "
                                + "enforce yet; every request answers 500 (AuthorizerConfigurationException)")
                }
                let pathParameters: [Node]
                if case .sequence(let list)? = itemEntries.first(where: { $0.key.text == "parameters" })?.value {
                    pathParameters = Array(list)
                } else {
                    pathParameters = []
                }
                let operationFields = resolve(value, what: label)?.entries ?? []
                let validation: RequestValidation?
                let document = root
                var converted = schemaDocument
                switch validators.compile(operation: operationFields, pathItemParameters: pathParameters, label: label,
                                          consumes: consumes, resolve: { resolve($0, what: label) },
                                          document: {
                                              if let converted { return converted }
                                              let made = SchemaDocument.convert(document)
                                              converted = made
                                              return made
                                          }, file: file, log: log) {
                case .failure:
                    valid = false
                    continue
                case .success(let compiled):
                    validation = compiled
                }
                schemaDocument = converted
                operations.append(ImportedOperation(pattern: pattern, method: method, line: key.line,
                                                    integration: integration, apiKeyRequired: security.apiKeyRequired,
                                                    authorization: security.authorization,
                                                    requestValidation: validation,
                                                    cacheKeyParameters: cacheKey))
            } else if name == "trace" {
                log.warning(file, key.line, "TRACE \(pattern): API Gateway does not route TRACE; the operation is "
                            + "ignored")
            } else {
                noteExtension(key)
            }
        }
        return valid
    }

    /// What guards an operation, as API Gateway's importer decides. It requires an API key with
    /// its own `x-amazon-apigateway-api-key-required: true`, or when a `security` requirement (the
    /// operation's, else the document's) names an API key scheme; an operation's `security: []`
    /// requires nothing. It is protected by an authorizer or IAM when a requirement names such a
    /// scheme, or `x-amazon-apigateway-auth` says so. Nil when an error was reported.
    private func security(_ operationNode: Node, label: String)
        -> (apiKeyRequired: Bool, authorization: MethodAuthorization)? {
        guard let fields = resolve(operationNode, what: label)?.entries else { return (false, .none) }
        var keyRequired = false
        var authorization = MethodAuthorization.none
        if let auth = fields.first(where: { $0.key.text == "x-amazon-apigateway-auth" })?.value {
            let type = auth.entries?.first { $0.key.text == "type" }?.value.text ?? auth.kindName
            switch type.uppercased() {
            case "NONE": break
            case "AWS_IAM": authorization = .iam
            default: authorization = .unenforced("\(type) authorization")
            }
        }
        // An operation's `security: null` is no requirement of its own: the document's applies
        // (only `security: []` opens a method).
        var security = fields.first(where: { $0.key.text == "security" })?.value
        if security?.isNull ?? true { security = defaultSecurity }
        if let security, !security.isNull {
            guard case .sequence(let requirements) = security else {
                log.error(file, security.line, "\(label): security must be a list of requirements, not \(security.kindName)")
                return nil
            }
            // Requirements are alternatives. The key is required when any of them names a key
            // scheme (API Gateway's importer sets apiKeyRequired the same way); the method is
            // protected when any names an authorizer, since Sluice cannot yet tell which one a
            // request satisfies.
            for requirement in requirements {
                for (name, scopes) in requirement.entries ?? [] {
                    guard let name = name.text else { continue }
                    switch schemes.kind(of: name) {
                    case .apiKey: keyRequired = true
                    case .iam:
                        if authorization == .none { authorization = .iam }
                    case .authorizer(let index):
                        let names: [String]
                        if case .sequence(let items) = scopes { names = items.compactMap(\.text) } else { names = [] }
                        if authorization == .none { authorization = .authorizer(index, scopes: names) }
                    case .protection(let protection):
                        if authorization == .none { authorization = .unenforced(protection) }
                    }
                }
            }
        }
        if let flag = fields.first(where: { $0.key.text == "x-amazon-apigateway-api-key-required" })?.value {
            switch flag.text {
            case "true": keyRequired = true
            case "false": keyRequired = false
            default:
                log.error(file, flag.line, "\(label): x-amazon-apigateway-api-key-required must be true or false")
                return nil
            }
        }
        return (keyRequired, authorization)
    }

    /// The integration's `cacheKeyParameters` (`method.request.querystring.NAME`,
    /// `method.request.header.NAME`, `method.request.path.NAME`). Nil when an error was reported;
    /// an entry of another form is a warning and ignored.
    private func cacheKeyParameters(_ operationNode: Node, label: String, pattern: RoutePattern) -> [CacheKeyParameter]? {
        guard let integrationNode = resolve(operationNode, what: label)?.entries?
                  .first(where: { $0.key.text == "x-amazon-apigateway-integration" })?.value,
              let integration = resolve(integrationNode, what: "\(label) integration"),
              let list = integration.entries?.first(where: { $0.key.text == "cacheKeyParameters" })?.value,
              !list.isNull else { return [] }
        guard case .sequence(let items) = list else {
            log.error(file, list.line, "\(label): cacheKeyParameters must be a list, not \(list.kindName)")
            return nil
        }
        var parameters: [CacheKeyParameter] = []
        for item in items {
            let text = item.text ?? ""
            let parameter: CacheKeyParameter?
            if let name = text.dropPrefix("method.request.querystring."), !name.isEmpty {
                parameter = .query(name)
            } else if let name = text.dropPrefix("method.request.header."), !name.isEmpty {
                parameter = .header(name.lowercased())
            } else if let name = text.dropPrefix("method.request.path."), !name.isEmpty {
                guard let index = pattern.parameterNames.firstIndex(of: name) else {
                    log.error(file, item.line, "\(label): cacheKeyParameters names path parameter '\(name)', which "
                              + "\(pattern) does not have")
                    return nil
                }
                parameter = .path(index)
            } else {
                log.warning(file, item.line, "\(label): cacheKeyParameters entry '\(text)' is not "
                            + "method.request.querystring|header|path.NAME; it is ignored")
                parameter = nil
            }
            if let parameter, !parameters.contains(parameter) { parameters.append(parameter) }
        }
        return parameters
    }

    /// Reads one operation's integration. Returns nil when an error was reported.
    private mutating func readOperation(_ operationNode: Node, label: String, pattern: RoutePattern,
                                        method: RouteMethod) -> ImportedIntegration? {
        guard var operation = resolve(operationNode, what: label) else { return nil }
        if operation.isNull { operation = .mapping(Node.Mapping([])) }
        guard let fields = operation.entries else {
            log.error(file, operation.line, "\(label): an operation must be a mapping, not \(operation.kindName)")
            return nil
        }
        var integrationEntry: (key: Node, value: Node)?
        for field in fields {
            if field.key.text == "x-amazon-apigateway-integration" {
                integrationEntry = field
            } else {
                noteExtension(field.key)
            }
        }
        guard let integrationEntry else {
            // API Gateway's importer creates such a method without an integration; calling it fails
            // with 500 at run time, and so does Sluice.
            log.warning(file, operationNode.line, "\(label) has no x-amazon-apigateway-integration; answers 500")
            return .ready(.unsupported("no integration"))
        }
        guard let integration = resolve(integrationEntry.value, what: "\(label) integration") else { return nil }
        guard let integrationFields = integration.entries else {
            log.error(file, integration.line, "\(label): x-amazon-apigateway-integration must be a mapping, "
                      + "not \(integration.kindName)")
            return nil
        }
        let typeNode = integrationFields.first { $0.key.text == "type" }?.value
        // Messages about the integration point at its `type`, or, for a shared integration reached
        // through `$ref`, at the operation that uses it (the shared one would be the same line for
        // every operation).
        let isReference = integrationEntry.value.entries?.contains { $0.key.text == "$ref" } ?? false
        let line = isReference ? integrationEntry.key.line : (typeNode?.line ?? integrationEntry.key.line)
        guard let typeText = typeNode?.text else {
            log.error(file, line, "\(label): the integration has no type (MOCK, HTTP, HTTP_PROXY, AWS_PROXY or AWS)")
            return nil
        }
        let upstreams = UpstreamIntegrationImport(file: file, log: log, limits: limits, patterns: patterns)
        if !["mock", "http", "http_proxy"].contains(typeText.lowercased()) {
            guard TemplateReader(file: file, log: log).compileAll(integrationFields, label: label) else { return nil }
        }
        switch typeText.lowercased() {
        case "mock":
            let mock = MockImport(file: file, log: log, patterns: patterns).read(integrationFields, label: label, line: line)
            return mock.map { .ready(.mock($0)) }
        case "http", "http_proxy":
            return upstreams.readHTTP(integrationFields, isProxy: typeText.lowercased() == "http_proxy", label: label,
                                      line: line, isShared: isReference, pattern: pattern, method: method)
        case "aws_proxy":
            return upstreams.readLambda(integrationFields, label: label, line: line, isShared: isReference)
        case "aws":
            log.warning(file, line, "\(label): AWS service integrations are not supported; answers 500")
            return .ready(.unsupported("AWS service integrations are not supported"))
        default:
            log.error(file, line, "\(label): unknown integration type '\(typeText)' (MOCK, HTTP, HTTP_PROXY, "
                      + "AWS_PROXY or AWS)")
            return nil
        }
    }

    /// Follows a local `$ref` (`#/components/...`); returns other nodes as they are. Reports and
    /// returns nil when the reference cannot be followed.
    private func resolve(_ node: Node, what: String) -> Node? {
        var current = node
        // A chain of references ends within a few hops; a cycle is a broken document.
        for _ in 0..<16 {
            guard let entries = current.entries, let reference = entries.first(where: { $0.key.text == "$ref" })
            else { return current }
            guard let target = reference.value.text, target.hasPrefix("#/") || target == "#" else {
                log.error(file, reference.value.line, "\(what): only references within the same document "
                          + "('#/...') are supported, not '\(reference.value.text ?? "?")'")
                return nil
            }
            guard let resolved = Self.follow(pointer: target, in: root) else {
                log.error(file, reference.value.line, "\(what): '$ref' target '\(target)' does not exist")
                return nil
            }
            current = resolved
        }
        log.error(file, node.line, "\(what): '$ref' chain is too long or circular")
        return nil
    }

    /// Resolves a JSON pointer (RFC 6901) in URI fragment form against the document.
    static func follow(pointer: String, in document: Node) -> Node? {
        var node = document
        let tokens = pointer.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false)
        if pointer == "#" { return document }
        for rawToken in tokens {
            let token = (PercentDecoding.decode(rawToken) ?? String(rawToken)).replacing("~1", with: "/").replacing("~0", with: "~")
            switch node {
            case .mapping:
                guard let next = node.entries?.first(where: { $0.key.text == token })?.value else { return nil }
                node = next
            case .sequence(let sequence):
                guard let index = Int(token), index >= 0, index < sequence.count else { return nil }
                node = sequence[index]
            default:
                return nil
            }
        }
        return node
    }

    /// Notes extension keys inside security schemes (authorizers), which sit one level below
    /// `components.securitySchemes` (OpenAPI 3) or directly in `securityDefinitions` (Swagger 2).
    private mutating func scanSecuritySchemes(_ node: Node?, directly: Bool = false) {
        guard let node else { return }
        var schemeNodes = node
        if !directly {
            guard let found = node.entries?.first(where: { $0.key.text == "securitySchemes" })?.value else { return }
            schemeNodes = found
        }
        for (nameNode, scheme) in schemeNodes.entries ?? [] {
            for (key, _) in scheme.entries ?? [] { noteExtension(key) }
            guard let name = nameNode.text else { continue }
            schemes.add(name: name, scheme: scheme, file: file, log: log)
        }
    }

    /// API Gateway's API key scheme: `type: apiKey`, in the header `x-api-key`, and not an
    /// authorizer or IAM (`x-amazon-apigateway-authtype` / `x-amazon-apigateway-authorizer`).
    static func isAPIKeyScheme(_ scheme: Node) -> Bool {
        guard let fields = scheme.entries else { return false }
        func value(_ key: String) -> String? { fields.first { $0.key.text == key }?.value.text }
        let isAuthorizer = fields.contains {
            $0.key.text == "x-amazon-apigateway-authtype" || $0.key.text == "x-amazon-apigateway-authorizer"
        }
        return !isAuthorizer && value("type") == "apiKey" && value("in")?.lowercased() == "header"
            && value("name")?.lowercased() == "x-api-key"
    }

    /// Counts an `x-amazon-apigateway-*` key that Sluice does not act on; other keys pass.
    private mutating func noteExtension(_ key: Node) {
        guard let name = key.text, name.hasPrefix("x-amazon-apigateway-"),
              !Self.supportedExtensions.contains(name), !Self.inertExtensions.contains(name) else { return }
        if let index = ignoredExtensions.firstIndex(where: { $0.name == name }) {
            ignoredExtensions[index].count += 1
        } else {
            ignoredExtensions.append((name, key.line, 1))
        }
    }

    private func reportIgnoredExtension(_ use: (name: String, line: Int, count: Int)) {
        let more = use.count > 1 ? " (\(use.count) uses in this file)" : ""
        if Self.plannedExtensions.contains(use.name) {
            log.warning(file, use.line, "\(use.name) is not supported yet and is ignored\(more)")
        } else {
            log.warning(file, use.line, "unknown extension \(use.name) is ignored\(more)")
        }
    }
}

extension String {
    /// The rest of the string after `prefix`, or nil when it does not start with it.
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
