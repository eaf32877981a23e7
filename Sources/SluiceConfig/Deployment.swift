import SluiceHTTP1
import SluiceRouter

/// A validated, immutable configuration: the server settings, every API with its stages and
/// operations, and the compiled route table. Built once by `ConfigLoader`, then only read.
public struct Deployment: Sendable {
    /// The gateway's listeners (`listen`), plain and TLS; at least one.
    public var listeners: [Listener]
    /// `domains`: custom domain names with their certificates (selected by SNI on the TLS
    /// listeners) and mutual TLS.
    public var domains: [DomainName] = []
    /// The first listener's address.
    public var listen: ListenAddress {
        get { listeners[0].address }
        set { listeners[0].address = newValue }
    }
    /// The admin listener (`admin`), loopback by default.
    public var admin: ListenAddress
    /// `state_dir`: where durable state lives: the quota journal (`QuotaJournal`).
    public var stateDirectory: String
    /// Whether `state_dir` was written: the folder is then used (locked, the deployment history
    /// kept) even when no quota needs a journal.
    public var stateDirectoryConfigured = false
    /// `deployment_history`: how many deployments are kept for rollbacks and canaries.
    public var deploymentHistory = 10
    /// `drain_timeout_ms`: how long a graceful stop waits for in-flight requests.
    public var drainTimeoutMilliseconds: Int
    /// `drain_delay_ms`: how long a stop keeps serving, with `/healthz` and `/readyz` already
    /// answering 503, before it stops accepting: the time a load balancer takes to notice.
    public var drainDelayMilliseconds = 0
    /// `limits`: request size limits and timeouts.
    public var limits: Limits
    /// `workers`: one tuning per worker slot, CPUs resolved.
    public var workers: WorkerPlan
    public var apis: [API]
    public var stages: [Stage]
    public var operations: [Operation]
    /// Maps (Host, path, method) to (operation, stage) indices into the arrays above.
    public var routes: RouteTable
    /// Every upstream an HTTP, HTTP_PROXY or AWS_PROXY target of some stage points at, once per
    /// distinct `scheme://host:port`; targets refer to them by index.
    public var upstreams: [Upstream]
    /// `upstreams.tls.ca_file`: the CA certificates (PEM) `https` upstreams are verified against;
    /// nil for the system's bundle.
    public var upstreamCertificateAuthorities: [UInt8]?
    /// `upstreams.defaults`: the connection pool each worker keeps per upstream.
    public var upstreamPool: UpstreamPoolSettings
    /// `account_throttling`: the throttle every request of every API passes last.
    public var accountThrottle = ThrottleSettings.accountDefault
    /// `usage_plans`, in the order written.
    public var usagePlans: [UsagePlan] = []
    /// `api_keys`, in the order written.
    public var apiKeys: [APIKey] = []
    /// `trusted_proxy_hops`: how many proxies in front of Sluice append to `X-Forwarded-For`. The
    /// caller's address (for resource policies) is the entry that many from the right; 0 takes
    /// the connection's peer.
    public var trustedProxyHops = 0
    /// `aws`: the region and account Sluice stands in for.
    public var aws = AWSIdentity()
    /// The JWT and Cognito user pool authorizers of every API (`MethodAuthorization.authorizer`).
    public var authorizers: [Authorizer] = []
    /// `jwt_issuers`: where each issuer's signing keys come from.
    public var jwtIssuers: [JWTIssuer] = []
    /// `iam.credentials`: the access keys that may sign requests to `AWS_IAM` methods.
    public var iamCredentials: [IAMCredential] = []
    /// `$context.deploymentId` and the Lambda event's `requestContext.deploymentId`: six lowercase
    /// letters and digits, as API Gateway's deployment ids are, derived from every input file
    /// (sluice.yaml and the definitions it names, paths and bytes): the same inputs give the same
    /// id, and a change to any of them gives another.
    public var id = ""
    /// Each API's definition file, by API name, as `apis:` names it (joined to sluice.yaml's
    /// folder), whatever its stages serve: what the deployment history records of it.
    public var definitionFiles: [String: String] = [:]
    /// The routes of the stages' canaries: a request of a stage with a canary is looked up here
    /// instead, `percentTraffic` of the time.
    public var canaryRoutes = RouteTable()

    public init(listen: ListenAddress = ListenAddress(host: "0.0.0.0", port: 8080),
                admin: ListenAddress = ListenAddress(host: "127.0.0.1", port: 9901),
                stateDirectory: String = "/var/lib/sluice", drainTimeoutMilliseconds: Int = 10_000,
                limits: Limits = Limits(), workers: WorkerPlan = WorkerPlan(slots: []),
                apis: [API] = [], stages: [Stage] = [], operations: [Operation] = [],
                routes: RouteTable = RouteTable(), upstreams: [Upstream] = [],
                upstreamPool: UpstreamPoolSettings = UpstreamPoolSettings()) {
        self.listeners = [Listener(address: listen)]
        self.admin = admin
        self.stateDirectory = stateDirectory
        self.drainTimeoutMilliseconds = drainTimeoutMilliseconds
        self.limits = limits
        self.workers = workers
        self.apis = apis
        self.stages = stages
        self.operations = operations
        self.routes = routes
        self.upstreams = upstreams
        self.upstreamPool = upstreamPool
    }
}

/// An address to listen on: `0.0.0.0:8080`, `127.0.0.1:0`, `[::]:8080`.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// A numeric IPv4 or IPv6 address (IPv6 without brackets).
    public var host: String
    /// 0 asks the kernel for an ephemeral port.
    public var port: UInt16
    public var isIPv6: Bool

    public init(host: String, port: UInt16, isIPv6: Bool = false) {
        self.host = host
        self.port = port
        self.isIPv6 = isIPv6
    }

    /// `host:port`, or `[host]:port` for IPv6, as written in sluice.yaml.
    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether a socket bound to one would take connections meant for the other: the same port,
    /// and the same host or a wildcard (`0.0.0.0`, `::`) of the same family on either side.
    public func overlaps(_ other: ListenAddress) -> Bool {
        guard port == other.port, port != 0 else { return false }
        if host == other.host { return true }
        let wildcard: (ListenAddress) -> Bool = { $0.host == "0.0.0.0" || $0.host == "::" }
        return (wildcard(self) || wildcard(other)) && (isIPv6 == other.isIPv6 || host == "::" || other.host == "::")
    }
}

/// `limits:` in sluice.yaml. Defaults are API Gateway's figures.
public struct Limits: Sendable, Equatable {
    /// Head bytes, header count and body bytes enforced by the parser.
    public var request: RequestLimits
    /// The request head must arrive within this time after the connection or the previous
    /// response; otherwise the client gets 408.
    public var headerTimeoutMilliseconds: Int
    /// A keep-alive connection with no request in progress is closed after this time.
    public var idleTimeoutMilliseconds: Int
    /// `integration_timeout_ms.min`: the smallest `timeoutInMillis` a definition may set.
    public var integrationTimeoutMillisecondsMin: Int
    /// `integration_timeout_ms.max`: the largest `timeoutInMillis` a definition may set.
    public var integrationTimeoutMillisecondsMax: Int
    /// `integration_timeout_ms.default`: the timeout of an integration that sets none.
    public var integrationTimeoutMillisecondsDefault: Int
    /// `lambda_invocations`: AWS_PROXY invocations one worker has in flight at most; a request
    /// beyond them is answered 503. Each reserves (virtual) room for Lambda's 6 MB answer.
    public var lambdaInvocationsMax: Int
    /// `api_key_bytes`: the longest `x-api-key` value (API Gateway's 128); a longer one is
    /// refused like an unknown key.
    public var apiKeyBytesMax: Int
    /// `response_body_bytes`: the largest body an HTTP or HTTP_PROXY integration may answer
    /// with (API Gateway's 10 MB payload limit), whatever its framing.
    public var responseBodyBytesMax: Int = 10_485_760
    /// `buffered_body_bytes`: the largest request (head and body) a step that needs the whole
    /// body holds (request validation, mapping templates, IAM signatures); a larger one is 413.
    public var bufferedBodyBytesMax: Int = 1_048_576
    /// `buffered_bodies`: requests one worker holds whole at once beyond what fits its connection
    /// buffers (each reserves `buffered_body_bytes` of virtual memory); one more is 503.
    public var bufferedBodiesMax: Int = 64

    /// What an upstream's answer head and body are held to: the request's head limits, and
    /// `responseBodyBytesMax` for the body.
    public var answer: RequestLimits {
        RequestLimits(headBytesMax: request.headBytesMax, headersMax: request.headersMax,
                      bodyBytesMax: responseBodyBytesMax)
    }

    public init(request: RequestLimits = RequestLimits(), headerTimeoutMilliseconds: Int = 10_000,
                idleTimeoutMilliseconds: Int = 60_000, integrationTimeoutMillisecondsMin: Int = 50,
                integrationTimeoutMillisecondsMax: Int = 29_000, integrationTimeoutMillisecondsDefault: Int = 29_000,
                lambdaInvocationsMax: Int = 256, apiKeyBytesMax: Int = 128) {
        self.lambdaInvocationsMax = lambdaInvocationsMax
        self.apiKeyBytesMax = apiKeyBytesMax
        self.request = request
        self.headerTimeoutMilliseconds = headerTimeoutMilliseconds
        self.idleTimeoutMilliseconds = idleTimeoutMilliseconds
        self.integrationTimeoutMillisecondsMin = integrationTimeoutMillisecondsMin
        self.integrationTimeoutMillisecondsMax = integrationTimeoutMillisecondsMax
        self.integrationTimeoutMillisecondsDefault = integrationTimeoutMillisecondsDefault
    }
}

/// The resolved worker layout: one entry per worker process, in slot order.
public struct WorkerPlan: Sendable, Equatable {
    public var slots: [WorkerTuning]

    public init(slots: [WorkerTuning]) {
        self.slots = slots
    }
}

/// One worker's CPU and per-core sizes (`workers.defaults`, overridden by `workers.per_cpu`).
public struct WorkerTuning: Sendable, Equatable {
    /// The CPU the worker is pinned to.
    public var cpu: Int
    /// io_uring submission queue entries (power of two).
    public var ringEntries: Int
    /// Provided receive buffers in the buffer ring (power of two).
    public var recvBuffers: Int
    /// Bytes per receive buffer.
    public var recvBufferBytes: Int
    /// Concurrent connections the worker accepts; its connection pool is sized from this.
    public var maxConnections: Int

    public init(cpu: Int, ringEntries: Int = 4096, recvBuffers: Int = 4096, recvBufferBytes: Int = 16_384,
                maxConnections: Int = 65_536) {
        self.cpu = cpu
        self.ringEntries = ringEntries
        self.recvBuffers = recvBuffers
        self.recvBufferBytes = recvBufferBytes
        self.maxConnections = maxConnections
    }
}

/// One API: an OpenAPI/Swagger definition and where its URLs are mounted.
public struct API: Sendable {
    /// `name` in sluice.yaml; unique.
    public var name: String
    /// The Host this API answers on (lowercase, no port), or nil for the default space.
    public var host: String?
    /// The base path's segments joined by `/`, without leading or trailing slash (`v1`,
    /// `shop/v2`), or nil for none.
    public var basePath: String?
    /// When set, the URL has no stage segment and always means this stage (API Gateway's
    /// custom-domain base path mapping).
    public var mappedStage: String?
    /// The definition file as diagnostics name it (joined to sluice.yaml's folder).
    public var definitionFile: String
    /// FNV-1a of the definition's text: a reload keeps a stage's cache only when it is unchanged.
    public var definitionHash: UInt64 = 0
    /// `x-amazon-apigateway-api-key-source`: where a request's API key comes from.
    public var apiKeySource: APIKeySource
    /// `x-amazon-apigateway-policy`: who may invoke the API, by source address (SluicePolicy).
    public var resourcePolicy: ResourcePolicy?
    /// `x-amazon-apigateway-cors` (HTTP APIs): preflights answered by the gateway, CORS headers
    /// on every response (SluiceCORS).
    public var cors: CORSSettings?
    /// `x-amazon-apigateway-gateway-responses`: the API's own shape of the gateway's answers.
    public var gatewayResponses: [GatewayResponseSettings] = []
    /// `x-amazon-apigateway-binary-media-types`.
    public var binaryMediaTypes = BinaryMediaTypes()
    /// `x-amazon-apigateway-minimum-compression-size`: answers of at least this many bytes are
    /// compressed for clients that ask for gzip or deflate; nil: never compressed.
    public var minimumCompressionSizeBytes: Int?

    public init(name: String, host: String? = nil, basePath: String? = nil, mappedStage: String? = nil,
                definitionFile: String, apiKeySource: APIKeySource = .header) {
        self.apiKeySource = apiKeySource
        self.name = name
        self.host = host
        self.basePath = basePath
        self.mappedStage = mappedStage
        self.definitionFile = definitionFile
    }
}

/// API Gateway's `apiKeySource`.
public enum APIKeySource: Sendable, Equatable {
    /// The `x-api-key` request header.
    case header
    /// The key a Lambda authorizer returns (`usageIdentifierKey`); a method without a Lambda
    /// authorizer finds none and answers 403.
    case authorizer
}

/// One stage of an API.
public struct Stage: Sendable {
    /// Index into `Deployment.apis`.
    public var api: Int
    /// `[A-Za-z0-9_-]+`.
    public var name: String
    /// Stage variables (`$stageVariables.name` in templates, `${stageVariables.name}` in integration
    /// URIs). Those in URIs and request parameters are already substituted into the targets of
    /// `HTTPIntegration` and `LambdaProxyIntegration`.
    public var variables: [String: String]
    /// `throttling`: the stage's own throttle, passed after the key's and the method's.
    public var throttle: ThrottleSettings?
    /// `method_settings.*.throttling`, by operation.
    public var methodThrottles: [MethodThrottle]
    /// `cache`, when enabled.
    public var cache: StageCache?
    /// `method_settings.*.caching`, by operation.
    public var methodCaching: [MethodCaching]
    /// `access_log`: one line per request of this stage.
    public var accessLog: AccessLogSettings?
    /// `detailed_metrics`: series per resource and method for every method of the stage (API
    /// Gateway's detailed CloudWatch metrics), unless `methodDetailedMetrics` says otherwise.
    public var detailedMetrics = false
    /// `method_settings.*.detailed_metrics`, by operation: overrides `detailedMetrics`.
    public var methodDetailedMetrics: [MethodDetailedMetrics] = []
    /// The literal path segments before this stage's resource paths: the API's base path, then
    /// the stage's name unless the API maps the stage or the stage is `$default`.
    public var urlPrefix: [String] = []
    /// Its canary, when it has one (`StageReleases.swift`).
    public var canary: StageCanary?
    /// For a canary's own stage: the stage it is the canary of; -1 otherwise.
    public var canaryOf = -1
    /// The deployment whose definition it serves when that is not this one's files (a
    /// rollback, a promoted canary, a canary from the history): `$context.deploymentId`.
    public var deploymentID: String?

    /// What tells a canary's metric series from its stage's: `canary="true"`, or nothing.
    public var canaryLabel: [(String, String)] { canaryOf >= 0 ? [("canary", "true")] : [] }

    /// An HTTP API's default stage: its URLs have no stage segment.
    public static let defaultStageName = "$default"

    public init(api: Int, name: String, variables: [String: String] = [:], throttle: ThrottleSettings? = nil,
                methodThrottles: [MethodThrottle] = [], cache: StageCache? = nil, methodCaching: [MethodCaching] = [],
                accessLog: AccessLogSettings? = nil) {
        self.accessLog = accessLog
        self.cache = cache
        self.methodCaching = methodCaching
        self.api = api
        self.name = name
        self.variables = variables
        self.throttle = throttle
        self.methodThrottles = methodThrottles
    }
}

/// `method_settings."GET /pets".detailed_metrics` of a stage.
public struct MethodDetailedMetrics: Sendable, Equatable {
    /// Index into `Deployment.operations`.
    public var operation: Int
    public var enabled: Bool

    public init(operation: Int, enabled: Bool) {
        self.operation = operation
        self.enabled = enabled
    }
}

/// One method of one resource of an API.
public struct Operation: Sendable {
    /// Index into `Deployment.apis`.
    public var api: Int
    /// The resource path as written in the definition, normalised: `/pets/{petId}`, `/`.
    public var resourcePath: String
    /// `GET`, `POST`, … or `ANY`.
    public var method: String
    /// The path parameters' names in path order; `RouteMatch.pathParameters` has their values in
    /// the same order.
    public var pathParameterNames: [String]
    public var integration: Integration
    /// `apiKeyRequired`: the request must carry an enabled API key of a usage plan that covers
    /// its stage; the plan's throttle and quota then apply to it.
    public var apiKeyRequired: Bool
    /// An authorizer or IAM that protects the method; `.unenforced` ones are refused (fail closed).
    public var authorization = MethodAuthorization.none
    /// What the method's request validator checks (required parameters, body models), when it
    /// checks something.
    public var requestValidation: RequestValidation?
    /// The integration's `cacheKeyParameters`: what besides the resource path varies a cached
    /// answer.
    public var cacheKeyParameters: [CacheKeyParameter] = []

    public init(api: Int, resourcePath: String, method: String, pathParameterNames: [String] = [],
                integration: Integration, apiKeyRequired: Bool = false) {
        self.apiKeyRequired = apiKeyRequired
        self.api = api
        self.resourcePath = resourcePath
        self.method = method
        self.pathParameterNames = pathParameterNames
        self.integration = integration
    }
}

/// What an operation does with a request.
public enum Integration: Sendable {
    case mock(MockIntegration)
    /// HTTP and HTTP_PROXY (`HTTPIntegration.isProxy`).
    case http(HTTPIntegration)
    /// AWS_PROXY with a Lambda function ARN: the event goes to a Lambda Runtime Interface Emulator.
    case lambdaProxy(LambdaProxyIntegration)
    /// A type Sluice cannot run (AWS service integrations, an integration it cannot read, or no
    /// integration at all): answers 500 {"message": "Internal server error"}. The string says why,
    /// for logs.
    case unsupported(String)
}

/// API Gateway's MOCK integration: the request template yields a status code, which selects one
/// of the integration responses, whose template is the body.
///
/// A MOCK whose templates are plain text is decided at load time: `response` holds the answer.
/// One whose templates use Velocity (`isDynamic`) is rendered per request from
/// `requestTemplates`, `responseForStatus` and the responses' compiled templates.
public struct MockIntegration: Sendable {
    /// The request template that was used (`application/json`, or else the only or first one).
    public var requestTemplate: String?
    /// The integration responses in definition order, `default` included.
    public var integrationResponses: [IntegrationResponse]
    /// The response as selected at load time (static MOCKs).
    public var response: MockResponse
    /// The request templates by content type, and what a request without a matching one gets.
    public var requestTemplates: RequestTemplates
    /// For an integration status `s` in 100...599, `responseForStatus[s - 100]` is the index in
    /// `integrationResponses` of the response to send (first matching pattern, else default);
    /// -1 for none (500).
    public var responseForStatus: [Int]
    /// Rendered per request.
    public var isDynamic: Bool

    public init(requestTemplate: String? = nil, integrationResponses: [IntegrationResponse] = [],
                response: MockResponse, requestTemplates: RequestTemplates = RequestTemplates(),
                responseForStatus: [Int] = [], isDynamic: Bool = false) {
        self.requestTemplate = requestTemplate
        self.integrationResponses = integrationResponses
        self.response = response
        self.requestTemplates = requestTemplates
        self.responseForStatus = responseForStatus
        self.isDynamic = isDynamic
    }
}

/// One entry of `x-amazon-apigateway-integration.responses`.
public struct IntegrationResponse: Sendable {
    /// The selection pattern (the entry's key), a regular expression matched against the whole
    /// integration status code; nil for `default`.
    public var selectionPattern: String?
    /// The method response's status code.
    public var statusCode: Int
    /// Static headers from `responseParameters` (`method.response.header.NAME: "'value'"`), in
    /// definition order. A static Content-Type here becomes `MockResponse.contentType`.
    public var headers: [ResponseHeader]
    /// `responseTemplates` in definition order, keyed by content type.
    public var templates: [ResponseTemplate]
    /// The same, compiled (content types lowercased).
    public var compiledTemplates: [MappingTemplate]
    /// `contentHandling`: how the answer's body is converted.
    public var contentHandling: ContentHandling?

    public init(selectionPattern: String?, statusCode: Int, headers: [ResponseHeader] = [],
                templates: [ResponseTemplate] = [], compiledTemplates: [MappingTemplate] = []) {
        self.selectionPattern = selectionPattern
        self.statusCode = statusCode
        self.headers = headers
        self.templates = templates
        self.compiledTemplates = compiledTemplates
    }
}

/// A mapping template and the content type it produces.
public struct ResponseTemplate: Sendable, Equatable {
    public var contentType: String
    public var template: String

    public init(contentType: String, template: String) {
        self.contentType = contentType
        self.template = template
    }
}

/// A complete response to send as is.
public struct MockResponse: Sendable, Equatable {
    public var status: Int
    /// Static headers, in definition order (e.g. `Access-Control-Allow-Origin: *`).
    public var headers: [ResponseHeader]
    /// The Content-Type header's value: the template's content type, a static Content-Type
    /// response parameter, or API Gateway's default `application/json`; nil sends none.
    public var contentType: String?
    public var body: [UInt8]

    public init(status: Int, headers: [ResponseHeader] = [], contentType: String? = nil, body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.contentType = contentType
        self.body = body
    }
}

/// A header name and value.
public struct ResponseHeader: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
