import SluiceCache
import SluiceConfig
import SluiceHTTP1
import SluiceJSON
import SluiceLambda
import SluicePipeline
import SluicePolicy
import SluiceURing

/// A Lambda authorizer, compiled for the request path.
struct CompiledLambdaAuthorizer {
    enum Source {
        case header([UInt8])
        case query([UInt8])
        /// The variable's value on each stage (nil where the stage has none).
        case stageVariable([[UInt8]?])
        case context(ContextVariable)
    }

    let index: Int
    let isToken: Bool
    let upstream: Int
    /// The invoke request's head (`CompiledLambdaTarget.invokeHead`).
    let requestHead: [UInt8]
    let sources: [Source]
    let validation: Regex<AnyRegexOutput>?
    let ttlNanoseconds: Int64
    let simple: Bool
    let version2: Bool
    let isHTTPAPI: Bool

    init?(_ authorizer: Authorizer, index: Int, stages: [Stage]) {
        guard let function = authorizer.function, authorizer.kind == .token || authorizer.kind == .request else {
            return nil
        }
        self.index = index
        isToken = authorizer.kind == .token
        upstream = function.upstream
        requestHead = CompiledLambdaTarget.invokeHead(function)
        sources = authorizer.identitySources.map { source in
            switch source {
            case .header(let name): .header(Array(name.utf8))
            case .query(let name): .query(Array(name.utf8))
            case .stageVariable(let name): .stageVariable(stages.map { $0.variables[name].map { Array($0.utf8) } })
            case .context(let variable): .context(variable)
            }
        }
        validation = authorizer.validationExpression.flatMap { try? Regex($0) }
        ttlNanoseconds = Int64(authorizer.resultTTLSeconds) * 1_000_000_000
        simple = authorizer.simpleResponses
        version2 = authorizer.payloadFormatVersion == "2.0"
        isHTTPAPI = authorizer.isHTTPAPI
    }
}

/// Pipeline step 4 for Lambda authorizers (TOKEN and REQUEST): the identity sources key a result
/// kept in shared memory for every worker (`authorizerResultTtlInSeconds`); a miss invokes the
/// function through the same emulator connections as AWS_PROXY, once for every request that
/// misses the same key at the same time (the others wait for its result, as for a stage cache
/// fill), and the request waits, parked, until the answer is in. The answer is compiled once
/// (`AuthorizerResult`) and its policy decided against each request's method ARN.
extension Worker {
    static let authorizerFillMarginNanoseconds: Int64 = 1_000_000_000

    func lambdaStep(_ index: Int, _ bytes: Span<UInt8>, authorizer: Int) -> StepOutcome {
        guard let compiled = authorization.lambda[authorizer] else { return .refuse(.authorizerConfigurationError) }
        if connections[index].request.authorizerFailure >= 0,
           let failure = GatewayAnswer(rawValue: Int(connections[index].request.authorizerFailure)) {
            // HTTP APIs answer a failed authorizer with their plain 500.
            let serverError = failure == .authorizerFailure || failure == .authorizerConfigurationError
            return .refuse(compiled.isHTTPAPI && serverError ? .functionFailed : failure)
        }
        if connections[index].request.record.authorizerResult >= 0 { return decide(index, bytes, compiled) }
        // Its invocation is under way: wait on. (Never refuse here: the invocation would go on
        // and its answer land in the connection's next request. A request that resumes has just
        // given its parked slot back, so it can park again.)
        if connections[index].request.authorizerPending { return .wait }
        guard identityKey(index, bytes, compiled) else { return .refuse(.unauthorized) }
        let key = authorization.keyScratch
        let hash = CacheIndex.hash(key.span)
        var claim: Int64 = 0
        if compiled.ttlNanoseconds > 0, let cache = authorization.resultCache {
            switch cache.lookup(hash: hash, key: key.span, now: now) {
            case .hit(let entry):
                if keepResult(index, from: cache, entry: entry) { return decide(index, bytes, compiled) }
            case .filling:
                if canWait(index) {
                    waitForFill(index)
                    return .wait
                }
            case .pass:
                break
            case .miss:
                let deadline = now + Int64(ProxyTargets.authorizerTimeoutMilliseconds) * 1_000_000
                    + Worker.authorizerFillMarginNanoseconds
                switch cache.claimFill(hash: hash, now: now, deadline: deadline) {
                case .claimed: claim = deadline
                case .taken:
                    if canWait(index) {
                        waitForFill(index)
                        return .wait
                    }
                case .passing: break
                }
            }
        }
        if compiled.isToken, let validation = compiled.validation, !tokenMatches(bytes, validation) {
            abandonClaim(hash: hash, deadline: claim)
            return .refuse(.unauthorized)
        }
        guard canWait(index) else {
            abandonClaim(hash: hash, deadline: claim)
            return .refuse(.serviceUnavailable)
        }
        if let failure = startAuthorizerInvocation(index, compiled, bytes) {
            abandonClaim(hash: hash, deadline: claim)
            return .refuse(failure)
        }
        connections[index].authorizerHash = hash
        connections[index].authorizerClaim = claim
        return .wait
    }

    /// The key of the request's identity: the authorizer, the stage and each source's value.
    /// False when a source is missing (API Gateway answers 401 without invoking).
    func identityKey(_ index: Int, _ bytes: Span<UInt8>, _ compiled: CompiledLambdaAuthorizer) -> Bool {
        authorization.keyScratch.removeAll(keepingCapacity: true)
        Worker.appendWord(UInt32(compiled.index), to: &authorization.keyScratch)
        Worker.appendWord(UInt32(match.stage), to: &authorization.keyScratch)
        for source in compiled.sources {
            let start = authorization.keyScratch.count
            Worker.appendWord(0, to: &authorization.keyScratch)
            switch source {
            case .header(let name):
                guard let value = HeaderNames.value(of: name, in: head.headers, bytes: bytes), !value.isEmpty else { return false }
                let text = bytes.extracting(value)
                for offset in 0..<text.count { authorization.keyScratch.append(text[offset]) }
            case .query(let name):
                guard let value = QueryString.value(of: name, in: bytes.extracting(head.query)), !value.isEmpty else {
                    return false
                }
                let text = bytes.extracting(head.query).extracting(value)
                for offset in 0..<text.count { authorization.keyScratch.append(text[offset]) }
            case .stageVariable(let values):
                guard let value = values[match.stage], !value.isEmpty else { return false }
                authorization.keyScratch.append(contentsOf: value)
            case .context(let variable):
                let length = valueScratch.write(slot: 0, offset: 0) { writer in
                    appendContext(variable, index, head: bytes, headAtHand: true, escaping: .none, to: &writer)
                }.byteCount
                guard length > 0 else { return false }
                valueScratch.withBytes(slot: 0, range: 0..<length) { text in
                    for offset in 0..<text.count { authorization.keyScratch.append(text[offset]) }
                }
            }
            let length = authorization.keyScratch.count - start - 4
            for byte in 0..<4 { authorization.keyScratch[start + byte] = UInt8(truncatingIfNeeded: length >> (8 * byte)) }
        }
        return true
    }

    static func appendWord(_ value: UInt32, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    /// TOKEN: the token (the first source's value) against `identityValidationExpression`.
    /// Runs only when no kept result answers: a token that passed once is kept with its result.
    func tokenMatches(_ bytes: Span<UInt8>, _ validation: Regex<AnyRegexOutput>) -> Bool {
        let key = authorization.keyScratch
        let token = String(decoding: key[Worker.tokenKeyOffset...], as: UTF8.self)
        return (try? validation.wholeMatch(in: token)) != nil
    }

    func abandonClaim(hash: UInt64, deadline: Int64) {
        guard deadline != 0, let cache = authorization.resultCache else { return }
        cache.abandonFill(hash: hash, deadline: deadline, now: now, passUntil: now + Worker.passNanoseconds)
    }

    /// Copies a kept result into a slot of the request's own; false when none is free or the
    /// entry was overwritten since it was found.
    func keepResult(_ index: Int, from cache: CacheIndex, entry: CachedEntry) -> Bool {
        guard let slot = authorization.freeResults.popLast() else { return false }
        let copied = cache.withBytes(of: entry, range: entry.headRange) { result in
            authorization.results.write(slot: Int(slot), offset: 0) { writer in writer.append(result) }
        }
        guard let copied, !copied.overflowed else {
            authorization.freeResults.append(slot)
            return false
        }
        authorization.resultLengths[Int(slot)] = Int32(copied.byteCount)
        connections[index].request.record.authorizerResult = slot
        return true
    }

    /// The method ARN of the request (`arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/VERB/PATH`)
    /// into `authorization.arnScratch`.
    func methodARN(_ bytes: Span<UInt8>) {
        authorization.arnScratch.removeAll(keepingCapacity: true)
        authorization.arnScratch.append(contentsOf: authorization.arnPrefixes[match.stage])
        let method = bytes.extracting(head.methodName)
        for offset in 0..<method.count { authorization.arnScratch.append(method[offset]) }
        authorization.arnScratch.append(UInt8(ascii: "/"))
        appendRoutedPath(bytes, stage: match.stage, to: &authorization.arnScratch)
    }

    /// The kept result's policy (or simple answer) for this request's method.
    func decide(_ index: Int, _ bytes: Span<UInt8>, _ compiled: CompiledLambdaAuthorizer) -> StepOutcome {
        let slot = Int(connections[index].request.record.authorizerResult)
        methodARN(bytes)
        let arn = authorization.arnScratch
        let length = Int(authorization.resultLengths[slot])
        let decision = authorization.results.withBytes(slot: slot, range: 0..<length) { result -> PolicyDecision in
            guard let reader = AuthorizerResultReader(result) else { return .implicitDeny }
            return reader.decide(result, methodARN: arn.span)
        }
        switch decision {
        case .allow: return .proceed
        case .explicitDeny: return .refuse(compiled.isHTTPAPI ? .forbidden : .explicitDeny)
        case .implicitDeny: return .refuse(compiled.isHTTPAPI ? .forbidden : .accessDenied)
        }
    }

    // MARK: The invocation

    /// Writes the authorizer's event and starts sending it; nil once under way, else the answer.
    func startAuthorizerInvocation(_ client: Int, _ compiled: CompiledLambdaAuthorizer, _ bytes: Span<UInt8>) -> GatewayAnswer? {
        guard upstreamAddressIndex[compiled.upstream] >= 0 else { return .authorizerFailure }
        guard let slot = freeInvocations.popLast().map(Int.init) else { return .serviceUnavailable }
        guard let upstream = acquireUpstream(compiled.upstream) else {
            freeInvocations.append(Int32(slot))
            return .serviceUnavailable
        }
        methodARN(bytes)
        let arn = authorization.arnScratch
        let key = authorization.keyScratch
        let prefixStart = compiled.requestHead.count + Invocation.chunkSizeLineBytes
        var written = 0
        var overflowed = false
        if compiled.isToken {
            // {"type":"TOKEN","authorizationToken":"…","methodArn":"…"}
            let event = invocations.write(slot: slot, offset: prefixStart) { writer in
                writer.append(Worker.tokenEventStart)
                JSONText.appendStringContent(key.span.extracting(Worker.tokenKeyOffset..<key.count), to: &writer)
                writer.append(Worker.methodARNField)
                JSONText.appendStringContent(arn.span, to: &writer)
                writer.append(Worker.eventEnd)
            }
            written = event.byteCount
            overflowed = event.overflowed
        } else {
            // {"type":"REQUEST","methodArn":"…"` then the proxy event, its `{` made a `,`.
            let start = invocations.write(slot: slot, offset: prefixStart) { writer in
                writer.append(Worker.requestEventStart)
                writer.append(compiled.version2 ? Worker.routeARNField : Worker.requestMethodARNField)
                JSONText.appendStringContent(arn.span, to: &writer)
                writer.append(0x22)
                if compiled.version2 {
                    writer.append(Worker.identitySourceField)
                    var offset = 8
                    var first = true
                    while offset + 4 <= key.count {
                        var length = 0
                        for byte in 0..<4 { length |= Int(key[offset + byte]) << (8 * byte) }
                        if !first { writer.append(UInt8(ascii: ",")) }
                        first = false
                        writer.append(0x22)
                        JSONText.appendStringContent(key.span.extracting((offset + 4)..<(offset + 4 + length)), to: &writer)
                        writer.append(0x22)
                        offset += 4 + length
                    }
                    writer.append(UInt8(ascii: "]"))
                }
            }
            guard let eventIndex = proxyTargets.authorizerEvent(operation: match.operation, stage: match.stage) else {
                freeInvocations.append(Int32(slot))
                abort(upstream)
                return .authorizerConfigurationError
            }
            let context = proxyTargets.authorizerEventContexts[eventIndex][Int(connections[client].listener)]
            let event = writeEvent(client, slot: slot, offset: prefixStart + start.byteCount, context: context,
                                   stagePrefixByteCount: authorization.stagePrefixByteCounts[match.stage],
                                   encoding: .none, bytes: bytes)
            _ = invocations.write(slot: slot, offset: prefixStart + start.byteCount) { writer in
                writer.append(UInt8(ascii: ","))
            }
            written = start.byteCount + event.byteCount
            overflowed = start.overflowed || event.overflowed
        }
        var end = prefixStart + written
        let framed = invocations.write(slot: slot, offset: 0) { writer in
            writer.append(compiled.requestHead)
            ResponseHead.appendHex(UInt64(written), digits: 8, to: &writer)
            writer.append(ResponseHead.crlf)
        }
        let closed = invocations.write(slot: slot, offset: end) { writer in
            writer.append(ResponseHead.crlf)
            writer.append(Worker.lastChunk)
        }
        end += closed.byteCount
        guard !overflowed, !framed.overflowed, !closed.overflowed, end <= invocationLayout.answerStart else {
            freeInvocations.append(Int32(slot))
            abort(upstream)
            return .authorizerFailure
        }
        // The key goes with the invocation (the response region is free): its result is kept
        // under it when the answer comes, whatever other requests did with the scratch meanwhile.
        let keyWritten = invocations.write(slot: slot, offset: invocationLayout.responseStart) { writer in
            writer.append(key.span)
        }
        invocationStates[slot] = Invocation(target: -1, body: nil)
        invocationStates[slot].authorizer = Int32(compiled.index)
        invocationStates[slot].responseEnd = invocationLayout.responseStart + keyWritten.byteCount
        connections[client].peer = Int32(upstream)
        connections[client].invocation = Int32(slot)
        connections[client].request.authorizerPending = true
        sendInvocation(upstream, client: client, slot: slot, end: end, requestSent: true,
                       startedNanoseconds: clock.monotonicNanoseconds(), timeoutList: proxyTargets.authorizerTimeoutList,
                       timeoutNanoseconds: Int64(ProxyTargets.authorizerTimeoutMilliseconds) * 1_000_000)
        return nil
    }

    /// The function's whole answer is in: compile it, keep it (for every worker when results are
    /// kept), and let the request go on at its authorizer step.
    func completeAuthorizer(_ upstream: Int, reusable: Bool) {
        let client = Int(connections[upstream].peer)
        let slot = Int(connections[upstream].invocation)
        connections[upstream].invocation = -1
        let invocation = invocationStates[slot]
        let authorizer = Int(invocation.authorizer)
        var failure: GatewayAnswer?
        let answerRange = invocationLayout.answerStart..<(invocationLayout.answerStart + invocation.answerLength)
        if invocation.invokeStatus != 200 {
            failure = .authorizerFailure
        } else {
            let simple = authorization.lambda[authorizer]?.simple ?? false
            failure = invocations.withBytes(slot: slot, range: answerRange) { answer -> GatewayAnswer? in
                if invocation.functionError || Worker.isErrorAnswer(answer) {
                    return Worker.saysUnauthorized(answer) ? .unauthorized : .authorizerConfigurationError
                }
                switch AuthorizerResult.compile(answer, simple: simple, into: &authorization.answerScratch) {
                case .success: return nil
                case .failure: return .authorizerConfigurationError
                }
            }
        }
        releaseUpstream(upstream, reusable: reusable)
        // A client that left aborted this upstream connection (`abort`) and gave the slot back
        // (`release`): no answer reaches here without one.
        guard client >= 0 else { return }
        connections[client].peer = -1
        let hash = connections[client].authorizerHash
        let claim = connections[client].authorizerClaim
        connections[client].authorizerClaim = 0
        if failure == nil, let compiled = authorization.lambda[authorizer] {
            let result = authorization.answerScratch
            if compiled.ttlNanoseconds > 0, let cache = authorization.resultCache {
                let stored = invocations.withBytes(slot: slot, range: invocationLayout.responseStart..<invocation.responseEnd) { key in
                    cache.store(hash: hash, key: key, status: 200, head: result.span, body: Span(), now: now,
                                expiresAt: now + compiled.ttlNanoseconds, writer: self.slot)
                }
                if !stored { abandonClaim(hash: hash, deadline: claim) }
            }
            if let free = authorization.freeResults.popLast() {
                let copied = authorization.results.write(slot: Int(free), offset: 0) { $0.append(result.span) }
                if copied.overflowed {
                    authorization.freeResults.append(free)
                    failure = .authorizerConfigurationError
                } else {
                    authorization.resultLengths[Int(free)] = Int32(copied.byteCount)
                    connections[client].request.record.authorizerResult = free
                }
            } else {
                failure = .serviceUnavailable
            }
        } else {
            abandonClaim(hash: hash, deadline: claim)
        }
        invocationStates[slot].responseEnd = 0
        releaseInvocation(client)
        authorizerFinished(client, failure: failure)
    }

    /// The authorizer's invocation ended (answered or failed): the request resumes at its step.
    func authorizerFinished(_ client: Int, failure: GatewayAnswer?) {
        connections[client].request.authorizerPending = false
        if let failure { connections[client].request.authorizerFailure = Int16(failure.rawValue) }
        guard connections[client].isOpen, !connections[client].closing else { return }
        resumeReading(client)
        afterInput(client)
    }

    /// An answer that is a runtime's error object (`errorMessage`, no `principalId`).
    static func isErrorAnswer(_ answer: Span<UInt8>) -> Bool {
        guard let document = JSONScanner.document(answer), document.kind == .object else { return false }
        var members = JSONMembers(document.range)
        var error = false
        while let (key, _) = members.next(answer) {
            if JSONScanner.string(answer, key, equals: Worker.principalIDName.span) { return false }
            if JSONScanner.string(answer, key, equals: Worker.errorMessageName.span) { error = true }
        }
        return error
    }

    /// A function that failed with the message `Unauthorized` (`callback("Unauthorized")`,
    /// `throw new Error("Unauthorized")`): API Gateway answers 401.
    static func saysUnauthorized(_ answer: Span<UInt8>) -> Bool {
        guard let document = JSONScanner.document(answer) else { return false }
        if document.kind == .string { return JSONScanner.string(answer, document, equals: Worker.unauthorizedText.span) }
        guard document.kind == .object else { return false }
        var members = JSONMembers(document.range)
        while let (key, value) = members.next(answer) {
            if JSONScanner.string(answer, key, equals: Worker.errorMessageName.span) {
                return JSONScanner.string(answer, value, equals: Worker.unauthorizedText.span)
            }
        }
        return false
    }

    /// Where a TOKEN authorizer's token starts in its key: after the authorizer, the stage and
    /// the token's length (four bytes each).
    static let tokenKeyOffset = 12
    static let tokenEventStart: [UInt8] = Array(#"{"type":"TOKEN","authorizationToken":""#.utf8)
    static let requestEventStart: [UInt8] = Array(#"{"type":"REQUEST","#.utf8)
    static let methodARNField: [UInt8] = Array(#"","methodArn":""#.utf8)
    static let routeARNField: [UInt8] = Array(#""routeArn":""#.utf8)
    static let requestMethodARNField: [UInt8] = Array(#""methodArn":""#.utf8)
    static let identitySourceField: [UInt8] = Array(#","identitySource":["#.utf8)
    static let eventEnd: [UInt8] = Array(#""}"#.utf8)
    static let principalIDName: [UInt8] = Array("principalId".utf8)
    static let errorMessageName: [UInt8] = Array("errorMessage".utf8)
    static let unauthorizedText: [UInt8] = Array("Unauthorized".utf8)
}
