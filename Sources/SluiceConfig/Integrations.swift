import SluiceHTTP1

// The compiled form of HTTP, HTTP_PROXY and AWS_PROXY integrations: everything the worker needs,
// decided at load time. Stage variables are already substituted (one target per stage), host
// names already resolved, selection patterns already evaluated for every status code, so that the
// request path runs no regular expression, parses no URL and never looks anything up by name.
// docs/integrations.md describes the behaviour these types encode.

/// An upstream server: one `scheme://host:port`, shared by every operation and stage that points
/// at it, so that the worker keeps one connection pool per upstream.
public struct Upstream: Sendable, Hashable {
    /// `http` or `https`.
    public var scheme: String
    /// The host as written in the URI or stage variable, lowercased (for Host headers and logs).
    /// An IPv6 literal is kept without brackets.
    public var host: String
    /// The port from the URI, or the scheme's default (80, 443).
    public var port: UInt16
    /// Where to connect, in the resolver's order of preference. Never empty for an upstream a
    /// stage uses, unless the configuration was loaded with `HostResolver.skip` (for `check`).
    public var addresses: [ResolvedAddress]
    /// `https`: how the upstream's certificate is checked; nil for `http`.
    public var tls: UpstreamTLS?

    public init(scheme: String, host: String, port: UInt16, addresses: [ResolvedAddress], tls: UpstreamTLS? = nil) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.addresses = addresses
        self.tls = tls
    }

    /// `http://host:port`, for logs and messages.
    public var description: String {
        "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }
}

/// An `https` upstream's TLS: the name sent as SNI and checked against its certificate (the
/// URI's host, or the integration's `tlsConfig.serverNameToVerify`), and whether it is checked
/// at all (`insecureSkipVerification`). The CA certificates are the deployment's
/// (`upstreams.tls.ca_file`, or the system's).
public struct UpstreamTLS: Sendable, Hashable {
    public var serverName: String
    public var verify: Bool

    public init(serverName: String, verify: Bool) {
        self.serverName = serverName
        self.verify = verify
    }
}

/// A numeric address to connect to.
public struct ResolvedAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 or IPv6 literal (IPv6 without brackets and without a zone).
    public var host: String
    /// Usually the upstream's port; `upstreams.resolve` may send connections elsewhere.
    public var port: UInt16
    public var isIPv6: Bool

    public init(host: String, port: UInt16, isIPv6: Bool) {
        self.host = host
        self.port = port
        self.isIPv6 = isIPv6
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// `upstreams.defaults` in sluice.yaml: the connection pool each worker keeps per upstream.
public struct UpstreamPoolSettings: Sendable, Equatable {
    /// Keep-alive connections a worker keeps open to one upstream while they are idle; beyond
    /// this, a connection is closed when its exchange ends.
    public var idleConnectionsMax: Int
    /// Connections a worker may have open to one upstream at once, busy or idle. A request that
    /// would need one more is answered 503 (docs/integrations.md).
    public var connectionsMax: Int
    /// An idle upstream connection is closed after this time.
    public var idleTimeoutMilliseconds: Int

    public init(idleConnectionsMax: Int = 64, connectionsMax: Int = 1_024, idleTimeoutMilliseconds: Int = 60_000) {
        self.idleConnectionsMax = idleConnectionsMax
        self.connectionsMax = connectionsMax
        self.idleTimeoutMilliseconds = idleTimeoutMilliseconds
    }
}

/// API Gateway's HTTP (`isProxy == false`) and HTTP_PROXY (`isProxy == true`) integrations.
public struct HTTPIntegration: Sendable {
    /// HTTP_PROXY: the method request's query string, headers and body are passed through, and the
    /// upstream's response is returned as is. HTTP: only what `requestParameters` map is sent
    /// (and the body), and `responses` shape the answer.
    public var isProxy: Bool
    /// The integration's `httpMethod`; nil for `ANY` (or none written): use the request's method.
    public var method: HTTPMethod?
    /// `timeoutInMillis`, or the configured default; within `limits.integration_timeout_ms`.
    public var timeoutMilliseconds: Int
    /// Indexed by stage index (`Deployment.stages`; `targets.count == stages.count`). nil for the
    /// stages of other APIs, and for a stage where the integration cannot work (the loader has
    /// warned; the worker answers 500). Stage variables are substituted per stage here, so the
    /// worker never sees them.
    public var targets: [HTTPTarget?]
    /// HTTP (non-proxy) only; empty for HTTP_PROXY. The integration responses in definition order.
    public var responses: [HTTPIntegrationResponse]
    /// HTTP (non-proxy) only; empty for HTTP_PROXY. For an upstream status `s` in 100...599,
    /// `responseForStatus[s - 100]` is the index in `responses` of the response to send: the first
    /// whose selection pattern matches the status (as a string, whole match), else the default
    /// one; -1 when there is neither, which API Gateway answers with 500. A status outside
    /// 100...599 is a bad upstream response (502).
    public var responseForStatus: [Int]
    /// HTTP (non-proxy) only: the request templates, by content type, and what a request without
    /// a matching one gets (`passthroughBehavior`).
    public var requestTemplates: RequestTemplates

    public init(isProxy: Bool, method: HTTPMethod?, timeoutMilliseconds: Int, targets: [HTTPTarget?],
                responses: [HTTPIntegrationResponse] = [], responseForStatus: [Int] = [],
                requestTemplates: RequestTemplates = RequestTemplates()) {
        self.isProxy = isProxy
        self.method = method
        self.timeoutMilliseconds = timeoutMilliseconds
        self.targets = targets
        self.responses = responses
        self.responseForStatus = responseForStatus
        self.requestTemplates = requestTemplates
    }

    /// The first status `responseForStatus` covers.
    public static let statusMin = 100
    /// The last status `responseForStatus` covers.
    public static let statusMax = 599
}

/// Where one stage sends an HTTP or HTTP_PROXY integration's requests.
public struct HTTPTarget: Sendable {
    /// Index into `Deployment.upstreams`.
    public var upstream: Int
    /// The Host header to send: `host`, or `host:port` when the port is not the scheme's default
    /// (`[v6]:port` for an IPv6 literal). As written in the URI, whatever `upstreams.resolve` says.
    public var hostHeader: String
    /// The URI's path (never empty; `/` at least), still percent-encoded as written, with its
    /// `{name}` / `{name+}` pieces to fill from `parameters` whose target is `.path(name)`.
    public var path: [URIPiece]
    /// The URI's own query string, as written (still percent-encoded), in order. Sent first;
    /// passed-through and mapped query parameters follow.
    public var query: [QueryParameter]
    /// `requestParameters` (plus the implicit path mappings, see docs/integrations.md), with stage
    /// variables and the context variables that are fixed per operation and stage already turned
    /// into literals.
    public var parameters: [ParameterMapping]

    public init(upstream: Int, hostHeader: String, path: [URIPiece], query: [QueryParameter] = [],
                parameters: [ParameterMapping] = []) {
        self.upstream = upstream
        self.hostHeader = hostHeader
        self.path = path
        self.query = query
        self.parameters = parameters
    }
}

/// A piece of an integration URI's path.
public enum URIPiece: Sendable, Equatable {
    /// Bytes to send as they are (already percent-encoded as written in the URI).
    case literal(String)
    /// `{name}` or `{name+}`: the value of the mapping whose target is `.path(name)`.
    case parameter(String)
}

/// One `name=value` of an integration URI's query string, both as written (percent-encoded).
/// `value` is nil for a bare `name` (no `=`).
public struct QueryParameter: Sendable, Equatable {
    public var name: String
    public var value: String?

    public init(name: String, value: String?) {
        self.name = name
        self.value = value
    }
}

extension QueryParameter {
    /// The value's pieces: text as written, and `{name}` placeholders, which are filled like the
    /// path's (a `{` that does not open a placeholder stays text).
    public var valuePieces: [URIPiece]? {
        value.map { value in
            var pieces: [URIPiece] = []
            var literal = ""
            var rest = Substring(value)
            while let open = rest.firstIndex(of: "{") {
                literal += rest[..<open]
                let after = rest[rest.index(after: open)...]
                if let close = after.firstIndex(of: "}"), PathVariableScan.isParameterName(after[..<close]) {
                    if !literal.isEmpty { pieces.append(.literal(literal)) }
                    literal = ""
                    pieces.append(.parameter(String(after[..<close])))
                    rest = after[after.index(after: close)...]
                } else {
                    literal += "{"
                    rest = after
                }
            }
            literal += rest
            if !literal.isEmpty { pieces.append(.literal(literal)) }
            return pieces
        }
    }
}

/// One entry of `requestParameters`: `integration.request.<target>: <source>`.
public struct ParameterMapping: Sendable, Equatable {
    public var target: ParameterTarget
    public var source: ParameterSource

    public init(target: ParameterTarget, source: ParameterSource) {
        self.target = target
        self.source = source
    }
}

/// Where a mapped value goes in the integration request.
public enum ParameterTarget: Sendable, Equatable {
    /// `integration.request.path.NAME`: fills `URIPiece.parameter(NAME)`.
    case path(String)
    /// `integration.request.querystring.NAME` or `multivaluequerystring.NAME`: a query parameter;
    /// one per value of the source.
    case query(String)
    /// `integration.request.header.NAME` or `multivalueheader.NAME`: a header, replacing a
    /// passed-through header of the same name; one per value of the source.
    case header(String)
}

/// Where a mapped value comes from.
public enum ParameterSource: Sendable, Equatable {
    /// `method.request.path.NAME`: index into the operation's `pathParameterNames` (the value is
    /// sent as received, still percent-encoded; a greedy `{proxy+}` value keeps its slashes).
    case pathParameter(Int)
    /// `method.request.querystring.NAME`: the last value of that query parameter (API Gateway's
    /// rule for a single-value source); absent → the parameter is not sent.
    case query(String)
    /// `method.request.multivaluequerystring.NAME`: every value, in request order.
    case multiValueQuery(String)
    /// `method.request.header.NAME` (case-insensitive): the last value; absent → not sent.
    case header(String)
    /// `method.request.multivalueheader.NAME`: every value, in request order.
    case multiValueHeader(String)
    /// A static `'value'`, or `stageVariables.NAME` (already resolved for the target's stage), or a
    /// context variable that is fixed for the operation and stage (`stage`, `resourcePath`,
    /// `apiId`, and `httpMethod` for an operation that is not ANY).
    case literal(String)
    /// `context.NAME`: a value only the request knows.
    case context(ContextVariable)
    /// `context.authorizer.claims.NAME`: a claim of the request's verified token.
    case claim(String)
    /// `context.authorizer.NAME`: a Lambda authorizer's context value, or `principalId`.
    case authorizer(String)
}

/// API Gateway's `$context` variables (without `context.`) that Sluice provides: to parameter
/// mappings (those `isKnownBeforeTheIntegration`) and to access logs (all). For mappings the
/// loader turns `stage`, `resourcePath`, `apiId` and a non-ANY operation's `httpMethod` into
/// literals, so the worker meets only the others.
public enum ContextVariable: String, Sendable, CaseIterable {
    /// A unique id per request: the `x-amzn-RequestId` the gateway sends back.
    case requestId
    /// API Gateway's second id, the `x-amz-apigw-id` header: 16 base64 characters.
    case extendedRequestId
    /// The stage's name.
    case stage
    /// The request's method (`GET`), not `ANY`.
    case httpMethod
    /// The resource path template (`/pets/{petId}`).
    case resourcePath
    /// The request path as received, with the stage (and base path) segments (`/prod/pets/7`).
    case path
    /// `HTTP/1.1`.
    case `protocol`
    /// The client's address (the TCP peer).
    case sourceIp = "identity.sourceIp"
    /// The `User-Agent` header.
    case userAgent = "identity.userAgent"
    /// The API's name in sluice.yaml (API Gateway's 10-character id has no equivalent).
    case apiId
    /// The id of the deployment whose definition answered: `Deployment.id` (it changes with any
    /// input file), or a rolled-back stage's or a canary's (`Stage.deploymentID`).
    case deploymentId
    /// `true` for a request a stage's canary served, `false` for the others of a stage with a
    /// canary; empty (`-` in access logs) where the stage has none.
    case isCanaryRequest
    /// The request time, CLF format: `21/Nov/2026:08:48:26 +0000`.
    case requestTime
    /// The request time, epoch milliseconds.
    case requestTimeEpoch
    /// The Host header, without its port.
    case domainName
    /// The first label of `domainName`.
    case domainPrefix
    /// The API key's id (its `name` in sluice.yaml); never the key itself.
    case apiKeyId = "identity.apiKeyId"
    /// Mutual TLS: the client certificate the handshake verified (empty without one): its PEM,
    /// subject and issuer (RFC 2253), serial number (hex bytes joined by ':') and validity.
    case clientCertPem = "identity.clientCert.clientCertPem"
    case clientCertSubjectDN = "identity.clientCert.subjectDN"
    case clientCertIssuerDN = "identity.clientCert.issuerDN"
    case clientCertSerialNumber = "identity.clientCert.serialNumber"
    case clientCertNotBefore = "identity.clientCert.validity.notBefore"
    case clientCertNotAfter = "identity.clientCert.validity.notAfter"
    /// Sluice's: the TLS version and cipher of the request's connection (`TLSv1.3`,
    /// `TLS_AES_128_GCM_SHA256`); empty over plain HTTP.
    case tlsVersion
    case tlsCipher
    /// IAM: the credential that signed the request: its user's ARN, its principal (`caller` and
    /// `user`) and its access key id.
    case userArn = "identity.userArn"
    case caller = "identity.caller"
    case user = "identity.user"
    case accessKey = "identity.accessKey"
    /// The authorizer step: its status (200, 401, 403, 500; empty without an authorizer), its
    /// latency in milliseconds, and the error it answered with.
    case authorizeStatus = "authorize.status"
    case authorizeLatency = "authorize.latency"
    case authorizeError = "authorize.error"
    /// Sluice's: the request's W3C trace id, 32 hex digits (`traceparent`).
    case traceId
    /// The same trace id as X-Ray writes it: `Root=1-XXXXXXXX-…`.
    case xrayTraceId

    // Known once the request is answered: access logs only.
    case status
    /// Bytes of the response's body.
    case responseLength
    /// Milliseconds from the request's head to the end of its response.
    case responseLatency
    /// Milliseconds from handing the request to the integration to the head of its answer.
    case integrationLatency
    case integrationLatencyDotted = "integration.latency"
    /// The integration's status: the upstream's, or the function's (AWS_PROXY).
    case integrationStatus
    case integrationStatusDotted = "integration.status"
    /// The gateway's own error message (`Too Many Requests`), for answers the gateway makes.
    case errorMessage = "error.message"
    /// The same, quoted as a JSON string.
    case errorMessageString = "error.messageString"
    /// The gateway response type (`THROTTLED`, `INTEGRATION_TIMEOUT`, …).
    case errorResponseType = "error.responseType"
    /// Request validation's detail: fge's messages for a body (`[object has missing required
    /// properties (["name"])]`), or the missing parameters' message.
    case errorValidationErrorString = "error.validationErrorString"

    /// Whether a parameter mapping can read it: what the request alone says.
    public var isKnownBeforeTheIntegration: Bool {
        switch self {
        case .apiKeyId, .traceId, .xrayTraceId, .status, .responseLength, .responseLatency, .integrationLatency,
             .integrationLatencyDotted, .integrationStatus, .integrationStatusDotted, .errorMessage,
             .errorMessageString, .errorResponseType, .errorValidationErrorString: false
        default: true
        }
    }
}

/// One integration response of an HTTP (non-proxy) integration.
public struct HTTPIntegrationResponse: Sendable, Equatable {
    /// The method response's status code, 200...599.
    public var statusCode: Int
    /// Static headers (`method.response.header.NAME: "'value'"`), in definition order.
    public var headers: [ResponseHeader]
    /// `method.response.header.NAME: integration.response.header.UPSTREAM`: copy the upstream's
    /// header (its last value; absent → not sent).
    public var headerMappings: [HeaderMapping]
    /// The selection pattern as written (the response's key); nil for `default`. For messages and
    /// a later template engine: `HTTPIntegration.responseForStatus` already applies it.
    public var selectionPattern: String?
    /// `responseTemplates`, compiled, by content type.
    public var templates: [MappingTemplate] = []
    /// `contentHandling`: how the answer's body is converted.
    public var contentHandling: ContentHandling?

    public init(statusCode: Int, headers: [ResponseHeader] = [], headerMappings: [HeaderMapping] = [],
                selectionPattern: String? = nil) {
        self.statusCode = statusCode
        self.headers = headers
        self.headerMappings = headerMappings
        self.selectionPattern = selectionPattern
    }
}

/// A response header copied from the upstream's response.
public struct HeaderMapping: Sendable, Equatable {
    /// The header to send.
    public var name: String
    /// The upstream response header to read (case-insensitive).
    public var fromUpstreamHeader: String

    public init(name: String, fromUpstreamHeader: String) {
        self.name = name
        self.fromUpstreamHeader = fromUpstreamHeader
    }
}

/// API Gateway's Lambda proxy integration (AWS_PROXY), served by POSTing the event to a Lambda
/// Runtime Interface Emulator (or anything that speaks its invoke API).
public struct LambdaProxyIntegration: Sendable {
    /// `1.0` (REST APIs' event format, the default) or `2.0` (HTTP APIs' format).
    public var payloadFormatVersion: String
    /// `timeoutInMillis`, or the configured default; within `limits.integration_timeout_ms`.
    public var timeoutMilliseconds: Int
    /// By stage index, as `HTTPIntegration.targets`. nil for other APIs' stages, and for a stage
    /// whose function is not in `lambda_functions` (a warning at load; the worker answers 500).
    public var targets: [LambdaTarget?]

    public init(payloadFormatVersion: String, timeoutMilliseconds: Int, targets: [LambdaTarget?]) {
        self.payloadFormatVersion = payloadFormatVersion
        self.timeoutMilliseconds = timeoutMilliseconds
        self.targets = targets
    }
}

/// Where one stage invokes a Lambda function.
public struct LambdaTarget: Sendable, Equatable {
    /// Index into `Deployment.upstreams` (the emulator's `scheme://host:port`).
    public var upstream: Int
    /// The Host header to send: `host` or `host:port`.
    public var hostHeader: String
    /// The function's name from the ARN (without qualifier), for logs.
    public var functionName: String
    /// The path to POST the event to: `/2015-03-31/functions/function/invocations` (the
    /// emulator's), or the path written in the `lambda_functions` URL.
    public var invocationPath: String

    public init(upstream: Int, hostHeader: String, functionName: String,
                invocationPath: String = LambdaTarget.emulatorInvocationPath) {
        self.upstream = upstream
        self.hostHeader = hostHeader
        self.functionName = functionName
        self.invocationPath = invocationPath
    }

    /// The Runtime Interface Emulator's invoke path (whatever the function's name).
    public static let emulatorInvocationPath = "/2015-03-31/functions/function/invocations"
}
