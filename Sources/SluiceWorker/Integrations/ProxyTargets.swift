import SluiceConfig
import SluiceHTTP1
import SluiceLambda

enum CompiledPiece {
    case literal([UInt8])
    case value(RequestValue)
}

/// A `name=value` of an integration URI's query: the value's `{name}` placeholders are filled
/// like the path's.
struct CompiledQueryParameter {
    var name: [UInt8]
    var value: [CompiledPiece]?
}

struct CompiledMapping {
    /// `name=` for a query parameter, `Name: ` for a header.
    var prefix: [UInt8]
    var source: RequestValue
}

/// An HTTP (non-proxy) integration response: the client's status and headers for the upstream
/// statuses that select it.
struct CompiledIntegrationResponse {
    var statusLine: [UInt8]
    var status: Int
    /// `Name: value\r\n` lines from static `responseParameters`.
    var staticHeaders: [UInt8]
    /// `Name: ` prefixes and the lowercased upstream header each takes its value from.
    var mappedHeaders: [(prefix: [UInt8], upstreamHeader: [UInt8])]
}

/// One operation's HTTP integration for one stage, ready to write.
struct CompiledTarget {
    var upstream: Int
    /// The integration's method, when it is not the client's.
    var method: [UInt8]?
    /// That method, for parsing the answer (a HEAD's has no body) and for retries.
    var methodSent: HTTPMethod?
    var hostLine: [UInt8]
    /// `X-Amzn-Apigateway-Api-Id: API\r\n`, and for HTTP (non-proxy) integrations the lines API
    /// Gateway adds in place of the client's headers (`Accept`, `User-Agent`), less the mapped ones.
    var gatewayLines: [UInt8]
    var path: [CompiledPiece]
    /// The URI variable each piece of `path` fills (empty for literal pieces): a request
    /// template's `requestOverride.path.NAME` replaces its value.
    var pathNames: [[UInt8]]
    /// Proxy integrations pass the client's query and headers through.
    var passQuery: Bool
    var passHeaders: Bool
    /// `a=b&c=d` from the URI.
    var uriQuery: [CompiledQueryParameter]
    var queryMappings: [CompiledMapping]
    var headerMappings: [CompiledMapping]
    /// A mapped `Host`, which replaces `hostLine` when the request has its value.
    var hostMapping: CompiledMapping?
    /// A mapping sets `Content-Length` or `Transfer-Encoding`: every request answers 500, as on
    /// API Gateway (the upstream would get two framings).
    var mapsFramingHeader: Bool
    /// Lowercased names of the headers the mappings set, which the client's copies must not repeat.
    var overriddenHeaders: [[UInt8]]
    var timeoutList: DeadlineLists.List
    var timeoutNanoseconds: Int64
    /// HTTP (non-proxy) only: `responseForStatus[status - 100]` indexes `responses`, -1 for none.
    var responses: [CompiledIntegrationResponse]
    var responseForStatus: [Int]

    /// The integration response an upstream status selects; nil when none does (500).
    func integrationResponse(forStatus status: Int) -> Int? {
        let slot = status - 100
        guard slot >= 0, slot < responseForStatus.count, responseForStatus[slot] >= 0 else { return nil }
        return responseForStatus[slot]
    }

    /// A mapping sets the Content-Type.
    var mapsContentType: Bool { overriddenHeaders.contains(HeaderNames.contentType) }

    func overridesHeader(_ name: Span<UInt8>) -> Bool {
        for overridden in overriddenHeaders where HeaderNames.equals(name, overridden) { return true }
        return false
    }
}

/// Every HTTP and Lambda integration target of a deployment, and the distinct timeouts they use.
struct ProxyTargets {
    var targets: [CompiledTarget] = []
    var lambdaTargets: [CompiledLambdaTarget] = []
    /// `operationTargets[operation * stageCount + stage]`: index into `targets`, or -1; likewise
    /// `operationLambdaTargets` into `lambdaTargets`.
    var operationTargets: [Int32]
    var operationLambdaTargets: [Int32]
    let stageCount: Int
    var timeoutsMilliseconds: [Int] = []
    /// Lambda authorizers' invocations time out on this list (API Gateway gives an authorizer
    /// 10 seconds).
    var authorizerTimeoutList = DeadlineLists.List.none
    static let authorizerTimeoutMilliseconds = 10_000
    /// REQUEST authorizers' events: `authorizerEvents[operation * stageCount + stage]` indexes
    /// `authorizerEventContexts` (one context per listener), or -1.
    var authorizerEvents: [Int32]
    var authorizerEventContexts: [[LambdaEventContext]] = []

    /// `listenPorts`: the port of each listener, for the Lambda events' `X-Forwarded-Port`.
    init(deployment: Deployment, listenPorts: [Int]) {
        stageCount = max(1, deployment.stages.count)
        operationTargets = Array(repeating: -1, count: max(1, deployment.operations.count * stageCount))
        operationLambdaTargets = operationTargets
        authorizerEvents = operationTargets
        if deployment.authorizers.contains(where: { $0.function != nil }) {
            authorizerTimeoutList = timeoutList(ProxyTargets.authorizerTimeoutMilliseconds)
        }
        let listeners = deployment.listeners.indices.map { (deployment.listeners[$0].scheme, listenPorts[$0]) }
        for (operationIndex, operation) in deployment.operations.enumerated() {
            guard case .authorizer(let index, _) = operation.authorization,
                  deployment.authorizers[index].kind == .request else { continue }
            let authorizer = deployment.authorizers[index]
            for (stage, settings) in deployment.stages.enumerated() where settings.api == operation.api {
                authorizerEvents[operationIndex * stageCount + stage] = Int32(authorizerEventContexts.count)
                authorizerEventContexts.append(CompiledLambdaTarget.contexts(
                    format: authorizer.payloadFormatVersion, operation: operation, stage: settings,
                    api: deployment.apis[operation.api], deploymentID: settings.deploymentID ?? deployment.id,
                    listeners: listeners))
            }
        }
        for (operationIndex, operation) in deployment.operations.enumerated() {
            switch operation.integration {
            case .http(let integration):
                let list = timeoutList(integration.timeoutMilliseconds)
                for (stage, target) in integration.targets.enumerated() {
                    guard let target else { continue }
                    operationTargets[operationIndex * stageCount + stage] = Int32(targets.count)
                    targets.append(compile(target, integration: integration, operation: operation, list: list,
                                           stageName: deployment.stages[stage].name,
                                           apiName: deployment.apis[operation.api].name))
                }
            case .lambdaProxy(let integration):
                let list = timeoutList(integration.timeoutMilliseconds)
                for (stage, target) in integration.targets.enumerated() {
                    guard let target else { continue }
                    operationLambdaTargets[operationIndex * stageCount + stage] = Int32(lambdaTargets.count)
                    lambdaTargets.append(CompiledLambdaTarget(
                        target, integration: integration, operation: operation, stage: deployment.stages[stage],
                        api: deployment.apis[operation.api],
                        deploymentID: deployment.stages[stage].deploymentID ?? deployment.id,
                        listeners: deployment.listeners.indices.map { (deployment.listeners[$0].scheme, listenPorts[$0]) },
                        list: list))
                }
            case .mock, .unsupported:
                continue
            }
        }
    }

    func target(operation: Int, stage: Int) -> Int? {
        let index = operationTargets[operation * stageCount + stage]
        return index >= 0 ? Int(index) : nil
    }

    func authorizerEvent(operation: Int, stage: Int) -> Int? {
        let index = authorizerEvents[operation * stageCount + stage]
        return index >= 0 ? Int(index) : nil
    }

    func lambdaTarget(operation: Int, stage: Int) -> Int? {
        let index = operationLambdaTargets[operation * stageCount + stage]
        return index >= 0 ? Int(index) : nil
    }

    private mutating func timeoutList(_ milliseconds: Int) -> DeadlineLists.List {
        if let existing = timeoutsMilliseconds.firstIndex(of: milliseconds) { return .integration(existing) }
        timeoutsMilliseconds.append(milliseconds)
        return .integration(timeoutsMilliseconds.count - 1)
    }

    /// The lines the gateway adds to an integration request, as API Gateway adds them.
    static func gatewayLines(apiName: String, proxy: Bool, mapped: [[UInt8]]) -> [UInt8] {
        var lines = ResponseHead.headerLine("X-Amzn-Apigateway-Api-Id", apiName)
        guard !proxy else { return lines }
        if !mapped.contains(Array("accept".utf8)) { lines += ResponseHead.headerLine("Accept", "application/json") }
        if !mapped.contains(Array("user-agent".utf8)) {
            lines += ResponseHead.headerLine("User-Agent", "AmazonAPIGateway_" + apiName)
        }
        return lines
    }

    private func compile(_ target: HTTPTarget, integration: HTTPIntegration, operation: Operation,
                         list: DeadlineLists.List, stageName: String, apiName: String) -> CompiledTarget {
        var queryMappings: [CompiledMapping] = []
        var headerMappings: [CompiledMapping] = []
        var hostMapping: CompiledMapping? = nil
        var mapsFramingHeader = false
        var overridden: [[UInt8]] = []
        var pathSources: [String: RequestValue] = [:]
        for mapping in target.parameters {
            let source = RequestValue(mapping.source, stage: stageName, resourcePath: operation.resourcePath,
                                      apiName: apiName)
            switch mapping.target {
            case .path(let name): pathSources[name] = source
            case .query(let name): queryMappings.append(CompiledMapping(prefix: Array("\(name)=".utf8), source: source))
            case .header(let name):
                switch name.lowercased() {
                case "content-length", "transfer-encoding": mapsFramingHeader = true
                case "host": hostMapping = CompiledMapping(prefix: Array("\(name): ".utf8), source: source)
                default:
                    headerMappings.append(CompiledMapping(prefix: Array("\(name): ".utf8), source: source))
                    overridden.append(Array(name.lowercased().utf8))
                }
            }
        }
        // Without a mapping, a URI variable takes the method parameter of the same name, as API
        // Gateway's console sets it up for proxy resources.
        func source(of name: String) -> CompiledPiece {
            if let source = pathSources[name] { return .value(source) }
            if let index = operation.pathParameterNames.firstIndex(of: name) { return .value(.pathParameter(index)) }
            return .literal([])
        }
        let path: [CompiledPiece] = target.path.map { piece in
            switch piece {
            case .literal(let text): .literal(Array(text.utf8))
            case .parameter(let name): source(of: name)
            }
        }
        let uriQuery = target.query.map { parameter in
            CompiledQueryParameter(name: Array(parameter.name.utf8), value: parameter.valuePieces.map { pieces in
                pieces.map { piece in
                    switch piece {
                    case .literal(let text): .literal(Array(text.utf8))
                    case .parameter(let name): source(of: name)
                    }
                }
            })
        }
        return CompiledTarget(
            upstream: target.upstream,
            method: integration.method.map { Array($0.openAPIName.uppercased().utf8) },
            methodSent: integration.method,
            hostLine: Array("Host: \(target.hostHeader)\r\n".utf8),
            gatewayLines: Self.gatewayLines(apiName: apiName, proxy: integration.isProxy, mapped: overridden),
            path: path,
            pathNames: target.path.map { piece in
                if case .parameter(let name) = piece { return Array(name.utf8) }
                return []
            },
            passQuery: integration.isProxy,
            passHeaders: integration.isProxy,
            uriQuery: uriQuery,
            queryMappings: queryMappings,
            headerMappings: headerMappings,
            hostMapping: hostMapping,
            mapsFramingHeader: mapsFramingHeader,
            overriddenHeaders: overridden,
            timeoutList: list,
            timeoutNanoseconds: Int64(integration.timeoutMilliseconds) * 1_000_000,
            responses: integration.responses.map { response in
                CompiledIntegrationResponse(
                    statusLine: ResponseHead.statusLine(response.statusCode),
                    status: response.statusCode,
                    staticHeaders: response.headers.compactMap { ReservedResponseHeaders.line($0.name, $0.value) }
                        .flatMap { $0 },
                    mappedHeaders: response.headerMappings.compactMap { mapping in
                        ReservedResponseHeaders.linePrefix(mapping.name).map {
                            (prefix: $0, upstreamHeader: Array(mapping.fromUpstreamHeader.lowercased().utf8))
                        }
                    })
            },
            responseForStatus: integration.responseForStatus)
    }
}

extension HTTPMethod {
    /// RFC 9110 §9.2.2: repeating the request has the same effect as sending it once.
    var isIdempotent: Bool {
        switch self {
        case .get, .head, .options, .put, .delete, .trace: true
        case .post, .patch, .connect, .other: false
        }
    }
}

/// Header names the proxy treats specially, compared as bytes, case-insensitively. Hop-by-hop
/// fields are SluiceHTTP1's `HopByHop`; these are the fields the gateway sets itself.
enum HeaderNames {
    /// Request fields not copied to the upstream: the gateway writes its own.
    static let setByGatewayInRequests: [[UInt8]] = ["content-length", "host", "expect", "x-forwarded-proto",
                                                    "x-forwarded-port", "traceparent", "x-amzn-trace-id"]
        .map { Array($0.utf8) }
    static let contentLength: [UInt8] = Array("content-length".utf8)
    static let connection: [UInt8] = Array("connection".utf8)
    static let forwardedFor: [UInt8] = Array("x-forwarded-for".utf8)
    static let amazonTrace: [UInt8] = Array("x-amzn-trace-id".utf8)
    static let contentType: [UInt8] = Array("content-type".utf8)
    /// Set by Lambda's invoke API when the function failed.
    static let functionError: [UInt8] = Array("x-amz-function-error".utf8)

    /// Whether `name` equals `lowercased`, ignoring ASCII case.
    static func equals(_ name: Span<UInt8>, _ lowercased: [UInt8]) -> Bool {
        guard name.count == lowercased.count else { return false }
        for index in name.indices where HTTPBytes.lowercased(name[index]) != lowercased[index] { return false }
        return true
    }

    /// The value of the first field named `lowercased`.
    static func value(of lowercased: [UInt8], in fields: [HeaderField], bytes: Span<UInt8>) -> Range<Int>? {
        for field in fields where equals(bytes.extracting(field.name), lowercased) { return field.value }
        return nil
    }

    static func isSetByGatewayInRequests(_ name: Span<UInt8>) -> Bool {
        for candidate in setByGatewayInRequests where equals(name, candidate) { return true }
        return false
    }

    static func isContentLength(_ name: Span<UInt8>) -> Bool { equals(name, contentLength) }

    /// Request headers API Gateway does not pass to an HTTP_PROXY upstream (besides hop-by-hop
    /// ones and those the gateway writes itself).
    static let strippedFromProxyRequests: [[UInt8]] = ["content-md5", "max-forwards", "server", "www-authenticate",
                                                       "content-encoding"].map { Array($0.utf8) }

    static func isStrippedFromProxyRequests(_ name: Span<UInt8>) -> Bool {
        for candidate in strippedFromProxyRequests where equals(name, candidate) { return true }
        return false
    }

    /// `Content_Length` and `Transfer_Encoding`: servers that read `_` as `-` (CGI, WSGI) would
    /// take them for framing the gateway did not check, so they are not forwarded.
    static func isUnderscoredFraming(_ name: Span<UInt8>) -> Bool {
        (name.count == 14 || name.count == 17) && (equals(name, underscoredContentLength)
                                                   || equals(name, underscoredTransferEncoding))
    }

    static let underscoredContentLength: [UInt8] = Array("content_length".utf8)
    static let underscoredTransferEncoding: [UInt8] = Array("transfer_encoding".utf8)
    static func isForwardedFor(_ name: Span<UInt8>) -> Bool { equals(name, forwardedFor) }
    static func isContentType(_ name: Span<UInt8>) -> Bool { equals(name, contentType) }

}

/// Reading a raw query string (`a=1&b=2`) without decoding or allocating.
enum QueryString {
    /// The range of the first value of parameter `name` in `query`, if present.
    static func value(of name: [UInt8], in query: Span<UInt8>) -> Range<Int>? {
        var start = 0
        while start <= query.count {
            var end = start
            while end < query.count && query[end] != 38 { end += 1 }
            var equals = start
            while equals < end && query[equals] != 61 { equals += 1 }
            if equals - start == name.count {
                var same = true
                for offset in 0..<name.count where query[start + offset] != name[offset] {
                    same = false
                    break
                }
                if same { return (equals < end ? equals + 1 : end)..<end }
            }
            start = end + 1
        }
        return nil
    }
}
