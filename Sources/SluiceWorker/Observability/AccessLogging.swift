import SluiceConfig
import SluiceHTTP1
import SluicePipeline
import SluiceLambda
import SluiceMetrics
import SluiceURing

/// What the access log says of a request, gathered as it goes (on its client connection).
struct RequestRecord {
    /// The stage's access-log file (`Worker.accessLogs`), or -1: no line to write.
    var logFile: Int32 = -1
    var requestID: UInt64 = 0
    var epochMilliseconds: Int = 0
    var stage: Int32 = -1
    var operation: Int32 = -1
    /// Head read → response complete (or connection closed), as the latency histogram has it.
    var latencyNanoseconds: Int64 = 0
    /// The status sent; 0 until a response began.
    var status: Int32 = 0
    /// The gateway's own answer (`GatewayAnswer`), or -1 for the integration's or a mock's.
    var answer: Int16 = -1
    var apiKey: Int32 = -1
    var responseBytes = 0
    var integrationStatus: Int32 = 0
    /// -1 until the integration answered.
    var integrationNanoseconds: Int64 = -1
    /// The request's own texts, in the worker's `requestTexts` slab: lengths of its path, User-Agent,
    /// Host and method, stored at `RequestTexts` offsets.
    var pathLength: Int16 = 0
    var agentLength: Int16 = 0
    var hostLength: Int16 = 0
    var methodLength: Int16 = 0
    var trace = TraceContext(high: 0, low: 0, parent: 0, sampled: false)
    /// The authorizer step: the status it decided (0: the method has none), the gateway answer it
    /// refused with (-1: none), and how long it took (-1: it did not run).
    var authorizeStatus: Int16 = 0
    var authorizeError: Int16 = -1
    var authorizeNanoseconds: Int64 = -1
    /// The verified token whose claims the request reads (`AuthorizationState.tokens`, pinned
    /// until the request ends), or -1; the IAM credential that signed it, or -1.
    var token: Int32 = -1
    var iamCredential: Int16 = -1
    /// A Lambda authorizer's compiled answer for the request (`AuthorizationState.results`), or -1.
    var authorizerResult: Int32 = -1
    /// Request validation's detail, in the connection's slot of `ValidationState.details` (0: none).
    var validationErrorLength: Int16 = 0
}

/// Where a request's texts go in its slot of `requestTexts`. Longer values are cut at these sizes.
enum RequestTexts {
    static let pathBytes = 2_048
    static let agentBytes = 512
    static let hostBytes = 256
    static let methodBytes = 32
    static let agentOffset = pathBytes
    static let hostOffset = agentOffset + agentBytes
    static let methodOffset = hostOffset + hostBytes
    static let slotBytes = methodOffset + methodBytes
}

/// One access-log file as one worker writes it: two buffers, lines going into one while the
/// other is written by the kernel. A line that finds both busy and full is dropped and counted.
/// Stages may share a file; each writes its lines in its own format.
struct AccessLogFile {
    let path: String
    /// Slots 0 and 1: the two buffers.
    let buffers: ByteSlab
    var fd: Int32
    var fill: InlineArray<2, Int> = [0, 0]
    var lines: InlineArray<2, Int> = [0, 0]
    /// The buffer lines go into; the other is being written when `writing`.
    var active = 0
    var writing = false
    /// Bytes of the buffer being written that the kernel has taken.
    var written = 0
    /// SIGUSR1 came while a write was in flight: reopen once it completes.
    var reopenPending = false
    /// The last write failed (reported once, until a write succeeds again).
    var failing = false
}

extension Worker {
    static let amazonTracePrefix: [UInt8] = Array("X-Amzn-Trace-Id: ".utf8)

    /// Opens each distinct path once, with the largest buffer its stages ask for. Throws when a
    /// file cannot be opened.
    static func openAccessLogs(_ stages: [Stage]) throws(SystemError) -> (files: [AccessLogFile], byStage: [Int32]) {
        var files: [AccessLogFile] = []
        var byStage: [Int32] = []
        for stage in stages {
            guard let settings = stage.accessLog else {
                byStage.append(-1)
                continue
            }
            if let existing = files.firstIndex(where: { $0.path == settings.path }) {
                byStage.append(Int32(existing))
                continue
            }
            let bufferBytes = stages.compactMap(\.accessLog).filter { $0.path == settings.path }.map(\.bufferBytes).max()!
            let buffers = try ByteSlab(slotCount: 2, slotBytes: bufferBytes)
            let fd = try Files.openForAppending(settings.path)
            files.append(AccessLogFile(path: settings.path, buffers: buffers, fd: fd))
            byStage.append(Int32(files.count - 1))
        }
        return (files, byStage)
    }

    // MARK: Gathering

    /// A routed request begins: what its line will need from its head, which may be gone by the
    /// time it is answered, and its trace when it goes to an HTTP or Lambda integration or is logged.
    func beginRecord(_ index: Int, _ bytes: Span<UInt8>, stage: Int, operation: Int, traced: Bool) {
        releaseAuthorization(index)
        var record = RequestRecord()
        record.logFile = stageAccessLogs[stage]
        record.requestID = connections[index].request.id
        record.stage = Int32(stage)
        record.operation = Int32(operation)
        // The request's time, for every value that reads it (mappings, the Lambda event, the log).
        record.epochMilliseconds = Int(epochNanoseconds / 1_000_000)
        if record.logFile >= 0 {
            _ = peerAddressLength(index)
            let agent = HeaderNames.value(of: Worker.userAgentName, in: head.headers, bytes: bytes)
            record.pathLength = Int16(storeText(index, bytes.extracting(head.path), at: 0, max: RequestTexts.pathBytes))
            record.agentLength = agent.map {
                Int16(storeText(index, bytes.extracting($0), at: RequestTexts.agentOffset, max: RequestTexts.agentBytes))
            } ?? 0
            record.hostLength = Int16(storeText(index, bytes.extracting(head.host), at: RequestTexts.hostOffset,
                                                max: RequestTexts.hostBytes))
            record.methodLength = Int16(storeText(index, bytes.extracting(head.methodName), at: RequestTexts.methodOffset,
                                                  max: RequestTexts.methodBytes))
        }
        if traced || record.logFile >= 0 { record.trace = trace(of: bytes) }
        connections[index].request.record = record
    }

    static func put(_ text: Span<UInt8>, _ max: Int, _ writer: inout SlabWriter) -> Int {
        let count = min(text.count, max)
        writer.append(text.extracting(0..<count))
        return count
    }

    func storeText(_ index: Int, _ text: Span<UInt8>, at offset: Int, max: Int) -> Int {
        requestTexts.write(slot: index, offset: offset) { writer in Worker.put(text, max, &writer) }.result
    }

    /// The request's trace: its `traceparent`, else its `X-Amzn-Trace-Id`, else a new one.
    func trace(of bytes: Span<UInt8>) -> TraceContext {
        if let value = HeaderNames.value(of: TraceContext.traceparentName, in: head.headers, bytes: bytes),
           let trace = TraceContext.parseTraceparent(bytes.extracting(value)) {
            return trace
        }
        if let value = HeaderNames.value(of: TraceContext.amazonName, in: head.headers, bytes: bytes),
           var trace = TraceContext.parseAmazon(bytes.extracting(value)) {
            // Without a Parent, a span of our own stands for it (a traceparent needs one).
            if trace.parent == 0 { trace.parent = traceIDs.next() | 1 }
            return trace
        }
        return traceIDs.newTrace(epochSeconds: dateLine.epochSeconds)
    }

    // MARK: Writing lines

    /// The request under way (head read at `started`) ends, answered or with its connection
    /// closed: its latency, its line if its stage logs, one request less in flight.
    func endRecord(_ index: Int, started: Int64) -> Int64 {
        let elapsed = clock.monotonicNanoseconds() - started
        connections[index].request.record.latencyNanoseconds = elapsed
        logRequest(index)
        releaseAuthorization(index)
        requestsInFlight -= 1
        return elapsed
    }

    func logRequest(_ index: Int) {
        let file = Int(connections[index].request.record.logFile)
        guard file >= 0 else { return }
        connections[index].request.record.logFile = -1
        if appendLine(index, file: file) { return }
        // The buffer is full: write it now if the other one is free, and go on in that one.
        if !accessLogs[file].writing {
            startLogWrite(file)
            if appendLine(index, file: file) { return }
        }
        counters.add(slot: slot, .accessLogLinesDropped)
    }

    func appendLine(_ index: Int, file: Int) -> Bool {
        let buffer = accessLogs[file].active
        let written = accessLogs[file].buffers.write(slot: buffer, offset: accessLogs[file].fill[buffer]) { writer in
            renderLine(index, to: &writer)
            writer.append(0x0A)
        }
        guard !written.overflowed else { return false }
        accessLogs[file].fill[buffer] += written.byteCount
        accessLogs[file].lines[buffer] += 1
        counters.add(slot: slot, .accessLogLines)
        return true
    }

    /// The line in its stage's format. The request is answered: its values come from its
    /// record, through the evaluator every value of a request goes through.
    func renderLine(_ index: Int, to writer: inout SlabWriter) {
        let stage = Int(connections[index].request.record.stage)
        guard let format = stageAccessLogFormats[stage] else { return }
        let escaping: ValueEscaping = format.escaping == .json ? .json : .logText
        let noHead = Worker.noBytes
        for part in format.parts {
            switch part {
            case .literal(let bytes):
                writer.append(bytes.span)
            case .variable(let variable):
                appendValue(.context(variable), index, head: noHead.span, headAtHand: false, escaping: escaping,
                            to: &writer)
            case .claim(let name):
                appendValue(.claim(name), index, head: noHead.span, headAtHand: false, escaping: escaping, to: &writer)
            case .authorizer(let name):
                appendValue(.authorizer(name), index, head: noHead.span, headAtHand: false, escaping: escaping,
                            to: &writer)
            }
        }
    }

    // MARK: Writing files

    /// At the end of each turn of the loop: every file with lines and no write in flight gets one.
    func flushAccessLogs() {
        for file in accessLogs.indices where !accessLogs[file].writing && accessLogs[file].fill[accessLogs[file].active] > 0 {
            startLogWrite(file)
        }
    }

    /// Whether lines wait to be written (the loop goes on for them after a drain).
    var accessLogsBusy: Bool {
        accessLogs.indices.contains { accessLogs[$0].writing || accessLogs[$0].fill[accessLogs[$0].active] > 0 }
    }

    /// Hands the active buffer to the kernel; lines go into the other one meanwhile.
    func startLogWrite(_ file: Int) {
        let buffer = accessLogs[file].active
        guard !accessLogs[file].writing, accessLogs[file].fill[buffer] > 0 else { return }
        accessLogs[file].writing = true
        accessLogs[file].written = 0
        accessLogs[file].active = 1 - buffer
        ring.append(fileDescriptor: accessLogs[file].fd, slab: accessLogs[file].buffers, slot: buffer,
                    range: 0..<accessLogs[file].fill[buffer], userData: Token.make(.logWrite, connection: file, generation: 0))
    }

    func onLogWrite(_ completion: Completion) {
        let file = Token.connection(completion.userData)
        guard file < accessLogs.count, accessLogs[file].writing else { return }
        let buffer = 1 - accessLogs[file].active
        let fill = accessLogs[file].fill[buffer]
        if case .done(let count) = completion.outcome, count > 0 {
            accessLogs[file].written += Int(count)
            if accessLogs[file].failing {
                accessLogs[file].failing = false
                StandardError.write("\(name): access log \(accessLogs[file].path): writing again")
            }
            if accessLogs[file].written < fill {
                // A short write: the rest goes next, at the end of the file.
                ring.append(fileDescriptor: accessLogs[file].fd, slab: accessLogs[file].buffers, slot: buffer,
                            range: accessLogs[file].written..<fill,
                            userData: Token.make(.logWrite, connection: file, generation: 0))
                return
            }
        } else {
            // A full disk or a failing one: the buffer's lines are lost, counted, and traffic goes on.
            counters.add(slot: slot, .accessLogLinesDropped, UInt64(accessLogs[file].lines[buffer]))
            if !accessLogs[file].failing {
                accessLogs[file].failing = true
                StandardError.write("\(name): access log \(accessLogs[file].path): "
                                    + "\(SystemError("write", result: completion.result)); dropping lines until it works again")
            }
        }
        accessLogs[file].fill[buffer] = 0
        accessLogs[file].lines[buffer] = 0
        accessLogs[file].writing = false
        if accessLogs[file].reopenPending { reopenAccessLog(file) }
    }

    /// SIGUSR1: open every file again by its path (after a rotation moved it away).
    func reopenAccessLogs() {
        for file in accessLogs.indices {
            if accessLogs[file].writing {
                accessLogs[file].reopenPending = true
            } else {
                reopenAccessLog(file)
            }
        }
    }

    func reopenAccessLog(_ file: Int) {
        accessLogs[file].reopenPending = false
        do {
            let fd = try Files.openForAppending(accessLogs[file].path)
            Files.close(accessLogs[file].fd)
            accessLogs[file].fd = fd
        } catch {
            StandardError.write("\(name): access log: cannot reopen: \(error); still writing to the old file")
        }
    }
}
