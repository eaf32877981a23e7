import SluiceConfig
import SluiceHTTP1
import SluicePipeline
import SluiceLambda
import SluiceMetrics
import SluiceURing

// AWS_PROXY (Lambda proxy) integrations: the request becomes API Gateway's proxy event, POSTed to
// a Lambda Runtime Interface Emulator over the same pooled upstream connections as HTTP
// integrations; the function's JSON answer becomes the response.
//
// Each invocation holds one slot of the worker's `invocations` slab for its whole life. The slot
// has three regions, committed by the kernel only as they are touched:
//
//     [0, answerStart)               the invoke request's head and the event up to the body, as
//                                    one chunk; streamed into the upstream connection's output
//     [answerStart, responseStart)   the function's answer as it arrives (at most 6 MB, Lambda's
//                                    own limit for a synchronous invocation)
//     [responseStart, slotBytes)     the client's response, head and decoded body; streamed into
//                                    the client connection's output
//
// The request body is escaped (or base64-encoded) into the upstream's output piece by piece as it
// arrives, one chunk of `Transfer-Encoding: chunked` per piece, so it is never held whole.

/// One operation's AWS_PROXY integration for one stage, ready to write.
struct CompiledLambdaTarget {
    var upstream: Int
    /// `POST <invocation path> HTTP/1.1` and the invoke request's fixed fields, through the blank line.
    var requestHead: [UInt8]
    /// The event's constant parts, one per listener (they differ in `X-Forwarded-Proto` and
    /// `X-Forwarded-Port`).
    var contexts: [LambdaEventContext]
    var context: LambdaEventContext { contexts[0] }
    /// Bytes of the request path in front of the resource path: `/prod` in `/prod/pets`
    /// (base path and stage segments, as the API is mounted).
    var stagePrefixByteCount: Int
    var timeoutList: DeadlineLists.List
    var timeoutNanoseconds: Int64

    init(_ target: LambdaTarget, integration: LambdaProxyIntegration, operation: Operation, stage: Stage,
         api: API, deploymentID: String, listeners: [(scheme: String, port: Int)], list: DeadlineLists.List) {
        upstream = target.upstream
        requestHead = CompiledLambdaTarget.invokeHead(target)
        contexts = CompiledLambdaTarget.contexts(format: integration.payloadFormatVersion, operation: operation,
                                                 stage: stage, api: api, deploymentID: deploymentID,
                                                 listeners: listeners)
        stagePrefixByteCount = stage.urlPrefix.reduce(0) { $0 + 1 + $1.utf8.count }
        timeoutList = list
        timeoutNanoseconds = Int64(integration.timeoutMilliseconds) * 1_000_000
    }

    /// `POST <invocation path> HTTP/1.1` and the invoke request's fixed fields, through the blank line.
    static func invokeHead(_ target: LambdaTarget) -> [UInt8] {
        Array(("POST \(target.invocationPath) HTTP/1.1\r\nHost: \(target.hostHeader)\r\n"
               + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").utf8)
    }

    /// An operation's event contexts on a stage, one per listener.
    static func contexts(format formatVersion: String, operation: Operation, stage: Stage, api: API,
                         deploymentID: String, listeners: [(scheme: String, port: Int)]) -> [LambdaEventContext] {
        let format = LambdaPayloadFormat(payloadFormatVersion: formatVersion) ?? .version1
        let stageVariables = stage.variables.sorted { $0.key < $1.key }.map {
            LambdaStageVariable(name: $0.key, value: $0.value)
        }
        return listeners.map { listener in
            LambdaEventContext(
                format: format, resourcePath: operation.resourcePath,
                routeKey: "\(operation.method) \(operation.resourcePath)", stage: stage.name,
                stageVariables: stageVariables, apiID: api.name, deploymentID: deploymentID,
                pathParameterNames: operation.pathParameterNames, forwardedProto: listener.scheme,
                forwardedPort: String(listener.port))
        }
    }

    /// The most bytes the request region holds for this target: head, chunk framing, the event
    /// up to the body for the largest head the limits allow, and (without a body) the suffix.
    func requestBytesMax(headBytesMax: Int) -> Int {
        let prefixBytesMax = contexts.map { context in
            LambdaEvent.prefixBytesMax(headByteCount: headBytesMax, requestIDByteCount: 36,
                                       sourceIPByteCount: Invocation.sourceIPBytesMax, context: context)
        }.max() ?? 0
        return requestHead.count + Invocation.chunkSizeLineBytes + prefixBytesMax
            + BodyEncoderState.suffixBytesMax + Invocation.chunkFramingBytes
    }
}

/// Where an invocation's regions start in its slot.
struct InvocationLayout {
    /// Lambda's limit for a synchronous invocation's response payload.
    static let answerBytesMax = 6 * 1_048_576
    /// Room for the response head over the answer's own bytes: every field of the answer may gain
    /// `x-amzn-Remapped-`, `: ` and CRLF; the gateway adds its own lines.
    static let responseHeadBytesMax = 65_536
    /// An invocation that touched more than this gives its pages back when it ends.
    static let retainedBytesMax = 262_144

    let answerStart: Int
    let responseStart: Int
    let slotBytes: Int

    init(requestBytesMax: Int) {
        answerStart = InvocationLayout.pageRounded(requestBytesMax)
        responseStart = answerStart + InvocationLayout.answerBytesMax
        slotBytes = InvocationLayout.pageRounded(responseStart + InvocationLayout.answerBytesMax
                                                 + InvocationLayout.responseHeadBytesMax)
    }

    static func pageRounded(_ bytes: Int) -> Int { (bytes + 65_535) / 65_536 * 65_536 }
}

/// One invocation in flight, by slot.
struct Invocation {
    static let chunkSizeLineBytes = 10  // 8 hex digits and CRLF
    /// Size line, CRLF after the data, and the last chunk `0\r\n\r\n`.
    static let chunkFramingBytes = chunkSizeLineBytes + 2 + 5
    /// INET6_ADDRSTRLEN and then some.
    static let sourceIPBytesMax = 64

    var target: Int32 = -1
    /// The event's body, while it is being written; nil once the event is complete (or has none).
    var body: BodyEncoderState? = nil
    /// The answer's bytes so far, at the slot's `answerStart`.
    var answerLength = 0
    /// The emulator's status for the invoke request (200 when the function ran).
    var invokeStatus = 0
    /// The emulator said the function failed (`X-Amz-Function-Error`).
    var functionError = false
    /// The end of the response in the slot, for streaming it to the client.
    var responseEnd = 0
    /// A Lambda authorizer's invocation (`Deployment.authorizers` index), or -1.
    var authorizer: Int32 = -1
}

extension Worker {
    // MARK: Starting an invocation

    /// Writes the invoke request and the event up to the body, and starts sending it. Called with
    /// the request head's bytes (valid during this call only). Returns nil once the invocation is
    /// under way, or the answer to give instead.
    func startInvocation(_ client: Int, target index: Int, bytes: Span<UInt8>) -> GatewayAnswer? {
        let target = lambdaTargets[index]
        guard upstreamAddressIndex[target.upstream] >= 0 else { return .badGateway }
        guard match.pathParameters.count == target.context.pathParameterCount else { return .internalServerError }
        guard let slot = freeInvocations.popLast().map(Int.init) else { return .serviceUnavailable }
        guard let upstream = acquireUpstream(target.upstream) else {
            freeInvocations.append(Int32(slot))
            return .serviceUnavailable
        }
        let encoding: LambdaBodyEncoding
        switch head.framing {
        case .none, .length(0): encoding = .none
        case .length, .chunked:
            if target.context.format == .version1 {
                // REST APIs: a body of a binary media type goes base64-encoded, as bytes.
                let contentType = HeaderNames.value(of: HeaderNames.contentType, in: head.headers, bytes: bytes)
                let binary = contentType.map { contentType in
                    requestAPI(client).map { templating.binaryTypes[$0].matches(bytes.extracting(contentType)) } ?? false
                } ?? false
                encoding = binary ? .base64 : .text
            } else if let contentType = HeaderNames.value(of: HeaderNames.contentType, in: head.headers, bytes: bytes) {
                encoding = LambdaBodyEncoding.version2(contentType: bytes.extracting(contentType))
            } else {
                encoding = .base64
            }
        }
        let prefixStart = target.requestHead.count + Invocation.chunkSizeLineBytes
        let context = target.contexts[Int(connections[client].listener)]
        let authorizerLength = writeAuthorizerObject(client, version2: context.format == .version2)
        let written = writeEvent(client, slot: slot, offset: prefixStart, context: context,
                                 stagePrefixByteCount: target.stagePrefixByteCount, encoding: encoding,
                                 authorizerLength: authorizerLength, bytes: bytes)
        var end = prefixStart + written.byteCount
        let framed = invocations.write(slot: slot, offset: 0) { writer in
            writer.append(target.requestHead)
            ResponseHead.appendHex(UInt64(written.byteCount), digits: 8, to: &writer)
            writer.append(ResponseHead.crlf)
        }
        let closed = invocations.write(slot: slot, offset: end) { writer in
            writer.append(ResponseHead.crlf)
            if encoding == .none { writer.append(Worker.lastChunk) }
        }
        end += closed.byteCount
        guard !written.overflowed, !framed.overflowed, !closed.overflowed, end <= invocationLayout.answerStart else {
            // The region is sized for the largest head the limits allow: only a bug lands here.
            freeInvocations.append(Int32(slot))
            abort(upstream)
            return .internalServerError
        }
        invocationStates[slot] = Invocation(target: Int32(index), body: encoding == .none ? nil : written.result)

        connections[client].peer = Int32(upstream)
        connections[client].invocation = Int32(slot)
        connections[client].awaitingUpstream = true
        connections[client].answerStarted = false
        connections[client].bodyReplaced = false
        sendInvocation(upstream, client: client, slot: slot, end: end, requestSent: encoding == .none,
                       startedNanoseconds: connections[client].request.startedNanoseconds,
                       timeoutList: target.timeoutList, timeoutNanoseconds: target.timeoutNanoseconds)
        return nil
    }

    /// Starts sending an invocation's request (`[0, end)` of its slot) on `upstream` for `client`,
    /// on the timeout list given: an AWS_PROXY integration's, or a Lambda authorizer's.
    func sendInvocation(_ upstream: Int, client: Int, slot: Int, end: Int, requestSent: Bool, startedNanoseconds: Int64,
                        timeoutList: DeadlineLists.List, timeoutNanoseconds: Int64) {
        connections[upstream].peer = Int32(client)
        connections[upstream].invocation = Int32(slot)
        connections[upstream].target = -1
        connections[upstream].requestMethod = .post
        connections[upstream].responsePhase = .head
        connections[upstream].responseParser.reset()
        connections[upstream].requestSent = requestSent
        connections[upstream].answerBytesReceived = false
        connections[upstream].exchangeStartedNanoseconds = startedNanoseconds
        connections[upstream].request.group = connections[client].request.group
        connections[upstream].request.methodGroup = connections[client].request.methodGroup
        connections[upstream].retryable = false
        connections[upstream].streamingInvocation = Int32(slot)
        connections[upstream].streamingOffset = 0
        connections[upstream].streamingEnd = end
        continueStreaming(upstream)
        deadlines.schedule(upstream, in: timeoutList, deadline: now + timeoutNanoseconds)
        if !connections[upstream].connecting { flush(upstream) }
    }

    /// Writes the request's event (up to its body, or whole without one) into the invocation's
    /// slot at `offset`: its ids, trace, source address, client certificate and key, as the
    /// proxy event and a REQUEST authorizer's event carry them.
    /// `authorizerLength`: the bytes of `requestContext.authorizer` at the start of
    /// `authorization.objectScratch` (0: none).
    func writeEvent(_ client: Int, slot: Int, offset: Int, context: LambdaEventContext, stagePrefixByteCount: Int,
                    encoding: LambdaBodyEncoding, authorizerLength: Int = 0, bytes: Span<UInt8>)
        -> (result: BodyEncoderState, byteCount: Int, overflowed: Bool) {
        let sourceIPLength = peerAddressLength(client)
        // The route's parameter values are ranges into the path; the event wants them into the head.
        eventPathValues.removeAll(keepingCapacity: true)
        let pathStart = head.path.lowerBound
        for range in match.pathParameters {
            eventPathValues.append((pathStart + range.lowerBound)..<(pathStart + range.upperBound))
        }
        let parts = LambdaRequestParts(
            head: head, stagePrefixByteCount: min(stagePrefixByteCount, head.path.count),
            requestTimeEpochMilliseconds: connections[client].request.record.epochMilliseconds,
            apiKey: connections[client].request.key.flatMap { $0.value.isEmpty ? nil : $0.value })
        let keyName = connections[client].request.key.map { apiKeyNames[$0.key] } ?? []
        // The ids and the trace, side by side in the scratch slot: request id, extended id, trace.
        let requestIDLength = textScratch.write(slot: 0, offset: 0) { writer in
            appendValue(.context(.requestId), client, head: bytes, headAtHand: true, escaping: .none, to: &writer)
        }.byteCount
        let idsLength = requestIDLength + textScratch.write(slot: 0, offset: requestIDLength) { writer in
            appendValue(.context(.extendedRequestId), client, head: bytes, headAtHand: true, escaping: .none,
                        to: &writer)
        }.byteCount
        // The event's X-Amzn-Trace-Id: the client's as it came when valid, else the request's trace.
        let clientTrace = validAmazonTrace(bytes)
        let trace = connections[client].request.record.trace
        let traceLength = clientTrace != nil ? 0 : textScratch.write(slot: 0, offset: idsLength) { writer in
            trace.appendAmazonValue(to: &writer)
        }.byteCount
        return textScratch.withBytes(slot: 0, range: 0..<(idsLength + traceLength)) { scratch in
            let requestID = scratch.extracting(0..<requestIDLength)
            let extendedRequestID = scratch.extracting(requestIDLength..<idsLength)
            let traceID: Span<UInt8>
            if let clientTrace {
                traceID = bytes.extracting(clientTrace)
            } else {
                traceID = scratch.extracting(idsLength...)
            }
            let certificate = clientCertificateObjects.isEmpty ? 0..<0 : clientCertificateObjects[client]
            return peerAddresses.withBytes(slot: client, range: 0..<sourceIPLength) { sourceIP in
                clientCertificates.withBytes(slot: certificate.isEmpty ? 0 : client, range: certificate) { certificate in
                    authorization.objectScratch.withBytes(slot: 0, range: 0..<authorizerLength) { authorizer in
                        invocations.write(slot: slot, offset: offset) { writer in
                            var state = LambdaEvent.writePrefix(
                                request: parts, head: bytes, headers: head.headers, pathParameterValues: eventPathValues,
                                requestID: requestID, extendedRequestID: extendedRequestID, sourceIP: sourceIP,
                                apiKeyID: keyName.span, traceID: traceID, clientCertificate: certificate,
                                authorizer: authorizer, context: context, body: encoding, scratch: &eventScratch,
                                to: &writer)
                            if encoding == .none { LambdaEvent.writeSuffix(state: &state, to: &writer) }
                            return state
                        }
                    }
                }
            }
        }
    }

    // MARK: The request body

    /// How many body bytes can be encoded into the upstream's output now, keeping room for the
    /// event's end. None while the event's start is still being copied in.
    func functionBodyRoom(_ upstream: Int) -> Int {
        guard !connections[upstream].isStreaming, let state = invocationStates[Int(connections[upstream].invocation)].body
        else { return 0 }
        let reserved = Invocation.chunkFramingBytes * 2 + BodyEncoderState.suffixBytesMax
        var room = output.slotBytes - connections[upstream].outputEnd - reserved
        if room <= 0 { room = compactedRoom(upstream) - reserved }
        return room > 0 ? state.chunkInputBytesMax(outputByteCapacity: room) : 0
    }

    /// Encodes a piece of the request body into the event, as one chunk.
    func forwardToFunction(_ bytes: Span<UInt8>, upstream: Int) {
        let slot = Int(connections[upstream].invocation)
        let start = connections[upstream].outputEnd
        let data = output.write(slot: upstream, offset: start + Invocation.chunkSizeLineBytes) { writer in
            LambdaEvent.writeBodyChunk(bytes, state: &invocationStates[slot].body!, to: &writer)
            writer.append(ResponseHead.crlf)
        }
        precondition(!data.overflowed, "body pieces are sized to the room")
        // A piece that only completed part of a UTF-8 sequence or base64 group writes nothing yet.
        guard data.byteCount > 2 else { return }
        _ = output.write(slot: upstream, offset: start) { writer in
            ResponseHead.appendHex(UInt64(data.byteCount - 2), digits: 8, to: &writer)
            writer.append(ResponseHead.crlf)
        }
        connections[upstream].outputEnd += Invocation.chunkSizeLineBytes + data.byteCount
        flush(upstream)
    }

    /// The request body is complete: the event's end, and the last chunk.
    func finishFunctionEvent(_ upstream: Int) {
        let slot = Int(connections[upstream].invocation)
        guard invocationStates[slot].body != nil else { return }
        let start = connections[upstream].outputEnd
        let data = output.write(slot: upstream, offset: start + Invocation.chunkSizeLineBytes) { writer in
            LambdaEvent.writeSuffix(state: &invocationStates[slot].body!, to: &writer)
            writer.append(ResponseHead.crlf)
            writer.append(Worker.lastChunk)
        }
        precondition(!data.overflowed, "the body's room keeps space for the event's end")
        _ = output.write(slot: upstream, offset: start) { writer in
            ResponseHead.appendHex(UInt64(data.byteCount - 2 - Worker.lastChunk.count), digits: 8, to: &writer)
            writer.append(ResponseHead.crlf)
        }
        connections[upstream].outputEnd += Invocation.chunkSizeLineBytes + data.byteCount
        invocationStates[slot].body = nil
        flush(upstream)
    }

    // MARK: The answer

    /// Consumes the emulator's answer: its head, then its body, gathered whole in the invocation's
    /// slot. Returns the number of bytes consumed.
    func consumeFunctionAnswer(_ index: Int, _ bytes: Span<UInt8>) -> Int {
        var offset = 0
        while offset < bytes.count {
            switch connections[index].responsePhase {
            case .head:
                let rest = bytes.extracting(offset..<bytes.count)
                switch connections[index].responseParser.parse(rest, requestMethod: .post, into: &responseHead) {
                case .incomplete:
                    return offset
                case .failed:
                    upstreamFailed(index, answer: .badGateway, cause: .malformedHead)
                    return bytes.count
                case .complete:
                    offset += responseHead.headLength
                    connections[index].responseParser.reset()
                    if responseHead.status < 200 { continue }
                    guard startFunctionAnswer(index, bytes: rest) else { return bytes.count }
                    if connections[index].responsePhase == .length && connections[index].responseRemaining == 0 {
                        completeInvocation(index, reusable: offset == bytes.count)
                        return bytes.count
                    }
                }
            case .length:
                let take = min(connections[index].responseRemaining, bytes.count - offset)
                guard collectAnswer(index, bytes.extracting(offset..<offset + take)) else { return bytes.count }
                offset += take
                connections[index].responseRemaining -= take
                if connections[index].responseRemaining == 0 {
                    completeInvocation(index, reusable: offset == bytes.count)
                    return bytes.count
                }
            case .chunked:
                let rest = bytes.extracting(offset..<bytes.count)
                let step = connections[index].chunked.decode(rest)
                if let data = step.data {
                    guard collectAnswer(index, rest.extracting(data)) else { return bytes.count }
                }
                offset += step.consumed
                switch step.state {
                case .needMore:
                    if step.consumed == 0 { return offset }
                case .done:
                    completeInvocation(index, reusable: offset == bytes.count)
                    return bytes.count
                case .failed:
                    upstreamFailed(index, answer: .badGateway, cause: .malformedBody)
                    return bytes.count
                }
            case .untilClose:
                guard collectAnswer(index, bytes.extracting(offset..<bytes.count)) else { return bytes.count }
                offset = bytes.count
            }
        }
        return offset
    }

    /// The emulator's head is complete. Returns false when the invocation failed already.
    func startFunctionAnswer(_ index: Int, bytes: Span<UInt8>) -> Bool {
        let slot = Int(connections[index].invocation)
        // An authorizer's time is the authorizer step's, not the integration's.
        if invocationStates[slot].authorizer < 0 { observeIntegrationLatency(index) }
        invocationStates[slot].invokeStatus = responseHead.status
        invocationStates[slot].functionError =
            HeaderNames.value(of: HeaderNames.functionError, in: responseHead.headers, bytes: bytes) != nil
        switch responseHead.framing {
        case .none:
            connections[index].responsePhase = .length
            connections[index].responseRemaining = 0
        case .length(let length):
            guard length <= InvocationLayout.answerBytesMax else {
                upstreamFailed(index, answer: .badGateway, cause: .answerTooLarge)
                return false
            }
            connections[index].responsePhase = .length
            connections[index].responseRemaining = length
        case .chunked:
            connections[index].responsePhase = .chunked
            connections[index].chunked = ChunkedBodyDecoder(bodyBytesMax: InvocationLayout.answerBytesMax)
        case .untilClose:
            connections[index].responsePhase = .untilClose
        }
        connections[index].relayKeepAlive = responseHead.keepAlive
        return true
    }

    /// Appends answer bytes to the slot; false (and the invocation failed) past Lambda's limit.
    func collectAnswer(_ index: Int, _ bytes: Span<UInt8>) -> Bool {
        let slot = Int(connections[index].invocation)
        let length = invocationStates[slot].answerLength
        guard length + bytes.count <= InvocationLayout.answerBytesMax else {
            upstreamFailed(index, answer: .badGateway, cause: .answerTooLarge)
            return false
        }
        _ = invocations.write(slot: slot, offset: invocationLayout.answerStart + length) { writer in
            writer.append(bytes)
        }
        invocationStates[slot].answerLength = length + bytes.count
        return true
    }

    /// The whole answer is in: turn it into the client's response and start sending it, or fail.
    func completeInvocation(_ index: Int, reusable: Bool) {
        let client = Int(connections[index].peer)
        let slot = Int(connections[index].invocation)
        if invocationStates[slot].authorizer >= 0 { return completeAuthorizer(index, reusable: reusable) }
        guard client >= 0 else {
            abort(index)
            return
        }
        connections[index].invocation = -1
        if let failure = writeFunctionResponse(client: client, slot: slot) {
            // The function failed, not the connection: it goes back to the pool all the same. The
            // client's output had room for a response when its head was read, as for any failure.
            releaseInvocation(client)
            let pending = connections[client].request.pending
            respond(client, response: catalog.index(of: failure), keepAlive: pending.keepAlive,
                    omitBody: pending.omitBody, http10: pending.http10)
        } else {
            connections[client].answerStarted = true
            connections[client].streamingInvocation = Int32(slot)
            connections[client].streamingOffset = invocationLayout.responseStart
            connections[client].streamingEnd = invocationStates[slot].responseEnd
            continueStreaming(client)
        }
        finishExchange(index, reusable: reusable)
    }

    /// Writes the client's response into the slot's response region; returns the gateway's
    /// answer instead when the function's answer is not one API Gateway accepts.
    func writeFunctionResponse(client: Int, slot: Int) -> GatewayAnswer? {
        let invocation = invocationStates[slot]
        let format = lambdaTargets[Int(invocation.target)].context.format
        // A function that failed is the function's error: 502 on REST APIs, 500 on HTTP APIs.
        let failed: GatewayAnswer = format == .version1 ? .badGateway : .functionFailed
        guard invocation.invokeStatus == 200 else { return .badGateway }
        if invocation.functionError { return failed }
        let answerRange = invocationLayout.answerStart..<(invocationLayout.answerStart + invocation.answerLength)
        let outcome = invocations.withBytes(slot: slot, range: answerRange) { answer in
            functionAnswer.parse(answer, format: format, rejectsUnknownFields: format == .version1)
        }
        switch outcome {
        case .response: break
        case .malformed: return .badGateway
        case .functionError: return failed
        }
        let status = functionAnswer.statusCode
        // An interim status cannot end an exchange.
        guard status >= 200 else { return .badGateway }
        let pending = connections[client].request.pending
        let keepAlive = pending.keepAlive && !draining
        connections[client].request.pending.keepAlive = keepAlive
        let bodyless = status == 204 || status == 304
        // REST APIs decode a base64 body only when the request's Accept asks for one of their
        // binary media types; otherwise the text goes as the function wrote it.
        let decoding = functionAnswer.isBase64Encoded
            && (format == .version2 || connections[client].request.wantsBinary)
        let requestID = connections[client].request.id
        // API Gateway ignores a function's CORS headers where the API configures CORS.
        let dropsCORS = connections[client].request.corsAPI >= 0
        // Where the status and header lines end and the body starts, for the cache.
        var linesEnd = 0
        var bodyStart = 0
        let written = invocations.withBytes(slot: slot, range: answerRange) { answer -> (ok: Bool, count: Int, overflowed: Bool) in
            guard let bodyLength = functionAnswer.bodyByteCount(of: answer, decodingBase64: decoding) else {
                return (false, 0, false)
            }
            let result = invocations.write(slot: slot, offset: invocationLayout.responseStart) { writer in
                writer.append(Worker.statusLines[status - 100])
                for field in functionAnswer.fields {
                    switch field.role {
                    case .dropped: continue
                    case .remapped: writer.append(ReservedResponseHeaders.remappedPrefix)
                    case .cors: if dropsCORS { continue }
                    case .ordinary, .contentType, .setCookie: break
                    }
                    FunctionAnswer.writeName(of: field, in: answer, to: &writer)
                    writer.append(Worker.fieldSeparator)
                    FunctionAnswer.writeValue(field.value, of: answer, to: &writer)
                    writer.append(ResponseHead.crlf)
                }
                if !functionAnswer.hasContentType && !bodyless { writer.append(Worker.jsonContentTypeLine) }
                linesEnd = writer.count
                if !bodyless {
                    writer.append(ResponseHead.contentLengthPrefix)
                    ResponseHead.appendDecimal(bodyLength, to: &writer)
                    writer.append(ResponseHead.crlf)
                }
                endResponseHead(client, requestID: requestID, keepAlive: keepAlive, http10: pending.http10, traced: true,
                                to: &writer)
                bodyStart = writer.count
                if !bodyless && !pending.omitBody {
                    functionAnswer.writeBody(of: answer, decodingBase64: decoding, to: &writer)
                }
            }
            return (true, result.byteCount, result.overflowed)
        }
        guard written.ok else { return .badGateway }
        guard !written.overflowed else { return .badGateway }
        let start = invocationLayout.responseStart
        invocationStates[slot].responseEnd = start + written.count
        connections[client].request.record.integrationStatus = Int32(status)
        connections[client].request.record.responseBytes = bodyless || pending.omitBody ? 0 : written.count - bodyStart
        countResponse(client, status: status)
        // A base64 answer of a REST API takes its form from the request's Accept, which is not
        // part of the cache key: it is not kept.
        if !(functionAnswer.isBase64Encoded && format == .version1) {
            keepFunctionAnswer(client: client, slot: slot, status: status, lines: start..<(start + linesEnd),
                               body: (start + bodyStart)..<(start + written.count))
        }
        if !bodyless && !pending.omitBody && connections[client].request.answerCoding != .identity {
            compressFunctionResponse(client: client, slot: slot, status: status, lines: start..<(start + linesEnd),
                                     body: (start + bodyStart)..<(start + written.count), keepAlive: keepAlive,
                                     http10: pending.http10, requestID: requestID)
        }
        return nil
    }

    /// The client's response, written in the slot's response region (`lines`, then the framing
    /// and gateway lines, then `body`), is written again compressed when the request asks for it
    /// (Compression.swift) and the region has room for it.
    private func compressFunctionResponse(client: Int, slot: Int, status: Int, lines: Range<Int>, body: Range<Int>,
                                          keepAlive: Bool, http10: Bool, requestID: UInt64) {
        let none = Worker.noBytes
        let coding = invocations.withBytes(slot: slot, range: lines) { lines in
            answerCoding(client, status: status, bodyBytes: body.count, lines: lines, moreLines: none.span)
        }
        guard coding != .identity, invocations.withBytes(slot: slot, range: body, { body in compressAnswer(body, coding) })
        else { return }
        let compressed = compression.compressor.output
        let count = compression.compressor.outputCount
        let codingLines = CompressionState.lines(coding)
        // The framing and gateway lines are as long again, but for a Content-Length a digit or two longer.
        let tailBytes = body.lowerBound - lines.upperBound
        guard lines.upperBound + codingLines.count + tailBytes + 2 + count <= invocations.slotBytes else { return }
        let rewritten = invocations.write(slot: slot, offset: lines.upperBound) { writer in
            writer.append(codingLines)
            writer.append(ResponseHead.contentLengthPrefix)
            ResponseHead.appendDecimal(count, to: &writer)
            writer.append(ResponseHead.crlf)
            endResponseHead(client, requestID: requestID, keepAlive: keepAlive, http10: http10, traced: true, to: &writer)
            writer.append(compressed.span.extracting(0..<count))
        }
        precondition(!rewritten.overflowed, "the room was checked")
        invocationStates[slot].responseEnd = lines.upperBound + rewritten.byteCount
        connections[client].request.record.responseBytes = count
    }

    /// The client's invocation is over: its slot is free again (and gives its pages back when it
    /// held a large answer).
    func releaseInvocation(_ client: Int) {
        let slot = Int(connections[client].invocation)
        guard slot >= 0 else { return }
        connections[client].invocation = -1
        if connections[client].streamingInvocation >= 0 { connections[client].streamingInvocation = -1 }
        let state = invocationStates[slot]
        if max(state.answerLength, state.responseEnd - invocationLayout.responseStart) > InvocationLayout.retainedBytesMax {
            invocations.discard(slot: slot)
        }
        invocationStates[slot] = Invocation()
        freeInvocations.append(Int32(slot))
    }

    /// `HTTP/1.1 <status> <reason>\r\n` for every status a function may answer.
    static let statusLines: [[UInt8]] = (100...599).map { ResponseHead.statusLine($0) }
    static let fieldSeparator: [UInt8] = Array(": ".utf8)
    static let jsonContentTypeLine: [UInt8] = Array("Content-Type: application/json\r\n".utf8)
    static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
}
