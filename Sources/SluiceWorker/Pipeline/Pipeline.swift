import SluiceCORS
import SluiceConfig
import SluiceHTTP1
import SluicePipeline
import SluicePolicy
import SluiceRouter
import SluiceURing

/// The answer decided when a head was complete, sent once the body has been read.
struct PendingAnswer {
    /// A prepared response, or -1 when an upstream answers (the exchange writes the response),
    /// or `Worker.answeredByStep`.
    var response: Int = 0
    var keepAlive = true
    var omitBody = false
    /// HTTP/1.0 clients need `Connection: keep-alive` to keep the connection open.
    var http10 = false
}

/// The parsed head and route of a request that waits, kept while its bytes wait in the carry slot.
struct ParkedHead {
    var head: RequestHead
    var match: RouteMatch
}

/// One request's state, from its head to its answer: what the pipeline decided, and a slot for
/// each feature that keeps something per request. It lives in its connection and is reset when
/// the next request begins.
struct RequestContext {
    /// The low half of the request's x-amzn-RequestId (the high half is the worker's).
    var id: UInt64 = 0
    /// When the head was complete (precise monotonic clock); 0 when no request is under way.
    var startedNanoseconds: Int64 = 0
    /// The request's stage, for the metrics; -1 when it matched no API, or between requests.
    var group: Int32 = -1
    /// Its method's detailed-metrics group, or -1 (`MethodMetricGroups`).
    var methodGroup: Int32 = -1
    /// Its stage's canary serves it (`Worker.lookUpRoute`): its routes are the canary's.
    var canary = false
    var pending = PendingAnswer()
    /// The step (an index into `PipelinePlan.steps`) the request waits at, to run again when it
    /// resumes; -1 when it does not wait. Its head's bytes stay at the start of the carry slot
    /// meanwhile, and its parsed head and route in `Worker.parkedHeads[parkedHead]`.
    var resumeStep: Int32 = -1
    var parkedHead: Int32 = -1
    /// The admission step: the key the request was admitted with.
    var key: AdmittedKey?
    /// CORS: the API whose CORS policy applies (-1: none), and the index of the origin line that
    /// allows the request's `Origin` (-1: not allowed, or no Origin). The response writer reads
    /// and clears them.
    var corsAPI: Int32 = -1
    var corsOrigin: Int32 = -1
    /// The access log and the trace (AccessLogging.swift).
    var record = RequestRecord()
    /// The authorizer step waits for the body (IAM signs it): reading goes on while it waits.
    var waitsForBody = false
    /// `100 Continue` was sent for the request (a step that waits for the body sends it).
    var continueSent = false
    /// The request has a body and `Expect: 100-continue`: until `100 Continue` is sent, an answer
    /// ends the connection (the client may or may not send the body after it).
    var expectsContinue = false
    /// The first media type of the request's `Accept` is one of its API's binary media types.
    var wantsBinary = false
    /// The coding an integration's answer is compressed in (identity: none), for an answer of at
    /// least `compressFromBytes` (Compression.swift).
    var answerCoding = ContentCoding.identity
    var compressFromBytes: Int32 = 0
    /// The request's body was decoded (`Content-Encoding`) for a step: later steps reuse it.
    var contentDecoded = false
    /// A Lambda authorizer's invocation for the request is under way; or it failed, with this
    /// answer (a `GatewayAnswer`, -1 while none).
    var authorizerPending = false
    var authorizerFailure: Int16 = -1
    /// When the authorizer step first ran (0: not yet).
    var authorizeStartedNanoseconds: Int64 = 0

    var isWaiting: Bool { resumeStep >= 0 }
}

/// The request pipeline (DESIGN.md §3): once a head is parsed and routed, the steps of its
/// operation's plan run in API Gateway's order. Each step is its feature's: this file only
/// dispatches.
extension Worker {
    /// Runs the plan of the routed request (`match`) from its first step, or from the step it
    /// waited at. Returns false when a step waits.
    func runPipeline(_ index: Int, _ bytes: Span<UInt8>) -> Bool {
        let range = plan.range(of: match.operation)
        let resumeAt = Int(connections[index].request.resumeStep)
        connections[index].request.resumeStep = -1
        if resumeAt < 0 { noteAnswerCoding(index, bytes) }
        var step = resumeAt >= 0 ? resumeAt : range.lowerBound
        while step < range.upperBound {
            switch runStep(plan.steps[step], index, bytes) {
            case .proceed:
                step += 1
            case .done:
                return true
            case .refuse(let answer):
                // A fill claimed by the cache step is given up: a refused request fills nothing.
                endFill(index, keep: false)
                connections[index].request.pending.response = catalog.index(of: answer)
                return true
            case .wait:
                connections[index].request.resumeStep = Int32(step)
                parkHead(index)
                return false
            }
        }
        preconditionFailure("every plan ends with the integration step, which never proceeds")
    }

    /// Whether a step may wait: a slot for its parked head is free. A step that may not goes on
    /// without waiting.
    func canWait(_ index: Int) -> Bool { !freeParkedHeads.isEmpty }

    /// Keeps the parsed head and route of a request that waits. Swapping keeps every array's
    /// capacity where it is: nothing is allocated.
    func parkHead(_ index: Int) {
        guard let free = freeParkedHeads.popLast() else { preconditionFailure("a step waited without canWait") }
        let parked = Int(free)
        connections[index].request.parkedHead = free
        swap(&head, &parkedHeads[parked].head)
        swap(&match, &parkedHeads[parked].match)
    }

    /// Brings a waiting request's head and route back and frees its slot (if the pipeline waits
    /// again, it parks again).
    func unparkHead(_ index: Int) {
        let parked = Int(connections[index].request.parkedHead)
        precondition(parked >= 0, "a waiting request has a parked head")
        swap(&head, &parkedHeads[parked].head)
        swap(&match, &parkedHeads[parked].match)
        freeParkedHeads.append(Int32(parked))
        connections[index].request.parkedHead = -1
    }

    /// Gives back the parked head of a request whose connection closes while it waits.
    func releaseParkedHead(_ index: Int) {
        let parked = connections[index].request.parkedHead
        guard parked >= 0 else { return }
        freeParkedHeads.append(parked)
        connections[index].request.parkedHead = -1
    }

    @inline(__always)
    func runStep(_ step: Step, _ index: Int, _ bytes: Span<UInt8>) -> StepOutcome {
        switch step {
        case .resourcePolicy: policyStep(index, bytes)
        case .authorizer: authorizerStep(index, bytes)
        case .admission: admissionStep(index, bytes)
        case .cacheLookup: cacheStep(index, bytes)
        case .validation: validationStep(index, bytes)
        case .integration: integrationStep(index, bytes)
        }
    }

    /// Step 3: the API's resource policy, against the caller's address and the request's
    /// `STAGE/METHOD/PATH`.
    func policyStep(_ index: Int, _ bytes: Span<UInt8>) -> StepOutcome {
        switch policyDecision(index, bytes, stage: match.stage) {
        case .allow: .proceed
        case .explicitDeny: .refuse(.explicitDeny)
        case .implicitDeny: .refuse(.accessDenied)
        }
    }

    /// What the stage's API's resource policy says of the request (`.allow` without one).
    func policyDecision(_ index: Int, _ bytes: Span<UInt8>, stage: Int) -> PolicyDecision {
        guard let evaluator = policies[Int(stageAPIs[stage])] else { return .allow }
        guard let source = clientAddress(index, bytes) else { return .implicitDeny }
        policyResource.removeAll(keepingCapacity: true)
        policyResource.append(contentsOf: stageNames[stage])
        policyResource.append(UInt8(ascii: "/"))
        let method = bytes.extracting(head.methodName)
        for offset in 0..<method.count { policyResource.append(method[offset]) }
        policyResource.append(UInt8(ascii: "/"))
        appendRoutedPath(bytes, stage: stage, to: &policyResource)
        // A local copy shares the buffer (no allocation) and can lend a span.
        let resource = policyResource
        return evaluator.evaluate(source: source, resource: resource.span)
    }

    /// The resource path as routed, for policies and method ARNs: after the stage segment and
    /// the base path, without the one trailing slash the router ignores, and percent-decoded, so
    /// that neither `/admin/` nor `/%61dmin` slips past a Deny of `*/GET/admin`.
    func appendRoutedPath(_ bytes: Span<UInt8>, stage: Int, to output: inout [UInt8]) {
        let path = bytes.extracting(head.path)
        var start = 1
        var skip = Int(resourcePathPrefixSegments[stage])
        while skip > 0 && start < path.count {
            while start < path.count && path[start] != UInt8(ascii: "/") { start += 1 }
            start += 1
            skip -= 1
        }
        var end = path.count
        if end > start && path[end - 1] == UInt8(ascii: "/") { end -= 1 }
        var offset = start
        while offset < end {
            let byte = path[offset]
            if byte == UInt8(ascii: "%"), offset + 2 < end,
               let high = HTTPBytes.hexValue(path[offset + 1]), let low = HTTPBytes.hexValue(path[offset + 2]) {
                output.append(UInt8(high << 4 | low))
                offset += 3
            } else {
                output.append(byte)
                offset += 1
            }
        }
    }

    /// The caller's address: the connection's peer, or, behind `trusted_proxy_hops` proxies, the
    /// address the farthest trusted proxy put in `X-Forwarded-For`: that many entries from the
    /// right, over every `X-Forwarded-For` line in order (some proxies add a line rather than
    /// append to one). Nil — refused by any policy — when that entry is not an address, or when
    /// there are fewer entries than trusted proxies (the request did not come through them all,
    /// and the peer is one of the proxies, not the caller).
    func clientAddress(_ index: Int, _ bytes: Span<UInt8>) -> IPAddress? {
        guard trustedProxyHops > 0 else {
            if !connections[index].peerIPKnown {
                guard let peer = Socket.peerIP(connections[index].fd) else { return nil }
                connections[index].peerIP = IPAddress(high: peer.high, low: peer.low)
                connections[index].peerIPKnown = true
            }
            return connections[index].peerIP
        }
        var hop = 0
        var field = head.headers.count - 1
        while field >= 0 {
            let header = head.headers[field]
            field -= 1
            guard HTTPBytes.equalsIgnoringCase(bytes, header.name, lowercased: Worker.forwardedForName.span) else {
                continue
            }
            let list = bytes.extracting(header.value)
            var end = list.count
            while end >= 0 {
                var start = end
                while start > 0 && list[start - 1] != UInt8(ascii: ",") { start -= 1 }
                hop += 1
                if hop == trustedProxyHops {
                    // An entry that is not an address (a name, `unknown`, garbage) leaves no
                    // address to allow: such a request is refused, never waved through.
                    return IPAddress.parse(list.extracting(HTTPBytes.trimmingWhitespace(list, start..<end)))
                }
                end = start - 1
            }
        }
        return nil
    }

    static let forwardedForName: [UInt8] = Array("x-forwarded-for".utf8)
    static let originName: [UInt8] = Array("origin".utf8)
    static let requestMethodName: [UInt8] = Array("access-control-request-method".utf8)

    /// CORS (SluiceCORS), for a request of a stage whose API configures it: remembers whether
    /// its Origin is allowed, for the response writer, and answers a browser's preflight (OPTIONS
    /// with Origin and Access-Control-Request-Method), with or without a route for it, as HTTP
    /// APIs do. Returns the preflight's answer, or nil to go on.
    func corsStep(_ index: Int, _ bytes: Span<UInt8>, stage: Int) -> Int? {
        let api = Int(stageAPIs[stage])
        guard let policy = corsPolicies[api] else { return nil }
        connections[index].request.corsAPI = Int32(api)
        guard let origin = HeaderNames.value(of: Worker.originName, in: head.headers, bytes: bytes) else { return nil }
        connections[index].request.corsOrigin = Int32(policy.match(origin: bytes.extracting(origin)))
        guard head.method == .options,
              HeaderNames.value(of: Worker.requestMethodName, in: head.headers, bytes: bytes) != nil else { return nil }
        // A resource policy that refuses the caller refuses its preflights too: the request goes
        // on to the pipeline, which answers as the policy says (or 403 without a route).
        if policies[api] != nil && policyDecision(index, bytes, stage: stage) != .allow { return nil }
        return catalog.preflight(api: api)
    }

    /// Steps 5–7: the API key, the throttles and the quota (Admission.swift, SluiceThrottle).
    func admissionStep(_ index: Int, _ bytes: Span<UInt8>) -> StepOutcome {
        let refusal = admit(index, bytes)
        connections[index].request.record.apiKey = connections[index].request.key.map { Int32($0.key) } ?? -1
        return refusal.map { .refuse($0) } ?? .proceed
    }

    /// Step 8: the stage cache (Caching.swift), for answers an integration gives.
    func cacheStep(_ index: Int, _ bytes: Span<UInt8>) -> StepOutcome {
        guard proxyTargets.target(operation: match.operation, stage: match.stage) != nil
                || proxyTargets.lambdaTarget(operation: match.operation, stage: match.stage) != nil else {
            return .proceed
        }
        switch cacheOutcome(index, bytes) {
        case .parked: return .wait
        case .answered(let response):
            connections[index].request.pending.response = response
            return .done
        case .integration: return .proceed
        }
    }

    /// Step 10: the integration. A MOCK (or an integration Sluice cannot run) answers with its
    /// prepared response; HTTP, HTTP_PROXY and AWS_PROXY hand the request to an upstream.
    func integrationStep(_ index: Int, _ bytes: Span<UInt8>) -> StepOutcome {
        var refused: GatewayAnswer?
        connections[index].request.wantsBinary = wantsBinary(bytes)
        if let target = proxyTargets.target(operation: match.operation, stage: match.stage) {
            var replaced: BodyReplacement?
            if let templates = templating.httpRequests[match.operation] {
                switch requestBody(index, bytes, templates) {
                case .passthrough: break
                case .replaced(let replacement): replaced = replacement
                case .outcome(let outcome): return outcome
                }
            }
            if replaced == nil {
                // A compressed body is sent decoded (Compression.swift).
                switch decodedForUpstream(index, bytes) {
                case .passthrough: break
                case .replaced(let replacement): replaced = replacement
                case .outcome(let outcome): return outcome
                }
            }
            if templating.httpResponses[match.operation] != nil { holdRequestForAnswer(index, bytes) }
            refused = startExchange(index, operation: match.operation, target: target, bytes: bytes, replaced: replaced)
            if refused != nil { releaseAnswerBuffer(index) }
        } else if let target = proxyTargets.lambdaTarget(operation: match.operation, stage: match.stage) {
            refused = startInvocation(index, target: target, bytes: bytes)
        } else if let mock = templating.mocks[match.operation] {
            return templatedMockStep(index, bytes, mock)
        } else {
            connections[index].request.pending.response = match.operation
            return .done
        }
        if let refused {
            endFill(index, keep: false)
            return .refuse(refused)
        }
        connections[index].request.pending.response = -1
        return .done
    }
}
