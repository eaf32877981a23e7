import SluiceHTTP1
import SluiceRouter
import Yams

/// An operation's integration as read from a definition. HTTP and Lambda integrations still need
/// the stages (their variables, the upstreams they resolve to) and wait for `IntegrationCompiler`;
/// a definition is read once even when several APIs use it.
enum ImportedIntegration {
    case ready(Integration)
    case http(HTTPIntegrationSpec)
    case lambda(LambdaIntegrationSpec)
}

/// An HTTP or HTTP_PROXY integration, checked, before its stages are known.
struct HTTPIntegrationSpec {
    var file: String
    /// `GET /pets`, to prefix messages.
    var label: String
    var uri: String
    /// Where messages about the URI point.
    var uriLine: Int
    var isProxy: Bool
    var method: HTTPMethod?
    var timeoutMilliseconds: Int
    var responses: [HTTPIntegrationResponse]
    var responseForStatus: [Int]
    /// HTTP (non-proxy): the request templates and the passthrough behaviour.
    var requestTemplates = RequestTemplates()
    /// Explicit `requestParameters` first, in definition order, then implicit path mappings.
    var parameters: [ParameterSpec]
    /// `tlsConfig`, for an `https://` URI.
    var tlsConfig = IntegrationTLSConfig()
}

/// An integration's `tlsConfig` (API Gateway's): how the upstream's certificate is checked.
struct IntegrationTLSConfig {
    /// `insecureSkipVerification`: any certificate is taken (still encrypted).
    var skipVerification = false
    /// `serverNameToVerify`: the name sent as SNI and checked against the certificate, in place
    /// of the URI's host.
    var serverName: String?
}

/// One request parameter mapping whose source may depend on the stage.
struct ParameterSpec {
    enum Source {
        case ready(ParameterSource)
        /// `stageVariables.NAME`.
        case stageVariable(String)
        /// `context.stage`.
        case stageName
        /// `context.apiId`.
        case apiName
    }

    var target: ParameterTarget
    var source: Source
    /// The `requestParameters` key as written, for messages.
    var key: String
    var line: Int
}

/// An AWS_PROXY integration, checked, before its stages are known.
struct LambdaIntegrationSpec {
    var file: String
    var label: String
    var uri: String
    var uriLine: Int
    var timeoutMilliseconds: Int
    var payloadFormatVersion: String
}

/// Selection patterns evaluated against every status code once per distinct pattern (a definition
/// repeats the same few patterns on every operation).
final class SelectionPatternCache {
    /// pattern → for each status in 100...599, whether the pattern matches it; nil when the pattern
    /// is not a regular expression Sluice can read.
    private var matches: [String: [Bool]?] = [:]

    func statuses(matching pattern: String) -> [Bool]? {
        if let known = matches[pattern] { return known }
        var result: [Bool]?
        if let regex = try? Regex(pattern) {
            result = (HTTPIntegration.statusMin...HTTPIntegration.statusMax).map { status in
                (try? regex.wholeMatch(in: String(status))) != nil
            }
        }
        matches[pattern] = result
        return result
    }
}

/// Reads HTTP, HTTP_PROXY and AWS_PROXY `x-amazon-apigateway-integration` objects.
struct UpstreamIntegrationImport {
    let file: String
    let log: DiagnosticLog
    let limits: Limits
    let patterns: SelectionPatternCache

    /// Integration URIs, selection patterns and parameter names are short; anything longer than
    /// this is a mistake worth stopping at.
    static let uriBytesMax = 8_192

    // MARK: HTTP and HTTP_PROXY

    /// Returns nil when an error was reported.
    ///
    /// - Parameters:
    ///   - line: where messages about the integration point (its `type`, or the operation's
    ///     integration key when the integration is shared through `$ref`).
    ///   - isShared: the integration is reached through `$ref`; messages point at `line`.
    func readHTTP(_ fields: [(key: Node, value: Node)], isProxy: Bool, label: String, line: Int, isShared: Bool,
                  pattern: RoutePattern, method: RouteMethod) -> ImportedIntegration? {
        func entry(_ name: String) -> (key: Node, value: Node)? { fields.first { $0.key.text == name } }
        let type = isProxy ? "HTTP_PROXY" : "HTTP"

        let timeout = timeoutMilliseconds(entry("timeoutInMillis")?.value, label: label)
        guard let uriNode = entry("uri")?.value, let uri = uriNode.text, !uri.isEmpty else {
            log.warning(file, line, "\(label): the \(type) integration has no uri; answers 500")
            return timeout == nil ? nil : .ready(.unsupported("\(type) integration without a uri"))
        }
        // A URI in a shared integration (`$ref`) would point every operation at the same line; the
        // operation's own line says which one is meant.
        let uriLine = isShared || uriNode.line == 0 ? line : uriNode.line
        guard let timeout else { return nil }
        if uri.utf8.count > Self.uriBytesMax {
            log.error(file, uriLine, "\(label): the integration URI is longer than \(Self.uriBytesMax) bytes")
            return nil
        }
        // Without stage variables the URI is the same for every stage: check it once, here.
        if StageVariableText.references(in: uri).isEmpty {
            if case .failure(let problem) = Self.parseTarget(uri) {
                log.error(file, uriLine, "\(label): the integration URI '\(uri)' is not a URL: \(problem.message)")
                return nil
            }
        }

        if let connection = entry("connectionType")?.value, connection.text?.uppercased() == "VPC_LINK" {
            log.warning(file, connection.line, "\(label): connectionType VPC_LINK: Sluice connects to the URI's "
                        + "host directly (there is no VPC link outside AWS)")
        }

        var integrationMethod: HTTPMethod?
        if let methodNode = entry("httpMethod")?.value {
            let text = (methodNode.text ?? "").uppercased()
            if text != "ANY" {
                guard let known = RouteMethod.routableMethods.first(where: { $0.openAPIName.uppercased() == text }) else {
                    log.warning(file, methodNode.line, "\(label): httpMethod '\(methodNode.text ?? methodNode.kindName)' "
                                + "is not GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS or ANY; answers 500")
                    return .ready(.unsupported("\(type) integration with httpMethod \(text)"))
                }
                integrationMethod = known
            }
        } else if !isProxy {
            log.warning(file, line, "\(label): the HTTP integration has no httpMethod; the request's method is used")
        }

        // Request parameters, then the path variables nothing maps.
        let uriVariables = PathVariableScan.names(in: uri)
        var parameters: [ParameterSpec] = []
        if let node = entry("requestParameters")?.value, !node.isNull {
            if let pairs = node.entries {
                for (key, value) in pairs {
                    if let parameter = requestParameter(key, value, label: label, pattern: pattern, method: method,
                                                        uriVariables: uriVariables) {
                        parameters.append(parameter)
                    }
                }
            } else {
                log.warning(file, node.line, "\(label): requestParameters must be a mapping; it is ignored")
            }
        }
        for name in uriVariables where !parameters.contains(where: { $0.target == .path(name) }) {
            // API Gateway's REST console adds `integration.request.path.NAME: method.request.path.NAME`
            // by itself, and HTTP APIs fill URI variables from the route's: so does Sluice.
            guard let index = pattern.parameterNames.firstIndex(of: name) else {
                log.warning(file, uriLine, "\(label): {\(name)} in the integration URI is not mapped "
                            + "(no integration.request.path.\(name) in requestParameters) and \(pattern) has no path "
                            + "parameter '\(name)'; answers 500")
                return .ready(.unsupported("{\(name)} in the integration URI is not mapped"))
            }
            parameters.append(ParameterSpec(target: .path(name), source: .ready(.pathParameter(index)), key: "",
                                            line: uriLine))
        }

        var responses: [HTTPIntegrationResponse] = []
        var responseForStatus: [Int] = []
        var requestTemplates = RequestTemplates()
        let reader = TemplateReader(file: file, log: log)
        if isProxy {
            // HTTP_PROXY passes the request and the answer as they are: templates are not used,
            // but a broken one is still an error.
            guard reader.compileAll(fields, label: label) else { return nil }
        } else {
            guard let templates = reader.read(entry("requestTemplates")?.value, label: label, what: "requestTemplates"),
                  let passthrough = reader.passthrough(entry("passthroughBehavior")?.value, label: label),
                  case .success(let handling) = ContentHandling.read(entry("contentHandling")?.value, label: label,
                                                                     file: file, log: log) else { return nil }
            requestTemplates = RequestTemplates(templates: templates, passthrough: passthrough, contentHandling: handling)
            guard let read = integrationResponses(entry("responses")?.value, label: label) else { return nil }
            responses = read.responses
            responseForStatus = read.responseForStatus
            if responses.isEmpty {
                log.warning(file, line, "\(label): the HTTP integration has no integration responses; every call "
                            + "answers 500 (add a 'default' response)")
            }
        }

        guard let tlsConfig = tlsConfig(entry("tlsConfig")?.value, label: label) else { return nil }
        return .http(HTTPIntegrationSpec(file: file, label: label, uri: uri, uriLine: uriLine, isProxy: isProxy,
                                         method: integrationMethod, timeoutMilliseconds: timeout,
                                         responses: responses, responseForStatus: responseForStatus,
                                         requestTemplates: requestTemplates, parameters: parameters,
                                         tlsConfig: tlsConfig))
    }

    /// `tlsConfig: {insecureSkipVerification, serverNameToVerify}`; nil when an error was reported.
    private func tlsConfig(_ node: Node?, label: String) -> IntegrationTLSConfig? {
        var config = IntegrationTLSConfig()
        guard let node, !node.isNull else { return config }
        guard let entries = node.entries else {
            log.error(file, node.line, "\(label): tlsConfig must be a mapping")
            return nil
        }
        var valid = true
        for (key, value) in entries {
            switch key.text ?? "" {
            case "insecureSkipVerification":
                switch value.text {
                case "true": config.skipVerification = true
                case "false": config.skipVerification = false
                default:
                    log.error(file, value.line, "\(label): tlsConfig.insecureSkipVerification must be true or false")
                    valid = false
                }
            case "serverNameToVerify":
                guard let name = value.text, !name.isEmpty, name.utf8.count < 256,
                      name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
                    log.error(file, value.line, "\(label): tlsConfig.serverNameToVerify must be a host name")
                    valid = false
                    continue
                }
                config.serverName = name.lowercased()
            default:
                log.warning(file, key.line, "\(label): tlsConfig.\(key.text ?? "?") is not supported and is ignored")
            }
        }
        return valid ? config : nil
    }

    /// A URI's URL and path pieces (stage variables already substituted).
    static func parseTarget(_ uri: String) -> Result<(url: UpstreamURL, path: [URIPiece]), URLProblem> {
        switch UpstreamURL.parse(uri) {
        case .failure(let problem): return .failure(problem)
        case .success(let url):
            switch UpstreamURL.pieces(ofPath: url.path) {
            case .failure(let problem): return .failure(problem)
            case .success(let pieces): return .success((url, pieces))
            }
        }
    }

    /// One `requestParameters` entry; nil (after a warning) when it is ignored.
    private func requestParameter(_ key: Node, _ value: Node, label: String, pattern: RoutePattern,
                                  method: RouteMethod, uriVariables: [String]) -> ParameterSpec? {
        let keyText = key.text ?? ""
        let targetPrefixes: [(String, (String) -> ParameterTarget)] = [
            ("integration.request.path.", { .path($0) }),
            ("integration.request.querystring.", { .query($0) }),
            ("integration.request.multivaluequerystring.", { .query($0) }),
            ("integration.request.header.", { .header($0) }),
            ("integration.request.multivalueheader.", { .header($0) }),
        ]
        guard let (prefix, makeTarget) = targetPrefixes.first(where: { keyText.hasPrefix($0.0) }),
              keyText.count > prefix.count else {
            log.warning(file, key.line, "\(label): request parameter '\(keyText)' is ignored (Sluice maps "
                        + "integration.request.path, .querystring and .header)")
            return nil
        }
        let name = String(keyText.dropFirst(prefix.count))
        let target = makeTarget(name)
        if case .header = target, ["content-length", "transfer-encoding"].contains(name.lowercased()) {
            log.warning(file, key.line, "\(label): request parameter '\(keyText)' maps a header that frames the "
                        + "request; as on API Gateway, every request of the method answers 500 "
                        + "(InternalServerErrorException)")
        }
        if case .path = target, !uriVariables.contains(name) {
            log.warning(file, key.line, "\(label): request parameter '\(keyText)' is ignored: the integration URI "
                        + "has no {\(name)}")
            return nil
        }
        guard let sourceText = value.text, !sourceText.isEmpty else {
            log.warning(file, value.line, "\(label): request parameter '\(keyText)' must map a string such as "
                        + "method.request.path.NAME or 'static value'; it is ignored")
            return nil
        }
        func ignored(_ why: String) -> ParameterSpec? {
            log.warning(file, value.line, "\(label): request parameter '\(keyText)' maps '\(sourceText)', \(why); "
                        + "the parameter is not sent")
            return nil
        }
        func spec(_ source: ParameterSpec.Source) -> ParameterSpec {
            ParameterSpec(target: target, source: source, key: keyText, line: value.line)
        }

        if sourceText.count >= 2, sourceText.hasPrefix("'"), sourceText.hasSuffix("'") {
            return spec(.ready(.literal(String(sourceText.dropFirst().dropLast()))))
        }
        let sources: [(String, (String) -> ParameterSpec.Source?)] = [
            ("method.request.path.", { name in
                pattern.parameterNames.firstIndex(of: name).map { .ready(.pathParameter($0)) }
            }),
            ("method.request.querystring.", { .ready(.query($0)) }),
            ("method.request.multivaluequerystring.", { .ready(.multiValueQuery($0)) }),
            ("method.request.header.", { .ready(.header($0)) }),
            ("method.request.multivalueheader.", { .ready(.multiValueHeader($0)) }),
            ("stageVariables.", { .stageVariable($0) }),
            ("context.", { name in Self.contextSource(name, pattern: pattern, method: method) }),
        ]
        guard let (sourcePrefix, makeSource) = sources.first(where: { sourceText.hasPrefix($0.0) }),
              sourceText.count > sourcePrefix.count else {
            if sourceText.hasPrefix("method.request.body") {
                return ignored("which is not supported yet")
            }
            return ignored("which is not a method request parameter, a 'static value', a stage variable or a "
                           + "context variable")
        }
        let sourceName = String(sourceText.dropFirst(sourcePrefix.count))
        guard let source = makeSource(sourceName) else {
            if sourcePrefix == "method.request.path." {
                return ignored("but \(pattern) has no path parameter '\(sourceName)'")
            }
            return ignored("which is not supported yet")
        }
        return spec(source)
    }

    /// `context.NAME`: what is fixed for the operation becomes a literal now; what is fixed for the
    /// stage, at compile time; the rest stays for the request. nil for a variable Sluice does not
    /// provide (yet): the authorizer's, most of `identity`.
    private static func contextSource(_ name: String, pattern: RoutePattern, method: RouteMethod)
        -> ParameterSpec.Source? {
        let claimPrefix = "authorizer.claims."
        if name.hasPrefix(claimPrefix) && name.count > claimPrefix.count {
            return .ready(.claim(String(name.dropFirst(claimPrefix.count))))
        }
        let authorizerPrefix = "authorizer."
        if name.hasPrefix(authorizerPrefix) && name.count > authorizerPrefix.count {
            return .ready(.authorizer(String(name.dropFirst(authorizerPrefix.count))))
        }
        guard let variable = ContextVariable(rawValue: name), variable.isKnownBeforeTheIntegration else { return nil }
        switch variable {
        case .stage: return .stageName
        case .apiId: return .apiName
        case .resourcePath: return .ready(.literal(pattern.description))
        case .httpMethod:
            if case .exact = method { return .ready(.literal(method.description)) }
            return .ready(.context(.httpMethod))
        default: return .ready(.context(variable))
        }
    }

    /// The integration responses of an HTTP (non-proxy) integration and the status → response
    /// table. nil when an error was reported.
    private func integrationResponses(_ node: Node?, label: String)
        -> (responses: [HTTPIntegrationResponse], responseForStatus: [Int])? {
        var responses: [HTTPIntegrationResponse] = []
        var matches: [[Bool]?] = []
        var valid = true
        if let node, !node.isNull {
            guard let pairs = node.entries else {
                log.error(file, node.line, "\(label): integration 'responses' must be a mapping")
                return nil
            }
            for (key, value) in pairs {
                let keyText = key.text ?? ""
                let selectionPattern: String? = keyText == "default" || keyText.isEmpty ? nil : keyText
                guard let fields = value.entries else {
                    log.error(file, value.line, "\(label): integration response '\(keyText)' must be a mapping, "
                              + "not \(value.kindName)")
                    valid = false
                    continue
                }
                func field(_ name: String) -> Node? { fields.first { $0.key.text == name }?.value }
                guard let statusNode = field("statusCode") else {
                    log.error(file, key.line, "\(label): integration response '\(keyText)' has no statusCode")
                    valid = false
                    continue
                }
                guard let statusText = statusNode.text, let status = ConfigReader.parseInteger(statusText),
                      (200...599).contains(status) else {
                    log.error(file, statusNode.line, "\(label): statusCode must be an HTTP status between 200 and "
                              + "599, not '\(statusNode.text ?? statusNode.kindName)'")
                    valid = false
                    continue
                }
                var statuses: [Bool]?
                if let selectionPattern {
                    statuses = patterns.statuses(matching: selectionPattern)
                    if statuses == nil {
                        log.warning(file, key.line, "\(label): selection pattern '\(selectionPattern)' is not a regular "
                                    + "expression Sluice can read; it never matches")
                        statuses = Array(repeating: false, count: HTTPIntegration.statusMax - HTTPIntegration.statusMin + 1)
                    }
                }
                var response = HTTPIntegrationResponse(statusCode: status, selectionPattern: selectionPattern)
                readResponseParameters(field("responseParameters"), into: &response, label: label)
                guard let templates = TemplateReader(file: file, log: log).read(field("responseTemplates"), label: label,
                                                                                what: "responseTemplates") else {
                    valid = false
                    continue
                }
                response.templates = templates
                guard case .success(let handling) = ContentHandling.read(field("contentHandling"), label: label,
                                                                         file: file, log: log) else {
                    valid = false
                    continue
                }
                response.contentHandling = handling
                responses.append(response)
                matches.append(statuses)
            }
        }
        guard valid else { return nil }

        // API Gateway: the first response whose pattern matches, else the default (the response
        // without a pattern), else none (500).
        let defaultIndex = matches.firstIndex { $0 == nil } ?? -1
        let table = (0...(HTTPIntegration.statusMax - HTTPIntegration.statusMin)).map { offset in
            matches.firstIndex { $0?[offset] == true } ?? defaultIndex
        }
        return (responses, table)
    }

    private func readResponseParameters(_ node: Node?, into response: inout HTTPIntegrationResponse, label: String) {
        guard let pairs = node?.entries else { return }
        let prefix = "method.response.header."
        for (key, value) in pairs {
            let name = key.text ?? ""
            guard name.hasPrefix(prefix), name.count > prefix.count else {
                log.warning(file, key.line, "\(label): response parameter '\(name)' is ignored")
                continue
            }
            let headerName = String(name.dropFirst(prefix.count))
            let source = value.text ?? ""
            if source.count >= 2, source.hasPrefix("'"), source.hasSuffix("'") {
                response.headers.append(ResponseHeader(name: headerName, value: String(source.dropFirst().dropLast())))
                continue
            }
            let upstreamPrefixes = ["integration.response.header.", "integration.response.multivalueheader."]
            if let upstreamPrefix = upstreamPrefixes.first(where: { source.hasPrefix($0) }),
               source.count > upstreamPrefix.count {
                response.headerMappings.append(HeaderMapping(name: headerName,
                                                             fromUpstreamHeader: String(source.dropFirst(upstreamPrefix.count))))
                continue
            }
            log.warning(file, value.line, "\(label): response header \(headerName) maps '\(source)', which is not "
                        + "supported yet; the header is not sent")
        }
    }

    // MARK: AWS_PROXY

    /// Returns nil when an error was reported.
    func readLambda(_ fields: [(key: Node, value: Node)], label: String, line: Int, isShared: Bool)
        -> ImportedIntegration? {
        func entry(_ name: String) -> (key: Node, value: Node)? { fields.first { $0.key.text == name } }
        let timeout = timeoutMilliseconds(entry("timeoutInMillis")?.value, label: label)
        if let subtype = entry("integrationSubtype")?.value {
            // HTTP APIs' AWS service integrations (SQS-SendMessage, …) are AWS_PROXY with a subtype.
            let name = subtype.text ?? "?"
            log.warning(file, subtype.line, "\(label): AWS service integrations (integrationSubtype \(name)) are not "
                        + "supported; answers 500")
            return timeout == nil ? nil : .ready(.unsupported("AWS service integration \(name)"))
        }
        guard let uriNode = entry("uri")?.value, let uri = uriNode.text, !uri.isEmpty else {
            log.warning(file, line, "\(label): the AWS_PROXY integration has no uri; answers 500")
            return timeout == nil ? nil : .ready(.unsupported("AWS_PROXY integration without a uri"))
        }
        let uriLine = isShared || uriNode.line == 0 ? line : uriNode.line
        guard let timeout else { return nil }
        if uri.utf8.count > Self.uriBytesMax {
            log.error(file, uriLine, "\(label): the integration URI is longer than \(Self.uriBytesMax) bytes")
            return nil
        }
        if StageVariableText.references(in: uri).isEmpty,
           case .failure(let problem) = LambdaFunctionReference.fromIntegrationURI(uri) {
            log.warning(file, uriLine, "\(label): the AWS_PROXY URI is not a Lambda function: \(problem.message); "
                        + "answers 500")
            return .ready(.unsupported("AWS_PROXY integration with a URI that is not a Lambda function"))
        }

        // Lambda is invoked with POST; API Gateway answers 500 for any other httpMethod.
        if let methodNode = entry("httpMethod")?.value, methodNode.text?.uppercased() != "POST" {
            log.warning(file, methodNode.line, "\(label): an AWS_PROXY integration's httpMethod must be POST, not "
                        + "'\(methodNode.text ?? methodNode.kindName)'; answers 500, as on API Gateway")
            return .ready(.unsupported("AWS_PROXY integration with httpMethod \(methodNode.text ?? "?")"))
        }

        var version = "1.0"
        if let versionNode = entry("payloadFormatVersion")?.value {
            switch versionNode.text ?? "" {
            case "1.0", "1": version = "1.0"
            case "2.0", "2": version = "2.0"
            default:
                log.warning(file, versionNode.line, "\(label): payloadFormatVersion "
                            + "'\(versionNode.text ?? versionNode.kindName)' is not 1.0 or 2.0; 1.0 is used")
            }
        }
        return .lambda(LambdaIntegrationSpec(file: file, label: label, uri: uri, uriLine: uriLine,
                                             timeoutMilliseconds: timeout, payloadFormatVersion: version))
    }

    // MARK: Shared

    /// `timeoutInMillis`, or the configured default. nil when an error was reported.
    private func timeoutMilliseconds(_ node: Node?, label: String) -> Int? {
        guard let node, !node.isNull else { return limits.integrationTimeoutMillisecondsDefault }
        let range = limits.integrationTimeoutMillisecondsMin...limits.integrationTimeoutMillisecondsMax
        guard let text = node.text, let value = ConfigReader.parseInteger(text) else {
            log.error(file, node.line, "\(label): timeoutInMillis must be an integer between \(range.lowerBound) and "
                      + "\(range.upperBound), not '\(node.text ?? node.kindName)'")
            return nil
        }
        guard range.contains(value) else {
            log.error(file, node.line, "\(label): timeoutInMillis must be between \(range.lowerBound) and "
                      + "\(range.upperBound) ms (limits.integration_timeout_ms), not \(value)")
            return nil
        }
        return value
    }
}
