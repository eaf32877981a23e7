import SluiceTemplates
import Yams

/// One entry of `x-amazon-apigateway-gateway-responses`: how an API shapes one of the gateway's
/// own answers (a refusal, an integration failure), or every 4XX/5XX without an entry of its own.
public struct GatewayResponseSettings: Sendable, Equatable {
    /// API Gateway's response type: `MISSING_AUTHENTICATION_TOKEN`, `THROTTLED`, `DEFAULT_4XX`, …
    public var responseType: String
    /// `statusCode`, or nil to keep the answer's own.
    public var statusCode: Int?
    /// Static headers from `responseParameters` (`gatewayresponse.header.NAME: "'value'"`).
    public var headers: [ResponseHeader]
    /// Headers whose values come from the request, the stage or `$context`
    /// (`gatewayresponse.header.NAME: method.request.header.Origin`), in definition order.
    public var mappedHeaders: [GatewayResponseMapping] = []
    /// The body template and its content type (`application/json` when there is one, else the
    /// first); nil keeps the answer's own body.
    public var template: ResponseTemplate?
    /// The same, compiled: one that is not plain text is rendered per answer.
    public var compiledTemplate: Template?

    public init(responseType: String, statusCode: Int? = nil, headers: [ResponseHeader] = [],
                template: ResponseTemplate? = nil) {
        self.responseType = responseType
        self.statusCode = statusCode
        self.headers = headers
        self.template = template
    }

    /// The response types API Gateway has (REST APIs).
    public static let responseTypes: Set<String> = [
        "ACCESS_DENIED", "API_CONFIGURATION_ERROR", "AUTHORIZER_CONFIGURATION_ERROR", "AUTHORIZER_FAILURE",
        "BAD_REQUEST_PARAMETERS", "BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX", "EXPIRED_TOKEN",
        "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT", "INVALID_API_KEY", "INVALID_SIGNATURE",
        "MISSING_AUTHENTICATION_TOKEN", "QUOTA_EXCEEDED", "REQUEST_TOO_LARGE", "RESOURCE_NOT_FOUND", "THROTTLED",
        "UNAUTHORIZED", "UNSUPPORTED_MEDIA_TYPE", "WAF_FILTERED",
    ]
}

/// A gateway response header whose value comes from the request, the stage or `$context`.
public struct GatewayResponseMapping: Sendable, Equatable {
    public var name: String
    public var source: GatewayResponseSource

    public init(name: String, source: GatewayResponseSource) {
        self.name = name
        self.source = source
    }
}

/// Where a gateway response header's value comes from (API Gateway's list for gateway
/// responses). A multi-value source gives its first value, as in request parameter mappings.
public enum GatewayResponseSource: Sendable, Equatable {
    /// `method.request.path.NAME`, by name: an operation without it gives nothing.
    case pathParameter(String)
    case query(String)
    case header(String)
    case stageVariable(String)
    case context(ContextVariable)
}

/// Reads `x-amazon-apigateway-gateway-responses`. Header values may be static or come from the
/// request, the stage or `$context`; templates get the `$context.error` values (the rest of the
/// template language comes with mapping templates: a template using it is sent as written, with
/// a warning).
struct GatewayResponsesImport {
    let file: String
    let log: DiagnosticLog

    /// Nil when an error was reported.
    func read(_ node: Node) -> [GatewayResponseSettings]? {
        guard let entries = node.entries else {
            log.error(file, node.line, "x-amazon-apigateway-gateway-responses must be a mapping, not \(node.kindName)")
            return nil
        }
        var responses: [GatewayResponseSettings] = []
        for (typeNode, value) in entries {
            guard let type = typeNode.text, GatewayResponseSettings.responseTypes.contains(type) else {
                log.error(file, typeNode.line, "'\(typeNode.text ?? "?")' is not a gateway response type (DEFAULT_4XX, "
                          + "DEFAULT_5XX, MISSING_AUTHENTICATION_TOKEN, THROTTLED, …)")
                return nil
            }
            guard let fields = value.entries else {
                log.error(file, value.line, "gateway response \(type) must be a mapping")
                return nil
            }
            var response = GatewayResponseSettings(responseType: type)
            for (key, field) in fields {
                switch key.text ?? "" {
                case "statusCode":
                    guard let text = field.text, let status = Int(text), (200...599).contains(status) else {
                        log.error(file, field.line, "gateway response \(type): statusCode must be a status from 200 to 599")
                        return nil
                    }
                    response.statusCode = status
                case "responseParameters":
                    for (nameNode, valueNode) in field.entries ?? [] {
                        let name = nameNode.text ?? ""
                        guard let header = name.dropPrefix("gatewayresponse.header."), !header.isEmpty,
                              header.utf8.allSatisfy(Self.isTokenByte) else {
                            log.error(file, nameNode.line, "gateway response \(type): '\(name)' is not "
                                      + "gatewayresponse.header.NAME")
                            return nil
                        }
                        let source = valueNode.text ?? ""
                        guard source.count >= 2, source.hasPrefix("'"), source.hasSuffix("'") else {
                            if let mapped = Self.source(source) {
                                response.mappedHeaders.append(GatewayResponseMapping(name: header, source: mapped))
                            } else {
                                log.warning(file, valueNode.line, "gateway response \(type): header \(header) maps "
                                            + "'\(source)', which is not method.request.path|querystring|header.NAME, "
                                            + "stageVariables.NAME, a $context variable Sluice provides or a "
                                            + "'static value'; the header is not sent")
                            }
                            continue
                        }
                        let text = String(source.dropFirst().dropLast())
                        guard text.utf8.allSatisfy({ $0 == 9 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                            log.error(file, valueNode.line, "gateway response \(type): header \(header)'s value has "
                                      + "control characters")
                            return nil
                        }
                        response.headers.append(ResponseHeader(name: header, value: text))
                    }
                case "responseTemplates":
                    var templates: [ResponseTemplate] = []
                    for (typeKey, template) in field.entries ?? [] {
                        guard let contentType = typeKey.text, !contentType.isEmpty,
                              contentType.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                            log.error(file, typeKey.line, "gateway response \(type): '\(typeKey.text ?? "?")' is not a "
                                      + "content type")
                            return nil
                        }
                        templates.append(ResponseTemplate(contentType: contentType, template: template.text ?? ""))
                    }
                    response.template = templates.first { $0.contentType == "application/json" } ?? templates.first
                    if let chosen = response.template,
                       let node = field.entries?.first(where: { $0.key.text == chosen.contentType })?.value {
                        let label = "gateway response \(type)"
                        guard let compiled = TemplateReader(file: file, log: log).compile(node, label: label,
                                                                                          what: "the template") else {
                            return nil
                        }
                        if compiled.readsBody || compiled.readsAllParameters || compiled.readsAllStageVariables {
                            log.warning(file, node.line, "\(label): the template reads $input.body, json or path, "
                                        + "$input.params() or $stageVariables as a whole, which a gateway response "
                                        + "does not have; they render as nothing")
                        }
                        response.compiledTemplate = compiled
                    }
                default:
                    log.warning(file, key.line, "unknown key '\(key.text ?? "?")' in gateway response \(type) is ignored")
                }
            }
            responses.append(response)
        }
        return responses
    }

    /// A mapped value's source, or nil when it is none API Gateway allows here (or a context
    /// variable Sluice does not provide).
    static func source(_ text: String) -> GatewayResponseSource? {
        let prefixes: [(String, (String) -> GatewayResponseSource?)] = [
            ("method.request.path.", { .pathParameter($0) }),
            ("method.request.querystring.", { .query($0) }),
            ("method.request.multivaluequerystring.", { .query($0) }),
            ("method.request.header.", { .header($0) }),
            ("method.request.multivalueheader.", { .header($0) }),
            ("stageVariables.", { .stageVariable($0) }),
            ("context.", { ContextVariable(rawValue: $0).map(GatewayResponseSource.context) }),
        ]
        guard let (prefix, make) = prefixes.first(where: { text.hasPrefix($0.0) }), text.count > prefix.count else {
            return nil
        }
        return make(String(text.dropFirst(prefix.count)))
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
