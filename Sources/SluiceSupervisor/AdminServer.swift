import SluiceHTTP1
import SluiceURing

/// The admin listener, served by the supervisor's own ring: `GET /healthz` (liveness),
/// `GET /readyz` (readiness), `GET /metrics`, the usage endpoints (`AdminUsage`),
/// `DELETE /admin/cache/{api}/{stage}`, `POST /admin/reload` (as SIGHUP, answered with the outcome),
/// `GET /admin/deployments` and the stage endpoints (`AdminStages`), and `POST /admin/drain` (a
/// stop, as SIGTERM).
/// One request per connection (`Connection: close`), which is all that health checkers and
/// Prometheus need; a bounded number of connections, each with bounded buffers.
final class AdminServer {
    static let connectionsMax = 32
    static let requestBytesMax = 16_384
    /// The smallest answer buffer per connection; the supervisor asks for more when its
    /// `/metrics` page may be larger (`Supervisor.metricsPageBytesMax`). Mapped lazily.
    static let responseBytesMin = 4 << 20
    /// An admin exchange taking longer than this is cut off, so that stalled clients cannot hold
    /// the few admin slots.
    static let exchangeNanosecondsMax: Int64 = 5_000_000_000

    struct AdminConnection {
        var fd: Int32 = -1
        var openedAt: Int64 = 0
        var shutDown = false
        var received = 0
        var responseLength = 0
        var sent = 0
        /// A `POST /admin/reload` waiting for the reload's outcome (`answerReloads`).
        var awaitingReload = false
        /// The request was HEAD: its answer has no body (kept per connection, since the parsed
        /// head is the last request's by the time a deferred answer goes out).
        var headOnly = false
    }

    let ring: Ring
    let listener: Int32
    let input: ByteSlab
    let output: ByteSlab
    var connections: [AdminConnection]
    /// Accepting failed (out of descriptors): try again at the next tick rather than at once.
    var acceptPaused = false
    var parser: RequestHeadParser
    var head = RequestHead()

    init(ring: Ring, listener: Int32, responseBytesMax: Int) throws(SystemError) {
        self.ring = ring
        self.listener = listener
        input = try ByteSlab(slotCount: AdminServer.connectionsMax, slotBytes: AdminServer.requestBytesMax)
        output = try ByteSlab(slotCount: AdminServer.connectionsMax,
                              slotBytes: max(AdminServer.responseBytesMin, responseBytesMax))
        connections = Array(repeating: AdminConnection(), count: AdminServer.connectionsMax)
        parser = RequestHeadParser(limits: RequestLimits(headBytesMax: AdminServer.requestBytesMax, headersMax: 64,
                                                         bodyBytesMax: 0))
    }

    func start() {
        ring.multishotAccept(listener: listener, userData: SupervisorToken.adminAccept.rawValue)
    }

    /// In a forked child: the child must not hold admin sockets open.
    func closeConnections() {
        for connection in connections where connection.fd >= 0 { Socket.close(connection.fd) }
    }

    /// Cuts off exchanges that took too long. Shutting the socket down completes the receive or
    /// send in flight, and its completion closes the slot; closing here could let a late
    /// completion meet the slot's next connection.
    func onTick(now: Int64) {
        if acceptPaused {
            acceptPaused = false
            start()
        }
        // A reload's handover ends within `Supervisor.handoverNanosecondsMax`, and then answers.
        for slot in connections.indices where connections[slot].fd >= 0 && !connections[slot].shutDown
            && !connections[slot].awaitingReload && now - connections[slot].openedAt > AdminServer.exchangeNanosecondsMax {
            connections[slot].shutDown = true
            Socket.shutdown(connections[slot].fd)
        }
    }

    func token(_ kind: SupervisorToken, _ slot: Int) -> UInt64 { kind.rawValue | UInt64(slot) << 8 }

    func handle(_ completion: Completion, supervisor: Supervisor) {
        let slot = Int(completion.userData >> 8)
        switch SupervisorToken(rawValue: completion.userData & SupervisorToken.mask) {
        case .adminAccept:
            if completion.result >= 0 { open(fd: completion.result) }
            if !completion.hasMore {
                if completion.result >= 0 { start() } else { acceptPaused = true }
            }
        case .adminReceive:
            received(slot, result: Int(completion.result), supervisor: supervisor)
        case .adminSend:
            sent(slot, result: Int(completion.result))
        default:
            break
        }
    }

    func open(fd: Int32) {
        guard let slot = connections.firstIndex(where: { $0.fd < 0 }) else {
            Socket.close(fd)
            return
        }
        connections[slot] = AdminConnection(fd: fd, openedAt: Clock.monotonicCoarseNanoseconds())
        receive(slot)
    }

    func receive(_ slot: Int) {
        let connection = connections[slot]
        ring.receive(socket: connection.fd, slab: input, slot: slot,
                     range: connection.received..<AdminServer.requestBytesMax, userData: token(.adminReceive, slot))
    }

    func close(_ slot: Int) {
        Socket.close(connections[slot].fd)
        connections[slot] = AdminConnection()
    }

    func received(_ slot: Int, result: Int, supervisor: Supervisor) {
        guard result > 0 else {
            close(slot)
            return
        }
        connections[slot].received += result
        parser.reset()
        let outcome = input.withBytes(slot: slot, range: 0..<connections[slot].received) { bytes in
            parser.parse(bytes, into: &head)
        }
        switch outcome {
        case .incomplete:
            if connections[slot].received < AdminServer.requestBytesMax { receive(slot) } else { close(slot) }
        case .failed(let error):
            respond(slot, status: error.status, contentType: "application/json", body: #"{"message":"Bad Request"}"#)
        case .complete:
            route(slot, supervisor: supervisor)
        }
    }

    func route(_ slot: Int, supervisor: Supervisor) {
        connections[slot].headOnly = head.method == .head
        let path = input.withBytes(slot: slot, range: head.path) { bytes in
            var text = ""
            for index in bytes.indices { text.unicodeScalars.append(UnicodeScalar(bytes[index])) }
            return text
        }
        if path.hasPrefix("/admin/cache/") {
            guard head.method == .delete else {
                respond(slot, status: 405, contentType: "application/json", body: #"{"message":"Method Not Allowed"}"#)
                return
            }
            let answer = supervisor.flushCache(path: path.dropFirst("/admin/cache/".count))
            respond(slot, status: answer.status, contentType: "application/json", body: answer.body)
            return
        }
        if path == "/admin/usage" || path == "/admin/usage/reset" {
            let reset = path == "/admin/usage/reset"
            guard head.method == (reset ? .post : .get) else {
                respond(slot, status: 405, contentType: "application/json", body: #"{"message":"Method Not Allowed"}"#)
                return
            }
            let query = input.withBytes(slot: slot, range: head.query) { bytes in
                String(decoding: (0..<bytes.count).map { bytes[$0] }, as: UTF8.self)
            }
            let answer = AdminUsage(supervisor: supervisor).answer(reset: reset, query: query)
            respond(slot, status: answer.status, contentType: "application/json", body: answer.body)
            return
        }
        if path.hasPrefix("/admin/stages/") {
            let query = queryText(slot)
            answerWhenKnown(slot) {
                supervisor.stageAnswer(method: head.method, path: path.dropFirst("/admin/stages/".count), query: query)
            }
            return
        }
        if path == "/admin/deployments" {
            guard head.method == .get else { return refuseMethod(slot) }
            respond(slot, supervisor.deploymentsAnswer())
            return
        }
        if path == "/admin/reload" {
            guard head.method == .post else { return refuseMethod(slot) }
            answerWhenKnown(slot) { supervisor.reloadAnswer() }
            return
        }
        if path == "/admin/drain" {
            guard head.method == .post else {
                respond(slot, status: 405, contentType: "application/json", body: #"{"message":"Method Not Allowed"}"#)
                return
            }
            supervisor.requestStop()
            respond(slot, status: 202, contentType: "application/json", body: #"{"draining":true}"#)
            return
        }
        guard head.method == .get || head.method == .head else {
            respond(slot, status: 405, contentType: "application/json", body: #"{"message":"Method Not Allowed"}"#)
            return
        }
        switch path {
        case "/healthz", "/readyz":
            let healthy = path == "/healthz" ? supervisor.isHealthy : supervisor.isReady
            if healthy {
                respond(slot, status: 200, contentType: "text/plain", body: path == "/healthz" ? "ok\n" : "ready\n")
            } else if supervisor.stopRequested || supervisor.draining {
                respond(slot, status: 503, contentType: "text/plain", body: "draining\n")
            } else {
                respond(slot, status: 503, contentType: "text/plain",
                        body: path == "/healthz" ? "no worker serving\n" : "not every worker serving\n")
            }
        case "/metrics":
            supervisor.writeMetricsPage()
            let page = supervisor.metricsPage.bytes
            respond(slot, status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: page.span)
        default:
            respond(slot, status: 404, contentType: "application/json", body: #"{"message":"Not Found"}"#)
        }
    }

    /// Runs an endpoint whose answer may come with a reload's outcome (nil: later, from
    /// `answerReloads`, which may also have answered already).
    func answerWhenKnown(_ slot: Int, _ endpoint: () -> AdminUsage.Answer?) {
        connections[slot].awaitingReload = true
        if let answer = endpoint(), connections[slot].awaitingReload {
            connections[slot].awaitingReload = false
            respond(slot, answer)
        }
    }

    func respond(_ slot: Int, _ answer: AdminUsage.Answer) {
        respond(slot, status: answer.status, contentType: "application/json", body: answer.body)
    }

    func refuseMethod(_ slot: Int) {
        respond(slot, status: 405, contentType: "application/json", body: #"{"message":"Method Not Allowed"}"#)
    }

    func queryText(_ slot: Int) -> String {
        input.withBytes(slot: slot, range: head.query) { bytes in
            String(decoding: (0..<bytes.count).map { bytes[$0] }, as: UTF8.self)
        }
    }

    /// Answers every `POST /admin/reload` waiting for the outcome of the reload under way.
    func answerReloads(status: Int, body: String) {
        for slot in connections.indices where connections[slot].fd >= 0 && connections[slot].awaitingReload {
            connections[slot].awaitingReload = false
            respond(slot, status: status, contentType: "application/json", body: body)
        }
    }

    func respond(_ slot: Int, status: Int, contentType: String, body: String) {
        let bytes = Array(body.utf8)
        respond(slot, status: status, contentType: contentType, body: bytes.span)
    }

    func respond(_ slot: Int, status: Int, contentType: String, body: Span<UInt8>) {
        let head = Array(("HTTP/1.1 \(status) \(ResponseHead.reasonPhrase(status))\r\nContent-Type: \(contentType)\r\n"
                          + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n").utf8)
        let includeBody = !connections[slot].headOnly
        let written = output.write(slot: slot, offset: 0) { writer in
            writer.append(head.span)
            if includeBody { writer.append(body) }
        }
        guard !written.overflowed else {
            close(slot)
            return
        }
        connections[slot].responseLength = written.byteCount
        connections[slot].sent = 0
        send(slot)
    }

    func send(_ slot: Int) {
        let connection = connections[slot]
        ring.send(socket: connection.fd, slab: output, slot: slot, range: connection.sent..<connection.responseLength,
                  userData: token(.adminSend, slot))
    }

    func sent(_ slot: Int, result: Int) {
        guard connections[slot].fd >= 0 else { return }
        guard result > 0 else {
            close(slot)
            return
        }
        connections[slot].sent += result
        if connections[slot].sent < connections[slot].responseLength { send(slot) } else { close(slot) }
    }
}
