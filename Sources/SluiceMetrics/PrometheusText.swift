/// Builds a page in the Prometheus text exposition format (version 0.0.4) as bytes. The
/// supervisor keeps one page and clears it for each scrape: label sets are rendered once
/// (`PrometheusLabels`) and numbers written digit by digit, so that a scrape appends bytes and
/// allocates nothing once the buffer has grown. Used by the admin endpoint only, never on the
/// request path.
public struct PrometheusText {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Empties the page, keeping its buffer.
    public mutating func clear() {
        bytes.removeAll(keepingCapacity: true)
    }

    /// The page as a string (for tests and tools).
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Starts a metric family: its `# HELP` and `# TYPE` lines.
    public mutating func family(_ name: String, type: String, help: String) {
        append("# HELP ")
        append(name)
        bytes.append(0x20)
        append(help)
        append("\n# TYPE ")
        append(name)
        bytes.append(0x20)
        append(type)
        bytes.append(0x0A)
    }

    /// One sample: `name{labels,extra} value`.
    public mutating func sample(_ name: String, _ labels: PrometheusLabels = .none, _ extra: PrometheusLabels = .none,
                                value: UInt64) {
        startSample(name, labels, extra)
        appendDecimal(value)
        bytes.append(0x0A)
    }

    /// A sample whose value is a duration, written in seconds with nine decimals.
    public mutating func sampleSeconds(_ name: String, _ labels: PrometheusLabels, nanoseconds: UInt64) {
        startSample(name, labels, .none)
        appendDecimal(nanoseconds / 1_000_000_000)
        bytes.append(0x2E)
        var divisor: UInt64 = 100_000_000
        let fraction = nanoseconds % 1_000_000_000
        while divisor > 0 {
            bytes.append(0x30 + UInt8(fraction / divisor % 10))
            divisor /= 10
        }
        bytes.append(0x0A)
    }

    mutating func startSample(_ name: String, _ labels: PrometheusLabels, _ extra: PrometheusLabels) {
        append(name)
        if !labels.rendered.isEmpty || !extra.rendered.isEmpty {
            bytes.append(0x7B)
            bytes.append(contentsOf: labels.rendered)
            if !labels.rendered.isEmpty && !extra.rendered.isEmpty { bytes.append(0x2C) }
            bytes.append(contentsOf: extra.rendered)
            bytes.append(0x7D)
        }
        bytes.append(0x20)
    }

    mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    mutating func appendDecimal(_ value: UInt64) {
        var divisor: UInt64 = 1
        while value / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            bytes.append(0x30 + UInt8(value / divisor % 10))
            divisor /= 10
        }
    }
}

/// A set of labels rendered once, escaped: `name="value",…` without the braces.
public struct PrometheusLabels: Sendable {
    public let rendered: [UInt8]

    public static let none = PrometheusLabels([])

    public init(_ pairs: [(String, String)]) {
        var rendered: [UInt8] = []
        for (index, pair) in pairs.enumerated() {
            if index > 0 { rendered.append(0x2C) }
            rendered.append(contentsOf: pair.0.utf8)
            rendered.append(contentsOf: "=\"".utf8)
            rendered.append(contentsOf: PrometheusLabels.escape(pair.1).utf8)
            rendered.append(0x22)
        }
        self.rendered = rendered
    }

    /// Escapes a label value: backslash, double quote and newline.
    public static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

/// What the supervisor knows about each worker slot, rendered next to the shared counters.
public struct WorkerSlotFacts: Sendable {
    public var slot: Int
    public var cpu: Int
    public var restarts: UInt64
    public var up: Bool

    public init(slot: Int, cpu: Int, restarts: UInt64, up: Bool) {
        self.slot = slot
        self.cpu = cpu
        self.restarts = restarts
        self.up = up
    }
}

extension WorkerCounters {
    /// Label sets for `slots`, in their order: `worker`, and `worker` with `cpu`.
    public struct Labels: Sendable {
        let worker: [PrometheusLabels]
        let workerAndCPU: [PrometheusLabels]

        public init(slots: [WorkerSlotFacts]) {
            worker = slots.map { PrometheusLabels([("worker", String($0.slot))]) }
            workerAndCPU = slots.map { PrometheusLabels([("worker", String($0.slot)), ("cpu", String($0.cpu))]) }
        }
    }

    static let responseClasses: [(PrometheusLabels, WorkerCounter)] = [
        (PrometheusLabels([("code", "1xx")]), .responses1xx), (PrometheusLabels([("code", "2xx")]), .responses2xx),
        (PrometheusLabels([("code", "3xx")]), .responses3xx), (PrometheusLabels([("code", "4xx")]), .responses4xx),
        (PrometheusLabels([("code", "5xx")]), .responses5xx),
    ]
    static let tlsHandshakeResults: [(PrometheusLabels, WorkerCounter)] = [
        (PrometheusLabels([("result", "full")]), .tlsHandshakesFull),
        (PrometheusLabels([("result", "resumed")]), .tlsHandshakesResumed),
        (PrometheusLabels([("result", "failed")]), .tlsHandshakesFailed),
    ]

    /// The per-worker counters summed from shared memory, plus the supervisor's facts about each slot.
    public func write(to page: inout PrometheusText, slots: [WorkerSlotFacts], labels: Labels, draining: Bool) {
        func perWorker(_ name: String, _ type: String, _ help: String, _ counter: WorkerCounter) {
            page.family(name, type: type, help: help)
            for (position, facts) in slots.enumerated() {
                page.sample(name, labels.worker[position], value: total(slot: facts.slot, counter))
            }
        }
        perWorker("sluice_worker_requests_total", "counter", "Requests whose head was parsed, per worker.", .requests)
        page.family("sluice_worker_responses_total", type: "counter", help: "Responses sent, per worker and status class.")
        for (position, facts) in slots.enumerated() {
            for (code, counter) in WorkerCounters.responseClasses {
                page.sample("sluice_worker_responses_total", labels.worker[position], code,
                            value: total(slot: facts.slot, counter))
            }
        }
        perWorker("sluice_worker_connections_accepted_total", "counter", "Client connections accepted, per worker.",
                  .connectionsAccepted)
        perWorker("sluice_worker_connections_refused_total", "counter",
                  "Connections closed at accept: worker at max_connections, draining, or accept errors.", .connectionsRefused)
        perWorker("sluice_worker_connections_open", "gauge", "Client connections open now, per worker.", .connectionsOpen)
        perWorker("sluice_worker_bad_requests_total", "counter",
                  "Requests refused by the HTTP/1.1 parser (400, 413, 431, 501, 505, 417).", .badRequests)
        perWorker("sluice_worker_receive_buffers_in_use", "gauge", "Provided receive buffers held by the worker.",
                  .receiveBuffersLent)
        perWorker("sluice_worker_requests_in_flight", "gauge", "Requests read and not yet answered, per worker.",
                  .requestsInFlight)
        perWorker("sluice_worker_loop_turns_total", "counter",
                  "Turns of the worker's io_uring loop (one wait for completions each).", .loopTurns)
        perWorker("sluice_worker_completions_total", "counter",
                  "io_uring completions handled; divided by loop turns, the batch size.", .completions)
        perWorker("sluice_access_log_lines_total", "counter", "Access-log lines written into the buffers, per worker.",
                  .accessLogLines)
        perWorker("sluice_access_log_dropped_lines_total", "counter",
                  "Access-log lines lost: buffers full, or the write failed (a full disk), per worker.",
                  .accessLogLinesDropped)
        page.family("sluice_worker_tls_handshakes_total", type: "counter",
                    help: "TLS handshakes on the worker's TLS listeners: completed in full, resumed, or failed.")
        for (position, facts) in slots.enumerated() {
            for (result, counter) in WorkerCounters.tlsHandshakeResults {
                page.sample("sluice_worker_tls_handshakes_total", labels.worker[position], result,
                            value: total(slot: facts.slot, counter))
            }
        }
        perWorker("sluice_worker_tls_connections_open", "gauge", "TLS client connections open now, per worker.",
                  .tlsConnectionsOpen)
        perWorker("sluice_worker_log_write_failures_total", "counter",
                  "Error-log lines the worker could not write to stderr (its reader gone, a full disk), dropped.",
                  .logWriteFailures)
        page.family("sluice_worker_restarts_total", type: "counter", help: "Times the supervisor forked a worker slot again.")
        for (position, facts) in slots.enumerated() {
            page.sample("sluice_worker_restarts_total", labels.worker[position], value: facts.restarts)
        }
        page.family("sluice_worker_up", type: "gauge", help: "1 while the worker slot has a live process.")
        for (position, facts) in slots.enumerated() {
            page.sample("sluice_worker_up", labels.workerAndCPU[position], value: facts.up ? 1 : 0)
        }
        page.family("sluice_draining", type: "gauge", help: "1 once a graceful stop has begun.")
        page.sample("sluice_draining", value: draining ? 1 : 0)
    }
}
