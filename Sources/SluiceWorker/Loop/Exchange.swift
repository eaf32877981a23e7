import SluiceConfig
import SluiceHTTP1
import SluicePipeline
import SluiceMetrics
import SluiceRouter
import SluiceURing

/// Reading requests and writing answers on one connection.
extension Worker {
    // MARK: Receiving

    func onReceive(_ completion: Completion) {
        let index = Token.connection(completion.userData)
        let bufferID = completion.bufferID
        if let bufferID { receiveBuffers.lend(id: bufferID) }
        guard index < connections.count, connections[index].isOpen,
              connections[index].generation == Token.generation(completion.userData) else {
            if let bufferID { receiveBuffers.recycle(id: bufferID) }
            return
        }
        if !completion.hasMore { connections[index].receiveArmed = false }

        if connections[index].closing {
            if let bufferID { receiveBuffers.recycle(id: bufferID) }
            if !connections[index].hasOperationsInFlight { release(index) }
            return
        }
        switch completion.outcome {
        case .done(let byteCount) where byteCount > 0 && bufferID != nil:
            let bufferID = bufferID!
            if connections[index].receivePaused || connections[index].heldCount > 0 || waitsForUpstream(index) {
                pauseReceiving(index)
                // Reading is paused for output, but the multishot receive had already taken
                // these bytes: keep them in order until the output drains.
                hold(index, bufferID: bufferID, byteCount: Int(byteCount))
                return
            }
            received(index, bufferID: bufferID, byteCount: Int(byteCount))
            receiveBuffers.recycle(id: bufferID)
        case .done(0):
            if let bufferID { receiveBuffers.recycle(id: bufferID) }
            peerClosed(index)
        case .done:
            // Bytes without a provided buffer: never from a receive armed with a buffer group.
            if let bufferID { receiveBuffers.recycle(id: bufferID) }
            abort(index)
            return
        case .noBuffers:
            if let bufferID { receiveBuffers.recycle(id: bufferID) }
            if !connections[index].starved {
                connections[index].starved = true
                starved.append(Int32(index))
            }
            return
        case .canceled, .retry:
            if let bufferID { receiveBuffers.recycle(id: bufferID) }
        case .outOfDescriptors, .failed:
            if let bufferID { receiveBuffers.recycle(id: bufferID) }
            abort(index)
            return
        }
        rearmReceiveIfNeeded(index)
    }

    /// Stops reading: cancels the multishot receive (after which the connection receives one
    /// buffer at a time until its current request or answer is done).
    func pauseReceiving(_ index: Int) {
        connections[index].receivePaused = true
        connections[index].flowControlled = true
        let connection = connections[index]
        if connection.receiveArmed {
            ring.cancel(userData: Token.make(.receive, connection: index, generation: connection.generation),
                        userData: Token.make(.cancel))
        }
    }

    /// A client whose current request an upstream is answering, with the next request's head
    /// arriving: its bytes wait, in order, until the answer is complete.
    func waitsForUpstream(_ index: Int) -> Bool {
        connections[index].awaitingUpstream && connections[index].phase == .head
    }

    /// A multishot receive ends when the buffer ring runs dry or when we cancelled it; arm it
    /// again unless the connection is done reading. The new submission goes out after this
    /// batch's buffers are published.
    func rearmReceiveIfNeeded(_ index: Int) {
        let connection = connections[index]
        if connection.isOpen && !connection.closing && !connection.receiveArmed && !connection.peerClosed
            && !connection.receivePaused && !connection.starved {
            armReceive(index)
        }
    }

    func hold(_ index: Int, bufferID: UInt16, byteCount: Int) {
        let id = Int32(bufferID)
        heldNext[Int(id)] = -1
        heldBytes[Int(id)] = Int32(byteCount)
        if connections[index].heldLast >= 0 {
            heldNext[Int(connections[index].heldLast)] = id
        } else {
            connections[index].heldFirst = id
        }
        connections[index].heldLast = id
        connections[index].heldCount += 1
        heldTotal += 1
        if connections[index].heldCount > heldPerConnectionMax || heldTotal > heldTotalMax { abort(index) }
    }

    func popHeld(_ index: Int) -> (id: UInt16, byteCount: Int)? {
        let first = connections[index].heldFirst
        guard first >= 0 else { return nil }
        connections[index].heldFirst = heldNext[Int(first)]
        if connections[index].heldFirst < 0 { connections[index].heldLast = -1 }
        connections[index].heldCount -= 1
        heldTotal -= 1
        return (UInt16(first), Int(heldBytes[Int(first)]))
    }

    /// Gives back every held buffer unread (the connection is closing).
    func dropHeld(_ index: Int) {
        while let (id, _) = popHeld(index) { receiveBuffers.recycle(id: id) }
    }

    /// The client half-closed. Requests it sent before are still answered (a paused connection
    /// may hold some); the connection closes once they are, in `flush`.
    func peerClosed(_ index: Int) {
        connections[index].peerClosed = true
        if connections[index].role == .upstream {
            upstreamClosed(index)
            return
        }
        if connections[index].lingering {
            abort(index)
            return
        }
        flush(index)
    }

    func received(_ index: Int, bufferID: UInt16, byteCount: Int) {
        if connections[index].secure { return tlsReceived(index, bufferID: bufferID, byteCount: byteCount) }
        if connections[index].lingering { return }
        let carried = connections[index].carryCount
        if carried == 0 {
            let consumed = receiveBuffers.withBytes(id: bufferID, byteCount: byteCount) { bytes in
                consume(index, bytes)
            }
            let leftover = byteCount - consumed
            if leftover > 0 && connections[index].isOpen && !connections[index].closeAfterFlush {
                receiveBuffers.copy(id: bufferID, range: consumed..<byteCount, to: carry, slot: index, offset: 0)
                connections[index].carryCount = leftover
                if connections[index].pathRewrite != nil { consumeCarry(index) }
            }
        } else {
            moveToBodyBuffer(index)
            let (slab, slot) = carryLocation(index)
            guard carried + byteCount <= slab.slotBytes else {
                // Only a client that keeps sending while its responses go unread gets here.
                abort(index)
                return
            }
            receiveBuffers.copy(id: bufferID, range: 0..<byteCount, to: slab, slot: slot, offset: carried)
            connections[index].carryCount = carried + byteCount
            consumeCarry(index)
        }
        afterInput(index)
    }

    /// Parses what the carry slot holds and keeps the unparsed rest at its start. A head whose
    /// path had dot-segments is left at the start with its path to rewrite: rewritten, it is
    /// parsed again.
    func consumeCarry(_ index: Int) {
        while true {
            let (slab, slot) = carryLocation(index)
            if let path = connections[index].pathRewrite {
                connections[index].pathRewrite = nil
                connections[index].carryCount = slab.replace(slot: slot, range: path,
                                                             filled: connections[index].carryCount, with: resolvedPath)
            }
            let carried = connections[index].carryCount
            guard carried > 0 else { break }
            let consumed = slab.withBytes(slot: slot, range: 0..<carried) { bytes in consume(index, bytes) }
            guard connections[index].isOpen else { return }
            if consumed > 0 && consumed < carried {
                slab.move(slot: slot, range: consumed..<carried, to: 0)
            }
            connections[index].carryCount = carried - consumed
            guard connections[index].pathRewrite != nil else { break }
        }
        if connections[index].role == .client { leaveBodyBuffer(index) }
    }

    /// Bookkeeping after input was processed or a send completed: send what was produced, pause
    /// reading if output is backed up, and put the connection on the right timer.
    func afterInput(_ index: Int, sendProgressed: Bool = false) {
        guard connections[index].isOpen, !connections[index].closing else { return }
        flush(index)
        // What an upstream's bytes produced is in its client's output: one send for the batch.
        let peer = Int(connections[index].peer)
        if connections[index].role == .upstream && peer >= 0 { flush(peer) }
        if connections[index].receivePaused { pauseReceiving(index) }
        scheduleTimer(index, sendProgressed: sendProgressed)
    }

    /// Puts the connection on the timer that fits its state.
    func scheduleTimer(_ index: Int, sendProgressed: Bool = false) {
        let connection = connections[index]
        // Upstream connections run on their exchange's integration timeout, or the pool's idle one.
        guard connection.isOpen, !connection.closing, !connection.lingering, connection.role == .client else { return }
        if connection.awaitingUpstream && !connection.hasOutput && !connection.sendInFlight {
            // The exchange's integration timeout governs until the answer starts flowing.
            deadlines.remove(index)
            return
        }
        let idleDeadline = now + Int64(limits.idleTimeoutMilliseconds) * 1_000_000
        if connection.hasOutput || connection.sendInFlight || connection.receivePaused {
            // Output is waiting for the client: only the client reading it extends the deadline,
            // so that bytes trickled in cannot keep a stalled connection open.
            if sendProgressed || deadlines.list(of: index) != .idle {
                deadlines.schedule(index, in: .idle, deadline: idleDeadline)
            }
        } else if connection.phase == .head && (connection.carryCount > 0 || connection.requestsServed == 0) {
            // The header timeout runs from the first byte of a head; it is not refreshed.
            if deadlines.list(of: index) != .header {
                deadlines.schedule(index, in: .header, deadline: now + Int64(limits.headerTimeoutMilliseconds) * 1_000_000)
            }
        } else {
            // Keep-alive idle since the last exchange, or a body arriving: both extend the deadline.
            deadlines.schedule(index, in: .idle, deadline: idleDeadline)
        }
    }

    // MARK: Parsing

    /// Consumes received bytes: requests on a client connection, an answer on an upstream one.
    func consume(_ index: Int, _ bytes: Span<UInt8>) -> Int {
        switch connections[index].role {
        case .client: consumeRequests(index, bytes)
        case .upstream: consumeResponse(index, bytes)
        }
    }

    /// Consumes as many whole requests (and body bytes) from `bytes` as it can and returns the
    /// number of bytes consumed. Stops early when output space runs short, and at a request's
    /// head while an upstream still answers the one before.
    func consumeRequests(_ index: Int, _ bytes: Span<UInt8>) -> Int {
        var offset = 0
        while offset < bytes.count {
            let connection = connections[index]
            if !connection.isOpen || connection.closing || connection.closeAfterFlush || connection.lingering {
                return bytes.count
            }
            switch connection.phase {
            case .head:
                if connection.awaitingUpstream {
                    // The next request waits for the answer before it; so does reading.
                    connections[index].receivePaused = true
                    return offset
                }
                guard hasRoomForResponse(index) else {
                    connections[index].receivePaused = true
                    return offset
                }
                let rest = bytes.extracting(offset..<bytes.count)
                if connections[index].request.isWaiting {
                    // A request that waited resumes from its parked head (its bytes are still
                    // here): not parsed, not routed again.
                    unparkHead(index)
                    guard startRequest(index, rest) else {
                        connections[index].receivePaused = !connections[index].request.waitsForBody
                        return offset
                    }
                    offset += head.headLength
                    continue
                }
                switch connections[index].parser.parse(rest, into: &head) {
                case .incomplete:
                    return offset
                case .failed(let error):
                    counters.add(slot: slot, .badRequests)
                    respondAndClose(index, answer: GatewayAnswer(error))
                    return bytes.count
                case .complete:
                    connections[index].parser.reset()
                    if DotSegments.present(in: rest.extracting(head.path)) {
                        // Resolved before routing (RFC 3986 §5.2.4, as nginx does): the head stays
                        // unread, its path is rewritten in the carry slot, and it is parsed again.
                        guard DotSegments.resolve(rest.extracting(head.path), into: &resolvedPath) else {
                            counters.add(slot: slot, .badRequests)
                            respondAndClose(index, answer: .badRequest)
                            return bytes.count
                        }
                        connections[index].pathRewrite = head.path
                        return offset
                    }
                    head.absorbEmptyChunkedBody(rest)
                    guard startRequest(index, rest) else {
                        // Admitted, but waiting: the head stays, to be read again when it can go on
                        // (and, when it waits for its body, reading goes on).
                        connections[index].receivePaused = !connections[index].request.waitsForBody
                        return offset
                    }
                    offset += head.headLength
                }
            case .body:
                var take = min(connection.bodyRemaining, bytes.count - offset)
                if connection.peer >= 0 && !connection.bodyReplaced {
                    // The body goes to the upstream as it arrives, as far as its output has room.
                    take = min(take, forwardRoom(Int(connection.peer)))
                    guard take > 0 else {
                        connections[index].receivePaused = true
                        return offset
                    }
                    forwardBody(bytes.extracting(offset..<offset + take), to: Int(connection.peer))
                }
                offset += take
                connections[index].bodyRemaining -= take
                if connections[index].bodyRemaining == 0 { finishRequest(index) }
            case .chunkedBody:
                var limit = bytes.count
                if connection.peer >= 0 && !connection.bodyReplaced {
                    let room = forwardRoom(Int(connection.peer))
                    guard room > 0 else {
                        connections[index].receivePaused = true
                        return offset
                    }
                    limit = min(limit, offset + room)
                }
                let step = connections[index].chunked.decode(bytes.extracting(offset..<limit))
                let peer = connection.bodyReplaced ? -1 : Int(connection.peer)
                if peer >= 0 && connections[peer].invocation >= 0 {
                    // A function gets the body's data, in its event.
                    if let data = step.data { forwardBody(bytes.extracting(offset..<limit).extracting(data), to: peer) }
                } else if peer >= 0 {
                    // Validated chunked bytes go to the upstream as they are.
                    forward(bytes.extracting(offset..<offset + step.consumed), to: peer)
                }
                offset += step.consumed
                switch step.state {
                case .needMore:
                    if step.consumed == 0 { return offset }
                case .done:
                    finishRequest(index)
                case .failed(let error):
                    counters.add(slot: slot, .badRequests)
                    if abandonExchange(index) {
                        respondAndClose(index, answer: GatewayAnswer(error))
                    } else {
                        abort(index)
                    }
                    return bytes.count
                }
            }
        }
        return offset
    }

    /// A head is complete: decide the answer now (routing needs the head's bytes, which may not
    /// outlive this call), then read the body, if any, before answering.
    /// Returns false when a step of the pipeline waits: for another request's cache fill, or for
    /// output room to be answered from the cache. Its parsed head and route are parked, its bytes
    /// stay at the start of the carry slot, and the pipeline resumes at that step without
    /// parsing, routing, counting or admitting the request again.
    func startRequest(_ index: Int, _ bytes: Span<UInt8>) -> Bool {
        let resumed = connections[index].request.isWaiting
        if !resumed {
            counters.add(slot: slot, .requests)
            requestsInFlight += 1
            requestIDCounter &+= 1
            connections[index].request.id = requestIDCounter
            connections[index].request.startedNanoseconds = clock.monotonicNanoseconds()
            connections[index].request.key = nil
            connections[index].request.corsAPI = -1
            connections[index].request.corsOrigin = -1
            endBodyWait(index)
            connections[index].request.continueSent = false
            connections[index].request.expectsContinue = head.expectsContinue && head.framing != .none
                && head.framing != .length(0)
            connections[index].request.authorizerPending = false
            connections[index].request.authorizerFailure = -1
            connections[index].request.authorizeStartedNanoseconds = 0
            connections[index].cacheWaitUntil = 0
            connections[index].bodyReplaced = false
            // A body decoded for the previous request is not this one's.
            connections[index].request.contentDecoded = false
            // A fill belongs to one exchange; none may outlive it into this request.
            endFill(index, keep: false)
        }
        connections[index].request.pending = PendingAnswer(response: 0, keepAlive: head.keepAlive,
                                                           omitBody: head.method == .head,
                                                           http10: head.version == .http10)
        connections[index].request.group = -1
        connections[index].request.methodGroup = -1
        let misdirected = !resumed && isMisdirected(index, bytes)
        // Only a routed request waits: a resumed one has its route back with its head.
        if misdirected {
            // 421: the client may retry on a connection made for the Host it names.
            connections[index].request.pending.response = catalog.index(of: .misdirectedRequest)
            connections[index].request.pending.keepAlive = false
        } else if resumed || lookUpRoute(index, bytes) {
            connections[index].request.group = Int32(match.stage)
            connections[index].request.methodGroup = methodGroups.group(stage: match.stage, operation: match.operation)
            if !resumed {
                beginRecord(index, bytes, stage: match.stage, operation: match.operation,
                            traced: proxyTargets.target(operation: match.operation, stage: match.stage) != nil
                                || proxyTargets.lambdaTarget(operation: match.operation, stage: match.stage) != nil)
                captureGatewayValues(index, bytes, operation: match.operation, stage: match.stage)
            }
            if let preflight = corsStep(index, bytes, stage: match.stage) {
                connections[index].request.pending.response = preflight
            } else {
                guard runPipeline(index, bytes) else { return false }
            }
        } else {
            // No resource answers; under a stage's URLs it is still that stage's request, counted
            // and logged there (CloudWatch counts it in the stage's 4XXError).
            connections[index].request.pending.response = catalog.index(of: .missingAuthenticationToken)
            if match.enclosingStage >= 0 {
                connections[index].request.group = Int32(match.enclosingStage)
                if !resumed {
                    beginRecord(index, bytes, stage: match.enclosingStage, operation: -1, traced: false)
                    captureGatewayValues(index, bytes, operation: -1, stage: match.enclosingStage)
                }
                // A preflight needs no route: the API answers it.
                if let preflight = corsStep(index, bytes, stage: match.enclosingStage) {
                    connections[index].request.pending.response = preflight
                }
            }
        }
        switch head.framing {
        case .none, .length(0):
            finishRequest(index)
        case .length(let length):
            connections[index].phase = .body
            connections[index].bodyRemaining = length
            answerExpectation(index)
        case .chunked:
            connections[index].phase = .chunkedBody
            connections[index].chunked = ChunkedBodyDecoder(bodyBytesMax: limits.request.bodyBytesMax)
            answerExpectation(index)
        }
        return true
    }

    /// `Expect: 100-continue`: the client may send its body, unless a step has answered already;
    /// then the body is not wanted, no interim response may follow the answer, and the
    /// connection closes after it (the answer said `Connection: close`: `writeRendered`).
    func answerExpectation(_ index: Int) {
        guard head.expectsContinue && !connections[index].request.continueSent else { return }
        if connections[index].request.pending.response == Worker.answeredByStep {
            connections[index].request.pending.keepAlive = false
            connections[index].closeAfterFlush = true
        } else {
            connections[index].request.continueSent = true
            write(index, ResponseHead.continueResponse)
        }
    }

    func finishRequest(_ index: Int) {
        connections[index].phase = .head
        if !connections[index].awaitingUpstream { connections[index].flowControlled = false }
        let pending = connections[index].request.pending
        if pending.response == Worker.answeredByStep {
            connections[index].requestsServed += 1
            return
        }
        if pending.response < 0 {
            // An upstream answers; its exchange ends the request. The whole body is handed over.
            let peer = Int(connections[index].peer)
            if peer >= 0 {
                if connections[peer].invocation >= 0 { finishFunctionEvent(peer) }
                connections[peer].requestSent = true
            }
            return
        }
        connections[index].requestsServed += 1
        respond(index, response: pending.response, keepAlive: pending.keepAlive, omitBody: pending.omitBody,
                http10: pending.http10)
    }

    // MARK: Writing

    /// Whether the output slot can take another response head without waiting for a send.
    func hasRoomForResponse(_ index: Int) -> Bool {
        let connection = connections[index]
        if connection.isStreaming { return false }
        // 192: the head's ending (Date, request ids, Connection); 64: a rendered gateway body's
        // Content-Length line and a 100 Continue written after this check.
        let needed = catalog.headBytesMax + 192 + 64 + corsLinesBytesMax + gatewayValues.linesBytesMax
        if output.slotBytes - connection.outputEnd >= needed { return true }
        // Compacting moves bytes, so it cannot happen while a send reads them.
        guard !connection.sendInFlight else { return false }
        compactOutput(index)
        return output.slotBytes - connections[index].outputEnd >= needed
    }

    func compactOutput(_ index: Int) {
        let connection = connections[index]
        guard connection.outputStart > 0 else { return }
        // Moved bytes are no longer a request that could be sent again.
        connections[index].retryable = false
        if connection.outputEnd > connection.outputStart {
            output.move(slot: index, range: connection.outputStart..<connection.outputEnd, to: 0)
        }
        connections[index].outputEnd -= connection.outputStart
        connections[index].outputStart = 0
    }

    func respondAndClose(_ index: Int, answer: GatewayAnswer) {
        if !hasRoomForResponse(index) {
            abort(index)
            return
        }
        connections[index].phase = .head
        if connections[index].request.startedNanoseconds == 0 {
            // Refused before a request began (a parse error, a timeout): nothing of the previous
            // request's may reach this answer.
            connections[index].request.corsAPI = -1
            connections[index].request.corsOrigin = -1
            connections[index].request.group = -1
        }
        respond(index, response: catalog.index(of: answer), keepAlive: false, omitBody: false, http10: false)
        flush(index)
    }

    /// Writes a prepared response with this request's `Date`, `x-amzn-RequestId` and
    /// `Connection`. Bodies that do not fit are streamed as sends free space.
    func respond(_ index: Int, response unshaped: Int, keepAlive requested: Bool, omitBody: Bool, http10: Bool) {
        // The request's API may shape the gateway's answers (its gateway responses).
        let group = Int(connections[index].request.group)
        // A static MOCK's answer goes compressed when the request asks for it (Compression.swift).
        let response = catalog.shaped(catalog.compressed(unshaped, connections[index].request.answerCoding),
                                      api: group >= 0 ? Int(stageAPIs[group]) : -1)
        let prepared = catalog[response]
        // Once draining, every answer is the connection's last.
        let keepAlive = requested && !draining
        connections[index].request.record.answer = Int16(catalog.answer(at: response)?.rawValue ?? -1)
        // A gateway response's template renders the body now (with $context.error.* of this answer).
        let rendered = prepared.rendersBody && renderGatewayTemplate(index, response: response)
        let renderedBody = rendered ? templating.renderer.output : Worker.noBytes
        connections[index].request.record.responseBytes = omitBody ? 0 : (rendered ? renderedBody.count : prepared.body.count)
        countResponse(index, status: prepared.status)
        if connections[index].request.id == 0 {
            // Refused before a request began (a parse error, a timeout): it still gets an id.
            requestIDCounter &+= 1
            connections[index].request.id = requestIDCounter
        }
        let requestLow = connections[index].request.id
        connections[index].request.id = 0
        requestAnswered(index)
        var copied = 0
        let written = output.write(slot: index, offset: connections[index].outputEnd) { writer in
            writer.append(prepared.head)
            appendGatewayLines(index, response: response, to: &writer)
            if prepared.rendersBody {
                writer.append(ResponseHead.contentLengthPrefix)
                ResponseHead.appendDecimal(renderedBody.count, to: &writer)
                writer.append(ResponseHead.crlf)
            }
            endResponseHead(index, requestID: requestLow, keepAlive: keepAlive, http10: http10, to: &writer)
            guard !omitBody else { return }
            copied = min(renderedBody.count, writer.freeCapacity)
            writer.append(renderedBody.span.extracting(0..<copied))
        }
        precondition(!written.overflowed, "hasRoomForResponse guarantees room for a head")
        connections[index].outputEnd += written.byteCount
        if !keepAlive { connections[index].closeAfterFlush = true }
        if !omitBody && copied < renderedBody.count {
            // The rest of a rendered body waits in a body buffer; without one free, the answer
            // is cut short and the connection closes (its Content-Length tells the client).
            if !queueRest(index, of: renderedBody.span, from: copied) { connections[index].closeAfterFlush = true }
        }
        if !omitBody && !prepared.body.isEmpty {
            connections[index].streamingResponse = response
            connections[index].streamingOffset = 0
            continueStreaming(index)
        }
    }

    /// The request under way (if one was) is answered, its response complete or wholly queued:
    /// its access-log line and its latency.
    func requestAnswered(_ index: Int) {
        let started = connections[index].request.startedNanoseconds
        let group = metricsGroup(index)
        let methodGroup = Int(connections[index].request.methodGroup)
        connections[index].request.group = -1
        connections[index].request.methodGroup = -1
        guard started > 0 else { return }
        let elapsed = endRecord(index, started: started)
        connections[index].request.startedNanoseconds = 0
        stageMetrics.latencies.observe(slot: slot, group: group, .request, nanoseconds: elapsed)
        if methodGroup >= 0 { methodMetrics.latencies.observe(slot: slot, group: methodGroup, .request, nanoseconds: elapsed) }
    }

    /// The metrics group of a connection's current request (a client's, or the one an upstream
    /// connection carries): its stage, or the unrouted one.
    func metricsGroup(_ index: Int) -> Int {
        let group = Int(connections[index].request.group)
        return group >= 0 ? group : unroutedGroup
    }

    /// Counts an answer to a client, per worker, per stage and per method with detailed metrics.
    func countResponse(_ index: Int, status: Int) {
        connections[index].request.record.status = Int32(status)
        counters.add(slot: slot, WorkerCounter.responseClass(status: status))
        stageMetrics.requests.count(slot: slot, group: metricsGroup(index), status: status)
        let methodGroup = Int(connections[index].request.methodGroup)
        if methodGroup >= 0 { methodMetrics.requests.count(slot: slot, group: methodGroup, status: status) }
    }

    /// Copies as much of what is streaming (a prepared body, or a range of an invocation's slot)
    /// as fits into the output slot.
    func continueStreaming(_ index: Int) {
        guard connections[index].isStreaming else { return }
        if !connections[index].sendInFlight { compactOutput(index) }
        let response = connections[index].streamingResponse
        let invocation = Int(connections[index].streamingInvocation)
        let fromCache = connections[index].streamingCacheStage >= 0
        let start = connections[index].streamingOffset
        let end = response >= 0 ? catalog[response].body.count
            : fromCache ? connections[index].streamingEntry.bodyLength : connections[index].streamingEnd
        let count = min(output.slotBytes - connections[index].outputEnd, end - start)
        if count > 0 {
            if fromCache {
                guard continueCachedBody(index, from: start, count: count) else {
                    // The cache came round to the entry mid-answer: what was sent is whole, the
                    // rest is gone; closing tells the client the answer is incomplete.
                    connections[index].streamingCacheStage = -1
                    abort(index)
                    return
                }
            } else if connections[index].streamingBuffer >= 0 {
                continueBufferedBody(index, from: start, count: count)
            } else if response >= 0 {
                let written = output.write(slot: index, offset: connections[index].outputEnd) { writer in
                    writer.append(catalog[response].body, range: start..<start + count)
                }
                connections[index].outputEnd += written.byteCount
            } else {
                output.copy(from: invocations, slot: invocation, range: start..<start + count, toSlot: index,
                            offset: connections[index].outputEnd)
                connections[index].outputEnd += count
            }
        }
        guard start + count == end else {
            connections[index].streamingOffset = start + count
            return
        }
        connections[index].streamingResponse = -1
        connections[index].streamingInvocation = -1
        connections[index].streamingCacheStage = -1
        endStreamingBuffer(index)
        connections[index].streamingOffset = 0
        // A client's invocation ends when its response is all in the output; an upstream's
        // goes on with the request body.
        if invocation >= 0 && connections[index].role == .client { releaseInvocation(index) }
    }

    /// Appends raw bytes (interim responses) to the output slot.
    func write(_ index: Int, _ bytes: [UInt8]) {
        let written = output.write(slot: index, offset: connections[index].outputEnd) { writer in
            writer.append(bytes)
        }
        connections[index].outputEnd += written.byteCount
    }

    /// Starts a send of everything queued unless one is in flight.
    func flush(_ index: Int) {
        let connection = connections[index]
        guard connection.isOpen, !connection.closing, !connection.sendInFlight, !connection.connecting else { return }
        if connection.secure { return tlsFlush(index) }
        if connection.outputEnd > connection.outputStart {
            ring.send(socket: connection.fd, slab: output, slot: index,
                      range: connection.outputStart..<connection.outputEnd,
                      userData: Token.make(.send, connection: index, generation: connection.generation))
            connections[index].sendInFlight = true
        } else {
            flushed(index)
        }
    }

    /// Everything queued is sent: close after the last answer, or once a client that closed its
    /// side has been answered.
    func flushed(_ index: Int) {
        let connection = connections[index]
        if connection.closeAfterFlush && !connection.lingering {
            if connection.peerClosed { abort(index) } else { linger(index) }
        } else if connection.peerClosed && !connection.receivePaused && connection.heldCount == 0
                    && !connection.isStreaming && !connection.awaitingUpstream {
            // Everything the client sent before closing has been answered (a head left
            // incomplete can never be completed now).
            abort(index)
        }
    }

    func onSend(_ completion: Completion) {
        let index = Token.connection(completion.userData)
        guard index < connections.count, connections[index].isOpen,
              connections[index].generation == Token.generation(completion.userData) else { return }
        connections[index].sendInFlight = false
        if connections[index].closing {
            if !connections[index].hasOperationsInFlight { release(index) }
            return
        }
        var sent: Int
        switch completion.outcome {
        case .done(let count) where count > 0:
            sent = Int(count)
            if connections[index].secure {
                sent = tlsSent(index, byteCount: sent)
                guard sent > 0 else {
                    afterInput(index, sendProgressed: true)
                    return
                }
            }
        case .retry:
            // Nothing was sent: send the same bytes again.
            afterInput(index, sendProgressed: false)
            return
        case .done, .noBuffers, .canceled, .outOfDescriptors, .failed:
            abort(index)
            return
        }
        connections[index].outputStart += sent
        if connections[index].outputStart == connections[index].outputEnd {
            connections[index].outputStart = 0
            connections[index].outputEnd = 0
            // What follows overwrites the start of the slot: an incomplete request cannot be resent.
            if !connections[index].requestSent { connections[index].retryable = false }
        }
        continueStreaming(index)
        if connections[index].receivePaused && !connections[index].isStreaming {
            resumeReading(index)
        }
        // The peer may have been paused because this connection's output was full.
        let peer = Int(connections[index].peer)
        if peer >= 0 && connections[peer].receivePaused {
            resumeReading(peer)
            afterInput(peer)
        }
        guard connections[index].isOpen, !connections[index].closing else { return }
        afterInput(index, sendProgressed: true)
    }

    /// Output has drained: parse what was carried and held while paused, then receive again.
    func resumeReading(_ index: Int) {
        connections[index].receivePaused = false
        consumeCarry(index)
        // Plaintext that OpenSSL decrypted no further while reading was paused.
        if connections[index].secure { tlsReadPlaintext(index) }
        while connections[index].isOpen && !connections[index].closing && !connections[index].receivePaused {
            if connections[index].lingering || connections[index].closeAfterFlush {
                dropHeld(index)
                break
            }
            // A TLS session whose ciphertext waits unread (its next request waits for an upstream)
            // takes no more: the held buffers wait for the answer (`endAwaiting` resumes).
            if connections[index].secure && waitsForUpstream(index) { break }
            guard let (id, byteCount) = popHeld(index) else { break }
            received(index, bufferID: id, byteCount: byteCount)
            receiveBuffers.recycle(id: id)
        }
        guard connections[index].isOpen, !connections[index].closing else { return }
        rearmReceiveIfNeeded(index)
    }

    /// The response writer's one ending of every response head, whatever wrote its status and
    /// header lines (a prepared answer, an upstream's, a function's, a cached one): the CORS
    /// headers of the request's API, `Date`, `x-amzn-RequestId`, `Connection` when the connection
    /// closes after the response (or an HTTP/1.0 client keeps it), and the blank line.
    /// `traced`: an integration answered (HTTP, HTTP_PROXY, AWS_PROXY), so the answer carries
    /// the request's `X-Amzn-Trace-Id`, as API Gateway's do.
    func endResponseHead(_ client: Int, requestID: UInt64, keepAlive: Bool, http10: Bool, traced: Bool = false,
                         to writer: inout SlabWriter) {
        // The CORS fields stay until the next request begins (a write that fails falls back to
        // another answer of the same request, which needs them too).
        let corsOrigin = Int(connections[client].request.corsOrigin)
        if corsOrigin >= 0, let policy = corsPolicies[Int(connections[client].request.corsAPI)] {
            writer.append(policy.originLines[corsOrigin])
            writer.append(policy.responseLines)
        }
        writer.append(dateLine.bytes)
        writer.append(Worker.requestIDPrefix)
        Worker.appendRequestID(high: requestIDHigh, low: requestID, to: &writer)
        writer.append(ResponseHead.crlf)
        writer.append(Worker.extendedRequestIDPrefix)
        Worker.appendExtendedRequestID(high: requestIDHigh, low: requestID, to: &writer)
        writer.append(ResponseHead.crlf)
        if traced {
            writer.append(Worker.amazonTracePrefix)
            connections[client].request.record.trace.appendAmazonValue(to: &writer)
            writer.append(ResponseHead.crlf)
        }
        if !keepAlive {
            writer.append(ResponseHead.connectionClose)
        } else if http10 {
            writer.append(ResponseHead.connectionKeepAlive)
        }
        writer.append(ResponseHead.crlf)
    }

    static let requestIDPrefix: [UInt8] = Array("x-amzn-RequestId: ".utf8)
    static let extendedRequestIDPrefix: [UInt8] = Array("x-amz-apigw-id: ".utf8)

    /// API Gateway's extended request id (`x-amz-apigw-id`, `$context.extendedRequestId`): 11
    /// bytes of the request id in base64, 16 characters ending in `=`, as API Gateway's look.
    static func appendExtendedRequestID(high: UInt64, low: UInt64, to writer: inout SlabWriter) {
        // The low 3 bytes of the high half (the worker's), then the 8 of the counter, big-endian.
        func byte(_ index: Int) -> UInt64 {
            index < 3 ? high >> UInt64(8 * (2 - index)) & 0xFF : low >> UInt64(8 * (10 - index)) & 0xFF
        }
        var index = 0
        while index + 3 <= 11 {
            let group = byte(index) << 16 | byte(index + 1) << 8 | byte(index + 2)
            for shift in stride(from: 18, through: 0, by: -6) { writer.append(base64Digit(group >> UInt64(shift) & 0x3F)) }
            index += 3
        }
        // Two bytes left: three characters and one `=`.
        let group = byte(9) << 16 | byte(10) << 8
        for shift in stride(from: 18, through: 6, by: -6) { writer.append(base64Digit(group >> UInt64(shift) & 0x3F)) }
        writer.append(0x3D)
    }

    @inline(__always)
    static func base64Digit(_ value: UInt64) -> UInt8 {
        switch value {
        case 0..<26: UInt8(value) + 65
        case 26..<52: UInt8(value - 26) + 97
        case 52..<62: UInt8(value - 52) + 48
        case 62: 0x2B
        default: 0x2F
        }
    }

    /// A request id in UUID form (8-4-4-4-12 hex digits): a per-process random high half and a
    /// counter low half, unique across workers and restarts.
    static func appendRequestID(high: UInt64, low: UInt64, to writer: inout SlabWriter) {
        ResponseHead.appendHex(high >> 32, digits: 8, to: &writer)
        writer.append(45)
        ResponseHead.appendHex(high >> 16, digits: 4, to: &writer)
        writer.append(45)
        ResponseHead.appendHex(high, digits: 4, to: &writer)
        writer.append(45)
        ResponseHead.appendHex(low >> 48, digits: 4, to: &writer)
        writer.append(45)
        ResponseHead.appendHex(low, digits: 12, to: &writer)
    }
}

extension SlabWriter: ByteSink {}
