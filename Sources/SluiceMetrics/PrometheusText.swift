/// Builds the Prometheus text exposition format (version 0.0.4). Used by the admin endpoint only,
/// never on the request path.
public struct PrometheusText {
    public private(set) var text = ""

    public init() {}

    /// Starts a metric family: its `# HELP` and `# TYPE` lines.
    public mutating func family(_ name: String, type: String, help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    /// One sample: `name{label="value",…} value`.
    public mutating func sample(_ name: String, labels: [(String, String)] = [], value: UInt64) {
        text += name
        text += PrometheusText.labelText(labels)
        text += " \(value)\n"
    }

    /// `{name="value",…}`, or nothing without labels.
    static func labelText(_ labels: [(String, String)]) -> String {
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { "\($0.0)=\"\(PrometheusText.escape($0.1))\"" }.joined(separator: ",") + "}"
    }

    mutating func appendLine(_ line: String) {
        text += line
        text += "\n"
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
    /// The `/metrics` page: per-worker counters summed from shared memory plus process facts.
    public func prometheusText(slots: [WorkerSlotFacts], draining: Bool) -> String {
        var page = PrometheusText()
        func perWorker(_ name: String, _ type: String, _ help: String, _ counter: WorkerCounter) {
            page.family(name, type: type, help: help)
            for facts in slots {
                page.sample(name, labels: [("worker", String(facts.slot))], value: load(slot: facts.slot, counter))
            }
        }
        perWorker("sluice_worker_requests_total", "counter", "Requests whose head was parsed, per worker.", .requests)
        page.family("sluice_worker_responses_total", type: "counter", help: "Responses sent, per worker and status class.")
        let classes: [(String, WorkerCounter)] = [("1xx", .responses1xx), ("2xx", .responses2xx), ("3xx", .responses3xx),
                                                  ("4xx", .responses4xx), ("5xx", .responses5xx)]
        for facts in slots {
            for (code, counter) in classes {
                page.sample("sluice_worker_responses_total", labels: [("worker", String(facts.slot)), ("code", code)],
                            value: load(slot: facts.slot, counter))
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
        page.family("sluice_worker_restarts_total", type: "counter", help: "Times the supervisor forked a worker slot again.")
        for facts in slots {
            page.sample("sluice_worker_restarts_total", labels: [("worker", String(facts.slot))], value: facts.restarts)
        }
        page.family("sluice_worker_up", type: "gauge", help: "1 while the worker slot has a live process.")
        for facts in slots {
            page.sample("sluice_worker_up", labels: [("worker", String(facts.slot)), ("cpu", String(facts.cpu))],
                        value: facts.up ? 1 : 0)
        }
        page.family("sluice_draining", type: "gauge", help: "1 once a graceful stop has begun.")
        page.sample("sluice_draining", value: draining ? 1 : 0)
        return page.text
    }
}
