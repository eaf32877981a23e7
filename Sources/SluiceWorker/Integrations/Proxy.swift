import SluiceCORS
import SluiceConfig
import SluiceHTTP1
import SluicePipeline
import SluiceLambda
import SluiceMetrics
import SluiceURing

/// HTTP and HTTP_PROXY integrations: a client request is answered by an upstream over a pooled
/// keep-alive connection in the same ring. The two connections are linked as peers for the
/// exchange; each side's output is the other side's back-pressure: a client body is paused while
/// the upstream's output is full, an upstream answer is paused while the client's output is full,
/// and a send completing on one side resumes the other.
extension Worker {
    // MARK: Starting an exchange

    /// Called with the request head's bytes (valid during this call only): everything the
    /// upstream request needs from them is written into the upstream connection's output now.
    /// Returns nil once the exchange is under way, or the answer to give instead.
    /// With `replaced`, the body sent is made by the gateway (a request template's, or the
    /// client's converted), and the client's is read and dropped.
    func startExchange(_ client: Int, operation: Int, target: Int, bytes: Span<UInt8>,
                       replaced: BodyReplacement? = nil) -> GatewayAnswer? {
        let compiled = targets[target]
        if compiled.mapsFramingHeader { return .reservedHeaderMapped }
        // A host that did not resolve at load has no address to connect to.
        guard upstreamAddressIndex[compiled.upstream] >= 0 else { return .badGateway }
        guard let upstream = acquireUpstream(compiled.upstream) else { return .serviceUnavailable }
        connections[client].peer = Int32(upstream)
        connections[client].awaitingUpstream = true
        connections[client].bodyReplaced = replaced != nil
        connections[client].answerStarted = false
        connections[upstream].peer = Int32(client)
        connections[upstream].target = Int32(target)
        // The answer is read as an answer to the method actually sent.
        let method = compiled.methodSent ?? head.method
        connections[upstream].requestMethod = method
        connections[upstream].responsePhase = .head
        connections[upstream].responseParser.reset()
        connections[upstream].requestSent = false
        connections[upstream].answerBytesReceived = false
        // Handed to the integration the moment its head was complete: the request's own clock reading.
        connections[upstream].exchangeStartedNanoseconds = connections[client].request.startedNanoseconds
        connections[upstream].request.group = connections[client].request.group
        connections[upstream].request.methodGroup = connections[client].request.methodGroup
        connections[upstream].retryable = method.isIdempotent
        if connections[client].peerAddressLength == 0 {
            connections[client].peerAddressLength = Socket.peerAddress(connections[client].fd, into: peerAddresses, slot: client)
        }
        var bodyCopied = 0
        let written = output.write(slot: upstream, offset: connections[upstream].outputEnd) { writer in
            writeUpstreamRequest(client: client, operation: operation, target: compiled, bytes: bytes, replaced: replaced,
                                 to: &writer)
            guard let replaced else { return }
            let body = replacementBody(replaced)
            bodyCopied = min(body.count, writer.freeCapacity)
            writer.append(body.span.extracting(0..<bodyCopied))
        }
        var streamed = false
        if let replaced, !written.overflowed, bodyCopied < replacementBody(replaced).count {
            // The rest of the body goes from a body buffer as sends make room.
            let body = replacementBody(replaced)
            if queueRest(upstream, of: body.span, from: bodyCopied) {
                streamed = true
            } else {
                connections[client].peer = -1
                connections[client].awaitingUpstream = false
                connections[client].bodyReplaced = false
                connections[upstream].peer = -1
                abort(upstream)
                return .serviceUnavailable
            }
        }
        guard !written.overflowed else {
            connections[client].peer = -1
            connections[client].awaitingUpstream = false
            connections[upstream].peer = -1
            abort(upstream)
            return .internalServerError
        }
        connections[upstream].outputEnd += written.byteCount
        // A pooled connection's output is empty, so the request starts at the slot's first byte.
        if connections[upstream].outputEnd != written.byteCount || streamed { connections[upstream].retryable = false }
        connections[upstream].requestLength = written.byteCount
        deadlines.schedule(upstream, in: compiled.timeoutList, deadline: now + compiled.timeoutNanoseconds)
        if !connections[upstream].connecting { flush(upstream) }
        return nil
    }

    /// A pooled connection to `upstream`, or a new one being connected; nil when the worker has
    /// no upstream slot left or the socket cannot be made.
    func acquireUpstream(_ upstream: Int) -> Int? {
        while let index = pools[upstream].popLast().map(Int.init) {
            connections[index].pooled = false
            if connections[index].isOpen && !connections[index].closing {
                connections[index].reused = true
                return index
            }
        }
        return connectUpstream(upstream)
    }

    /// A new connection to `upstream`, connecting; nil when none can be made.
    func connectUpstream(_ upstream: Int) -> Int? {
        guard upstreamOpen[upstream] < upstreamConnectionsMax, let index = freeUpstreams.popLast().map(Int.init) else {
            return nil
        }
        let address = upstreamAddressIndex[upstream]
        let fd: Int32
        do {
            fd = try Socket.makeTCP(ipv6: upstreamAddresses.isIPv6(address))
        } catch {
            freeUpstreams.append(Int32(index))
            return nil
        }
        connections[index].open(fd: fd, limits: limits.request)
        upstreamOpen[upstream] += 1
        connections[index].role = .upstream
        connections[index].upstream = Int32(upstream)
        connections[index].connecting = true
        connections[index].responseParser = ResponseHeadParser(limits: limits.answer)
        ring.connect(socket: fd, addresses: upstreamAddresses, index: address,
                     userData: Token.make(.connect, connection: index, generation: connections[index].generation))
        return index
    }

    func onConnect(_ completion: Completion) {
        let index = Token.connection(completion.userData)
        guard index < connections.count, connections[index].isOpen,
              connections[index].generation == Token.generation(completion.userData) else { return }
        connections[index].connecting = false
        if connections[index].closing {
            if !connections[index].hasOperationsInFlight { release(index) }
            return
        }
        guard completion.outcome == .done(0) else {
            var errorNumber: Int32 = 0
            if case .failed(let number) = completion.outcome { errorNumber = number }
            upstreamFailed(index, answer: .badGateway, cause: .connect, errorNumber: errorNumber)
            return
        }
        if let context = upstreamTLS[Int(connections[index].upstream)] {
            guard connections[index].isOpen else { return }
            guard tlsConnected(index, context: context) else {
                if connections[index].isOpen && !connections[index].closing {
                    upstreamFailed(index, answer: .badGateway, cause: .tls)
                }
                return
            }
        }
        armReceive(index)
        flush(index)
    }

    // MARK: The upstream request

    func writeUpstreamRequest(client: Int, operation: Int, target: CompiledTarget, bytes: Span<UInt8>,
                              replaced: BodyReplacement? = nil, to writer: inout SlabWriter) {
        // Request line: the integration's method (or the client's), the URI path with its
        // parameters filled in, and the query.
        if let method = target.method {
            writer.append(method)
        } else {
            writer.append(bytes.extracting(head.methodName))
        }
        writer.append(32)
        let rendered: BoundTemplate? = if case .template(let bound)? = replaced { bound } else { nil }
        let overrides = rendered != nil
        let overrideLines = overrides ? templating.renderer.requestHeaderLines : []
        for (offset, piece) in target.path.enumerated() {
            switch piece {
            case .literal(let literal):
                // A URI variable nothing maps is empty, unless the template sets it.
                if overrides, !target.pathNames[offset].isEmpty,
                   let value = templating.renderer.requestPathOverride(target.pathNames[offset]) {
                    let pairs = templating.renderer.requestPathParameters
                    appendEscaped(pairs.span.extracting(value), .urlPath, to: &writer)
                } else {
                    writer.append(literal)
                }
            case .value(let source):
                if overrides, let value = templating.renderer.requestPathOverride(target.pathNames[offset]) {
                    let pairs = templating.renderer.requestPathParameters
                    appendEscaped(pairs.span.extracting(value), .urlPath, to: &writer)
                } else {
                    appendValue(source, client, head: bytes, headAtHand: true, escaping: .urlPath, to: &writer)
                }
            }
        }
        // The URI's own query first (its placeholders filled; a parameter whose value the
        // request does not have is not sent), then the client's (proxy), then the mapped ones.
        var querySeparator: UInt8 = 63  // "?", then "&"
        for parameter in target.uriQuery {
            if overrides && templating.renderer.overridesRequestQuery(parameter.name, count: parameter.name.count) { continue }
            let start = writer.count
            writer.append(querySeparator)
            writer.append(parameter.name)
            if let value = parameter.value {
                writer.append(61)  // "="
                var missing = false
                for piece in value {
                    switch piece {
                    case .literal(let literal): writer.append(literal)
                    case .value(let source):
                        let before = writer.count
                        appendValue(source, client, head: bytes, headAtHand: true, escaping: .urlQuery, to: &writer)
                        missing = missing || writer.count == before
                    }
                }
                if missing {
                    writer.truncate(to: start)
                    continue
                }
            }
            querySeparator = 38
        }
        if target.passQuery && !head.query.isEmpty {
            writer.append(querySeparator)
            writer.append(bytes.extracting(head.query))
            querySeparator = 38
        }
        for mapping in target.queryMappings {
            if overrides && templating.renderer.overridesRequestQuery(mapping.prefix, count: mapping.prefix.count - 1) {
                continue
            }
            // A parameter whose source the request does not have is not sent.
            let start = writer.count
            writer.append(querySeparator)
            writer.append(mapping.prefix)
            let valueStart = writer.count
            appendValue(mapping.source, client, head: bytes, headAtHand: true, escaping: .urlQuery, to: &writer)
            if writer.count == valueStart {
                writer.truncate(to: start)
            } else {
                querySeparator = 38
            }
        }
        if overrides && !templating.renderer.requestQuery.isEmpty {
            // A request template's `requestOverride.querystring.NAME`s, in place of those names.
            writer.append(querySeparator)
            writer.append(templating.renderer.requestQuery)
        }
        writer.append(Worker.httpVersionLine)
        // Exactly one Host: the mapped one when the request has its value, else the URI's.
        var hostMapped = false
        if let host = target.hostMapping { hostMapped = appendHeaderMapping(host, client: client, bytes: bytes, to: &writer) }
        if !hostMapped { writer.append(target.hostLine) }
        // The client's headers, for proxy integrations, less those that describe this hop or
        // that the gateway sets itself.
        var forwardedFor: Range<Int>? = nil
        if target.passHeaders {
            let listsOptions = HeaderNames.value(of: HeaderNames.connection, in: head.headers, bytes: bytes) != nil
            for field in head.headers {
                let name = bytes.extracting(field.name)
                if HeaderNames.isForwardedFor(name) {
                    forwardedFor = field.value
                    continue
                }
                if HopByHop.isFixedName(bytes, field.name)
                    || (listsOptions && HopByHop.isListedInConnection(bytes, field.name, headers: head.headers))
                    || HeaderNames.isSetByGatewayInRequests(name) || target.overridesHeader(name)
                    || HeaderNames.isUnderscoredFraming(name) || HeaderNames.isStrippedFromProxyRequests(name) { continue }
                writer.append(bytes.extracting(field.name.lowerBound..<field.value.upperBound))
                writer.append(ResponseHead.crlf)
            }
        }
        // A request template's override headers replace mapped and gateway headers of their names.
        for mapping in target.headerMappings where !Self.namesHeader(overrideLines.span, mapping.prefix.span) {
            appendHeaderMapping(mapping, client: client, bytes: bytes, to: &writer)
        }
        Self.appendLines(target.gatewayLines.span, lessThoseIn: overrideLines.span, to: &writer)
        appendTraceLines(client: client, bytes: bytes, to: &writer)
        if target.passHeaders {
            writer.append(Worker.forwardedForPrefix)
            if let forwardedFor {
                writer.append(bytes.extracting(forwardedFor))
                writer.append(Worker.listSeparator)
            }
            appendValue(.context(.sourceIp), client, head: bytes, headAtHand: true, escaping: .none, to: &writer)
            writer.append(ResponseHead.crlf)
            writer.append(forwardingLines[Int(connections[client].listener)])
        } else if let rendered {
            // A request template made the body: its content type, and the headers it set.
            if !target.mapsContentType && !Self.namesHeader(overrideLines.span, rendered.contentTypeLine.span) {
                writer.append(rendered.contentTypeLine)
            }
            writer.append(overrideLines)
        } else if !target.mapsContentType,
                  let contentType = HeaderNames.value(of: HeaderNames.contentType, in: head.headers, bytes: bytes) {
            // HTTP (non-proxy): of the client's headers, only the body's Content-Type goes on.
            writer.append(Worker.contentTypePrefix)
            writer.append(bytes.extracting(contentType))
            writer.append(ResponseHead.crlf)
        }
        if let replaced {
            writer.append(ResponseHead.contentLengthPrefix)
            ResponseHead.appendDecimal(replacementBody(replaced).count, to: &writer)
            writer.append(ResponseHead.crlf)
            writer.append(ResponseHead.crlf)
            return
        }
        switch head.framing {
        case .none, .length(0):
            // A bodyless request says so, whatever its method, as API Gateway's do.
            writer.append(Worker.zeroContentLength)
        case .length(let length):
            writer.append(ResponseHead.contentLengthPrefix)
            ResponseHead.appendDecimal(length, to: &writer)
            writer.append(ResponseHead.crlf)
        case .chunked:
            writer.append(Worker.chunkedLine)
        }
        writer.append(ResponseHead.crlf)
    }

    /// The request's trace, for the integration: `traceparent` (the client's, or a new trace) and
    /// `X-Amzn-Trace-Id` (the client's as it came, or the same trace in X-Ray's form).
    func appendTraceLines(client: Int, bytes: Span<UInt8>, to writer: inout SlabWriter) {
        let trace = connections[client].request.record.trace
        trace.appendTraceparentLine(to: &writer)
        writer.append(Worker.amazonTracePrefix)
        if let value = validAmazonTrace(bytes) {
            writer.append(bytes.extracting(value))
        } else {
            trace.appendAmazonValue(to: &writer)
        }
        writer.append(ResponseHead.crlf)
    }

    /// The request's `X-Amzn-Trace-Id` value when it is a valid one: integrations get it as it came.
    func validAmazonTrace(_ bytes: Span<UInt8>) -> Range<Int>? {
        guard let value = HeaderNames.value(of: TraceContext.amazonName, in: head.headers, bytes: bytes),
              TraceContext.parseAmazon(bytes.extracting(value)) != nil else { return nil }
        return value
    }

    /// Writes a mapped header line; a header whose source the request does not have is not
    /// sent. Returns whether it was.
    @discardableResult
    func appendHeaderMapping(_ mapping: CompiledMapping, client: Int, bytes: Span<UInt8>,
                             to writer: inout SlabWriter) -> Bool {
        let start = writer.count
        writer.append(mapping.prefix)
        let valueStart = writer.count
        appendValue(mapping.source, client, head: bytes, headAtHand: true, escaping: .none, to: &writer)
        guard writer.count > valueStart else {
            writer.truncate(to: start)
            return false
        }
        writer.append(ResponseHead.crlf)
        return true
    }

    // MARK: The upstream answer

    /// Consumes an upstream connection's bytes: its answer's head, then its body, relayed to the
    /// client. Returns the number of bytes consumed; stops early when the client's output is full.
    func consumeResponse(_ index: Int, _ bytes: Span<UInt8>) -> Int {
        let clientIndex = Int(connections[index].peer)
        guard clientIndex >= 0 else {
            // A pooled connection must be quiet: bytes now mean it cannot be trusted.
            abort(index)
            return bytes.count
        }
        connections[index].answerBytesReceived = true
        if connections[index].invocation >= 0 { return consumeFunctionAnswer(index, bytes) }
        var offset = 0
        while offset < bytes.count {
            switch connections[index].responsePhase {
            case .head:
                guard output.slotBytes - connections[clientIndex].outputEnd >= limits.request.headBytesMax + 512
                        || compactedRoom(clientIndex) >= limits.request.headBytesMax + 512 else {
                    connections[index].receivePaused = true
                    return offset
                }
                let rest = bytes.extracting(offset..<bytes.count)
                switch connections[index].responseParser.parse(rest, requestMethod: connections[index].requestMethod,
                                                               into: &responseHead) {
                case .incomplete:
                    return offset
                case .failed:
                    upstreamFailed(index, answer: .badGateway, cause: .malformedHead)
                    return bytes.count
                case .complete:
                    offset += responseHead.headLength
                    connections[index].responseParser.reset()
                    if responseHead.status < 200 { continue }  // 1xx: the real answer follows
                    startAnswer(index, client: clientIndex, bytes: rest)
                    if connections[index].peer < 0 { return bytes.count }
                    if connections[index].responsePhase == .length && connections[index].responseRemaining == 0
                        && connections[index].bufferingAnswer {
                        completeBufferedAnswer(index, reusable: offset == bytes.count
                                                                && connections[index].requestMethod != .head)
                        return bytes.count
                    }
                    if connections[index].responsePhase == .length && connections[index].responseRemaining == 0 {
                        // A bodyless answer: the connection may be used again only if nothing
                        // follows it (bytes after it would be read as the next exchange's
                        // answer) — and never after a HEAD, whose answer some servers follow
                        // with a body anyway, later.
                        finishExchange(index, reusable: offset == bytes.count
                                                        && connections[index].requestMethod != .head)
                        return bytes.count
                    }
                }
            case .length where connections[index].bufferingAnswer:
                let take = min(connections[index].responseRemaining, bytes.count - offset)
                guard bufferAnswer(client: clientIndex, bytes.extracting(offset..<offset + take)) else {
                    upstreamFailed(index, answer: .badGateway, cause: .answerTooLarge)
                    return bytes.count
                }
                if connections[clientIndex].capturing { captureBody(client: clientIndex, bytes.extracting(offset..<offset + take)) }
                offset += take
                connections[index].responseRemaining -= take
                if connections[index].responseRemaining == 0 {
                    completeBufferedAnswer(index, reusable: offset == bytes.count)
                    return bytes.count
                }
            case .chunked where connections[index].bufferingAnswer:
                let step = connections[index].chunked.decode(bytes.extracting(offset..<bytes.count))
                if let data = step.data {
                    guard bufferAnswer(client: clientIndex, bytes.extracting(offset..<bytes.count).extracting(data)) else {
                        upstreamFailed(index, answer: .badGateway, cause: .answerTooLarge)
                        return bytes.count
                    }
                }
                offset += step.consumed
                switch step.state {
                case .needMore:
                    if step.consumed == 0 { return offset }
                case .done:
                    completeBufferedAnswer(index, reusable: offset == bytes.count)
                    return bytes.count
                case .failed:
                    upstreamFailed(index, answer: .badGateway, cause: .malformedBody)
                    return bytes.count
                }
            case .untilClose where connections[index].bufferingAnswer:
                let take = bytes.count - offset
                guard take <= connections[index].responseRemaining,
                      bufferAnswer(client: clientIndex, bytes.extracting(offset..<bytes.count)) else {
                    upstreamFailed(index, answer: .badGateway, cause: .answerTooLarge)
                    return bytes.count
                }
                connections[index].responseRemaining -= take
                offset += take
            case .length:
                let discard = connections[index].discardAnswerBody
                let room = discard ? Int.max : outputRoom(clientIndex)
                guard room > 0 else {
                    connections[index].receivePaused = true
                    return offset
                }
                let take = min(connections[index].responseRemaining, bytes.count - offset, room)
                if !discard {
                    relay(bytes.extracting(offset..<offset + take), to: clientIndex)
                    connections[clientIndex].request.record.responseBytes += take
                }
                if connections[clientIndex].capturing { captureBody(client: clientIndex, bytes.extracting(offset..<offset + take)) }
                offset += take
                connections[index].responseRemaining -= take
                if connections[index].responseRemaining == 0 {
                    finishExchange(index, reusable: offset == bytes.count)
                    return bytes.count
                }
            case .chunked:
                let room = connections[index].discardAnswerBody ? Int.max : outputRoom(clientIndex)
                guard room > 16 else {
                    connections[index].receivePaused = true
                    return offset
                }
                let limit = room == Int.max ? bytes.count : min(bytes.count, offset + room)
                let step = connections[index].chunked.decode(bytes.extracting(offset..<limit))
                if connections[clientIndex].capturing, let data = step.data {
                    captureBody(client: clientIndex, bytes.extracting(offset..<limit).extracting(data))
                }
                if !connections[index].discardAnswerBody, let data = step.data {
                    connections[clientIndex].request.record.responseBytes += data.count
                }
                if connections[index].discardAnswerBody {
                    // Read and dropped.
                } else if connections[index].relayChunked {
                    // The client speaks HTTP/1.1: the validated chunked bytes go through as they are.
                    relay(bytes.extracting(offset..<offset + step.consumed), to: clientIndex)
                } else if let data = step.data {
                    relay(bytes.extracting(offset..<limit).extracting(data), to: clientIndex)
                }
                offset += step.consumed
                switch step.state {
                case .needMore:
                    if step.consumed == 0 { return offset }
                case .done:
                    finishExchange(index, reusable: offset == bytes.count)
                    return bytes.count
                case .failed:
                    upstreamFailed(index, answer: .badGateway, cause: .malformedBody)
                    return bytes.count
                }
            case .untilClose:
                let discard = connections[index].discardAnswerBody
                let room = discard ? Int.max : outputRoom(clientIndex)
                guard room > 0 else {
                    connections[index].receivePaused = true
                    return offset
                }
                let take = min(bytes.count - offset, room)
                guard take <= connections[index].responseRemaining else {
                    // Over the answer limit: the client's answer ends without a clean end, as a
                    // chunked one over it does.
                    answerTooLarge(index)
                    return bytes.count
                }
                connections[index].responseRemaining -= take
                if !discard {
                    relay(bytes.extracting(offset..<offset + take), to: clientIndex)
                    connections[clientIndex].request.record.responseBytes += take
                }
                offset += take
            }
        }
        return offset
    }

    /// The answer's head is complete: write the client's response head.
    func startAnswer(_ index: Int, client: Int, bytes: Span<UInt8>) {
        observeIntegrationLatency(index)
        let target = targets[Int(connections[index].target)]
        // HTTP (non-proxy): the upstream's status selects an integration response, which sets
        // the client's status and headers; with none selected, API Gateway answers 500.
        var selected: Int? = nil
        if !target.passHeaders {
            selected = target.integrationResponse(forStatus: responseHead.status)
            if selected == nil {
                upstreamFailed(index, answer: .internalServerError, cause: .noIntegrationResponse)
                return
            }
        }
        connections[client].request.record.integrationStatus = Int32(responseHead.status)
        var buffering = AnswerBuffering.relay
        if let selected, let responses = templating.httpResponses[Int(connections[client].request.record.operation)] {
            let contentType = HeaderNames.value(of: HeaderNames.contentType, in: responseHead.headers, bytes: bytes)
            let conversion = answerConversion(client: client, contentType: contentType, in: bytes,
                                              handling: responses.contentHandling[selected])
            let templated = !responses.templates[selected].isEmpty
            buffering = beginBufferedAnswer(index, client: client, selected: selected, conversion: conversion) { writer in
                // Without a template, the answer keeps the integration's Content-Type.
                Self.appendResponseLines(target.responses[selected], responseHead, bytes, contentType: !templated,
                                         to: &writer)
            }
        }
        if case .refuse(let answer) = buffering {
            upstreamFailed(index, answer: answer, cause: .noBodyBuffer)
            return
        }
        if case .relay = buffering {
            let status = selected.map { target.responses[$0].status } ?? responseHead.status
            buffering = gatherToCompress(index, client: client, status: status, bytes: bytes) { writer in
                appendAnswerLines(target, selected: selected, bytes, dropsCORS: connections[client].request.corsAPI >= 0,
                                  to: &writer)
            }
        }
        if case .buffering = buffering {
            // A response template renders the answer once the upstream's body is whole; an
            // answer gathered to be compressed is kept by the cache as the upstream sent it.
            if connections[client].answerResponse != Worker.gatheredToCompress { endFill(client, keep: false) }
            connections[index].relayChunked = false
            connections[index].discardAnswerBody = false
            connections[index].relayKeepAlive = responseHead.keepAlive
            switch responseHead.framing {
            case .none:
                connections[index].responsePhase = .length
                connections[index].responseRemaining = 0
            case .length(let length):
                connections[index].responsePhase = .length
                connections[index].responseRemaining = length
            case .chunked:
                connections[index].responsePhase = .chunked
                connections[index].chunked = ChunkedBodyDecoder(bodyBytesMax: limits.responseBodyBytesMax)
            case .untilClose:
                connections[index].responsePhase = .untilClose
                connections[index].responseRemaining = limits.responseBodyBytesMax
            }
            return
        }
        let status = selected.map { target.responses[$0].status } ?? responseHead.status
        let clientAskedHead = connections[client].request.pending.omitBody
        let http10 = connections[client].request.pending.http10
        var keepAlive = connections[client].request.pending.keepAlive && !draining
        // What the client gets: no body for HEAD, 204 and 304, whatever the upstream sends
        // (its body is then read and dropped).
        let discard = clientAskedHead || status == 204 || status == 304
        var relayChunked = false
        switch responseHead.framing {
        case .none:
            connections[index].responsePhase = .length
            connections[index].responseRemaining = 0
        case .length(let length):
            connections[index].responsePhase = .length
            connections[index].responseRemaining = length
        case .chunked:
            connections[index].responsePhase = .chunked
            connections[index].chunked = ChunkedBodyDecoder(bodyBytesMax: limits.responseBodyBytesMax)
            relayChunked = !http10 && !discard
            if http10 && !discard { keepAlive = false }
        case .untilClose:
            connections[index].responsePhase = .untilClose
            // Until the close, `responseRemaining` counts what the body may still grow by.
            connections[index].responseRemaining = limits.responseBodyBytesMax
            if !discard { keepAlive = false }
        }
        connections[index].relayChunked = relayChunked
        connections[index].discardAnswerBody = discard
        connections[index].relayKeepAlive = responseHead.keepAlive
        connections[client].request.pending.keepAlive = keepAlive
        let requestID = connections[client].request.id
        let dropsCORS = connections[client].request.corsAPI >= 0
        let bodyLength = connections[index].responseRemaining
        var linesEnd = 0
        let written = output.write(slot: client, offset: connections[client].outputEnd) { writer in
            appendAnswerLines(target, selected: selected, bytes, dropsCORS: dropsCORS, to: &writer)
            linesEnd = writer.count
            if status == 204 || status == 304 {
                // These end at their head: no framing at all.
            } else if clientAskedHead {
                // The length the body would have: the upstream's own Content-Length, if it sent one.
                if let length = HeaderNames.value(of: HeaderNames.contentLength, in: responseHead.headers, bytes: bytes) {
                    writer.append(ResponseHead.contentLengthPrefix)
                    writer.append(bytes.extracting(length))
                    writer.append(ResponseHead.crlf)
                }
            } else {
                switch responseHead.framing {
                case .none, .length:
                    writer.append(ResponseHead.contentLengthPrefix)
                    ResponseHead.appendDecimal(bodyLength, to: &writer)
                    writer.append(ResponseHead.crlf)
                case .chunked:
                    if relayChunked { writer.append(Worker.chunkedLine) }
                case .untilClose:
                    break
                }
            }
            endResponseHead(client, requestID: requestID, keepAlive: keepAlive, http10: http10, traced: true, to: &writer)
        }
        if written.overflowed {
            // Checked before parsing, so only a head over the limit lands here.
            upstreamFailed(index, answer: .badGateway, cause: .headTooLarge)
            return
        }
        let headStart = connections[client].outputEnd
        connections[client].answerStarted = true
        connections[client].outputEnd += written.byteCount
        countResponse(client, status: status)
        if connections[client].capture >= 0 {
            startCapture(client: client, status: status, from: output, slot: client,
                         lines: headStart..<(headStart + linesEnd), framing: responseHead.framing, discard: discard)
        }
    }

    /// The client's status line and header lines for an upstream's answer (`responseHead`): the
    /// selected integration response's (HTTP), or the upstream's own less what the gateway frames,
    /// writes itself or drops (HTTP_PROXY).
    func appendAnswerLines(_ target: CompiledTarget, selected: Int?, _ bytes: Span<UInt8>, dropsCORS: Bool,
                           to writer: inout SlabWriter) {
        if let selected {
            writer.append(target.responses[selected].statusLine)
            Self.appendResponseLines(target.responses[selected], responseHead, bytes, contentType: true, to: &writer)
            return
        }
        writer.append(Worker.httpVersionPrefix)
        ResponseHead.appendDecimal(responseHead.status, to: &writer)
        writer.append(32)
        writer.append(bytes.extracting(responseHead.reason))
        writer.append(ResponseHead.crlf)
        for field in responseHead.headers {
            // The gateway frames the answer and writes its own Date and request id: the
            // upstream's framing names are sent remapped or not at all (API Gateway's rules), as
            // are names its Connection field lists.
            switch ReservedResponseHeaders.disposition(of: bytes, field.name) {
            case .drop: continue
            case .remap: writer.append(ReservedResponseHeaders.remappedPrefix)
            case .pass:
                if responseHead.isHopByHop(field.name, in: bytes) { continue }
                // The gateway sends the request's trace itself.
                if HeaderNames.equals(bytes.extracting(field.name), HeaderNames.amazonTrace) { continue }
                // API Gateway ignores an integration's CORS headers where the API configures CORS.
                if dropsCORS && CORSPolicy.isCORSHeader(bytes.extracting(field.name)) { continue }
            }
            writer.append(bytes.extracting(field.name.lowerBound..<field.value.upperBound))
            writer.append(ResponseHead.crlf)
        }
    }

    /// Room in a connection's output, compacting it when it is full.
    func outputRoom(_ index: Int) -> Int {
        let room = output.slotBytes - connections[index].outputEnd
        return room > 0 ? room : compactedRoom(index)
    }

    /// The room after compacting the client's output, when no send is reading it.
    func compactedRoom(_ client: Int) -> Int {
        guard !connections[client].sendInFlight else { return 0 }
        compactOutput(client)
        return output.slotBytes - connections[client].outputEnd
    }

    func relay(_ bytes: Span<UInt8>, to client: Int) {
        let written = output.write(slot: client, offset: connections[client].outputEnd) { writer in writer.append(bytes) }
        precondition(!written.overflowed, "relays are sized to the room")
        connections[client].outputEnd += written.byteCount
    }

    /// The answer is complete: the client goes on with its next request, the upstream connection
    /// goes back to its pool if it may be used again.
    /// An HTTP integration response's header lines: its static headers, the upstream's headers
    /// it maps, and (with `contentType`) the upstream's Content-Type.
    static func appendResponseLines(_ response: CompiledIntegrationResponse, _ responseHead: ResponseHead,
                                    _ bytes: Span<UInt8>, contentType: Bool, to writer: inout SlabWriter) {
        writer.append(response.staticHeaders)
        for mapped in response.mappedHeaders {
            if let value = HeaderNames.value(of: mapped.upstreamHeader, in: responseHead.headers, bytes: bytes) {
                writer.append(mapped.prefix)
                writer.append(bytes.extracting(value))
                writer.append(ResponseHead.crlf)
            }
        }
        guard contentType else { return }
        for field in responseHead.headers where HeaderNames.isContentType(bytes.extracting(field.name)) {
            writer.append(bytes.extracting(field.name.lowerBound..<field.value.upperBound))
            writer.append(ResponseHead.crlf)
        }
    }

    func finishExchange(_ index: Int, reusable: Bool) {
        let client = Int(connections[index].peer)
        connections[index].bufferingAnswer = false
        if client >= 0 {
            endFill(client, keep: true)
            releaseAnswerBuffer(client)
        }
        connections[index].peer = -1
        if client >= 0 { connections[client].peer = -1 }
        // The connection goes back to its pool first, so that the client's next pipelined
        // request can take it.
        releaseUpstream(index, reusable: reusable)
        if client >= 0 {
            requestAnswered(client)
            endAwaiting(client)
        }
    }

    /// A rendered answer's upstream body is whole: the template answers the client (or, when it
    /// cannot, the gateway's answer does), and the exchange ends.
    func completeBufferedAnswer(_ index: Int, reusable: Bool) {
        let client = Int(connections[index].peer)
        if client >= 0, let failure = renderBufferedAnswer(client: client) {
            endFill(client, keep: false)
            connections[client].request.pending.keepAlive = false
            respond(client, response: catalog.index(of: failure), keepAlive: false, omitBody: false, http10: false)
            connections[index].bufferingAnswer = false
            connections[index].peer = -1
            connections[client].peer = -1
            releaseAnswerBuffer(client)
            abort(index)
            endAwaiting(client)
            return
        }
        finishExchange(index, reusable: reusable)
    }

    /// An upstream connection whose exchange is over: back to its pool when it can be used again.
    func releaseUpstream(_ index: Int, reusable: Bool) {
        connections[index].peer = -1
        let connection = connections[index]
        if reusable && connection.relayKeepAlive && connection.requestSent && !connection.closing
            && connection.outputEnd == connection.outputStart && !connection.isStreaming {
            pool(index)
        } else {
            abort(index)
        }
    }

    /// The client's exchange is over (answered or failed): later pipelined requests may go on.
    func endAwaiting(_ client: Int) {
        connections[client].awaitingUpstream = false
        if connections[client].phase == .head { connections[client].flowControlled = false }
        connections[client].requestsServed += 1
        if !connections[client].request.pending.keepAlive || draining { connections[client].closeAfterFlush = true }
        if connections[client].phase == .head {
            resumeReading(client)
        }
        afterInput(client)
    }

    func pool(_ index: Int) {
        let upstream = Int(connections[index].upstream)
        guard pools[upstream].count < poolIdleMax else {
            abort(index)
            return
        }
        connections[index].pooled = true
        connections[index].flowControlled = false
        pools[upstream].append(Int32(index))
        deadlines.schedule(index, in: .pool, deadline: now + poolIdleNanoseconds)
    }

    // MARK: Failures

    /// The client's request body turned out bad while an upstream was taking it: the upstream
    /// connection goes (its request is cut short), and the invocation slot with it. Returns
    /// whether the client can still get an answer of the gateway's own (none of the upstream's
    /// answer has reached it).
    func abandonExchange(_ client: Int) -> Bool {
        let peer = Int(connections[client].peer)
        guard peer >= 0 else {
            // An upstream that answered before the body was complete has had its say.
            return connections[client].request.pending.response >= 0 || !connections[client].answerStarted
        }
        connections[client].peer = -1
        connections[peer].peer = -1
        abort(peer)
        releaseInvocation(client)
        endFill(client, keep: false)
        connections[client].awaitingUpstream = false
        return !connections[client].answerStarted
    }

    /// The upstream failed before or during its answer. Before any byte of the answer reached
    /// the client, the client gets API Gateway's status; after, the client connection is closed.
    func upstreamFailed(_ index: Int, answer: GatewayAnswer, cause: UpstreamFailure, errorNumber: Int32 = 0) {
        if answer == .badGateway && retryOnFreshConnection(index) { return }
        logUpstreamFailure(index, answer: answer, cause: cause, errorNumber: errorNumber)
        let invocation = Int(connections[index].invocation)
        if invocation < 0 || invocationStates[invocation].authorizer < 0 { observeIntegrationLatency(index) }
        let client = Int(connections[index].peer)
        connections[index].peer = -1
        connections[index].bufferingAnswer = false
        abort(index)
        if client >= 0 {
            endFill(client, keep: false)
            releaseAnswerBuffer(client)
        }
        guard client >= 0, connections[client].isOpen, !connections[client].closing else { return }
        connections[client].peer = -1
        if connections[client].request.authorizerPending {
            // A Lambda authorizer's invocation failed or timed out: the request resumes to refuse.
            abandonClaim(hash: connections[client].authorizerHash, deadline: connections[client].authorizerClaim)
            connections[client].authorizerClaim = 0
            releaseInvocation(client)
            authorizerFinished(client, failure: .authorizerFailure)
            return
        }
        releaseInvocation(client)
        if connections[client].answerStarted {
            // What was relayed goes out, then the close ends the answer: whole for an
            // until-close body (the upstream closed), cut short for any other framing, which the
            // client sees as an answer without its end (no last chunk, too few bytes).
            finishCutShort(client)
            return
        }
        connections[client].request.pending.keepAlive = false
        respond(client, response: catalog.index(of: answer), keepAlive: false, omitBody: false, http10: false)
        endAwaiting(client)
    }

    /// An answer whose body grew past `limits.response_body_bytes` after its head was sent:
    /// both connections end, so the client sees an answer without its end.
    func answerTooLarge(_ index: Int) {
        let client = Int(connections[index].peer)
        connections[index].peer = -1
        abort(index)
        guard client >= 0, connections[client].isOpen, !connections[client].closing else { return }
        connections[client].peer = -1
        endFill(client, keep: false)
        finishCutShort(client)
    }

    /// Sends what the client's output holds of an answer, then closes.
    func finishCutShort(_ client: Int) {
        connections[client].request.pending.keepAlive = false
        connections[client].closeAfterFlush = true
        // Over TLS, no close_notify: the client must be able to tell a cut-short answer.
        connections[client].tlsTruncated = true
        endAwaiting(client)
    }

    static let httpVersionLine: [UInt8] = Array(" HTTP/1.1\r\n".utf8)
    static let httpVersionPrefix: [UInt8] = Array("HTTP/1.1 ".utf8)
    static let forwardedForPrefix: [UInt8] = Array("X-Forwarded-For: ".utf8)
    static let listSeparator: [UInt8] = Array(", ".utf8)
    static let chunkedLine: [UInt8] = Array("Transfer-Encoding: chunked\r\n".utf8)
    static let zeroContentLength: [UInt8] = Array("Content-Length: 0\r\n".utf8)
    static let contentTypePrefix: [UInt8] = Array("Content-Type: ".utf8)
}

extension Worker {
    /// A pooled connection that fails before any byte of the answer was most likely closed by the
    /// upstream while idle: an idempotent request whose bytes are all still in the output slot is
    /// sent once more, on a fresh connection. Returns whether it was.
    func retryOnFreshConnection(_ index: Int) -> Bool {
        let old = connections[index]
        guard old.role == .upstream, old.reused, old.retryable, old.requestSent, !old.answerBytesReceived,
              old.peer >= 0, old.requestLength > 0, let fresh = connectUpstream(Int(old.upstream)) else { return false }
        output.copy(from: output, slot: index, range: 0..<old.requestLength, toSlot: fresh, offset: 0)
        connections[fresh].outputEnd = old.requestLength
        connections[fresh].requestLength = old.requestLength
        connections[fresh].requestSent = true
        connections[fresh].retryable = false
        connections[fresh].peer = old.peer
        connections[fresh].target = old.target
        connections[fresh].requestMethod = old.requestMethod
        connections[fresh].exchangeStartedNanoseconds = old.exchangeStartedNanoseconds
        connections[fresh].request.group = old.request.group
        connections[fresh].request.methodGroup = old.request.methodGroup
        connections[Int(old.peer)].peer = Int32(fresh)
        // The second attempt gets the integration timeout afresh: each list must stay in
        // deadline order, and a stale connection fails within moments of the first attempt.
        let compiled = targets[Int(old.target)]
        deadlines.schedule(fresh, in: compiled.timeoutList, deadline: now + compiled.timeoutNanoseconds)
        connections[index].peer = -1
        abort(index)
        return true
    }

    func observeIntegrationLatency(_ index: Int) {
        let started = connections[index].exchangeStartedNanoseconds
        guard started > 0 else { return }
        connections[index].exchangeStartedNanoseconds = 0
        let client = Int(connections[index].peer)
        let elapsed = clock.monotonicNanoseconds() - started
        if client >= 0 { connections[client].request.record.integrationNanoseconds = elapsed }
        // The upstream connection keeps its request's groups: a client that left is still counted.
        stageMetrics.latencies.observe(slot: slot, group: metricsGroup(index), .integration, nanoseconds: elapsed)
        let methodGroup = Int(connections[index].request.methodGroup)
        if methodGroup >= 0 {
            methodMetrics.latencies.observe(slot: slot, group: methodGroup, .integration, nanoseconds: elapsed)
        }
    }

    /// How many request body bytes an upstream connection can take now.
    func forwardRoom(_ upstream: Int) -> Int {
        connections[upstream].invocation >= 0 ? functionBodyRoom(upstream) : outputRoom(upstream)
    }

    /// Sends request body bytes on: as they are to an upstream, in the event to a function.
    func forwardBody(_ bytes: Span<UInt8>, to upstream: Int) {
        if connections[upstream].invocation >= 0 {
            forwardToFunction(bytes, upstream: upstream)
        } else {
            forward(bytes, to: upstream)
        }
    }

    func forward(_ bytes: Span<UInt8>, to upstream: Int) {
        let written = output.write(slot: upstream, offset: connections[upstream].outputEnd) { writer in writer.append(bytes) }
        precondition(!written.overflowed, "forwards are sized to the room")
        connections[upstream].outputEnd += written.byteCount
        connections[upstream].requestLength += written.byteCount
        flush(upstream)
    }

    /// The upstream closed its side.
    func upstreamClosed(_ index: Int) {
        guard connections[index].peer >= 0 else {
            // Idle in the pool: it is gone, nothing is lost.
            abort(index)
            return
        }
        // Over TLS an answer that ends with the connection ends with close_notify: a bare close
        // may be an attacker's, and the answer is cut short.
        if connections[index].responsePhase == .untilClose
            && (!connections[index].secure || tls.receivedCloseNotify(slot: index)) {
            if connections[index].invocation >= 0 {
                completeInvocation(index, reusable: false)
            } else if connections[index].bufferingAnswer {
                completeBufferedAnswer(index, reusable: false)
            } else {
                finishExchange(index, reusable: false)
            }
        } else {
            upstreamFailed(index, answer: .badGateway, cause: .closed)
        }
    }
}
