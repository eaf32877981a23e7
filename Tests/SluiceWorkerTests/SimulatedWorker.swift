import Foundation
import SluiceCache
import SluiceConfig
import SluiceMetrics
import SluiceThrottle
import SluiceURing
@testable import SluiceWorker

/// A worker on a simulated ring: the test plays the kernel, the clients and the upstreams, and
/// turns the loop by hand. Nothing is forked and no socket carries a byte.
final class SimulatedWorker {
    let simulator = RingSimulator()
    let worker: Worker

    /// A worker for `sluice.yaml` (`config`) with its API definitions (`files`, path → text).
    init(config: String, files: [String: String]) throws {
        var all = files
        all["sluice.yaml"] = config
        let loopback = HostResolver { _, port in .success([ResolvedAddress(host: "127.0.0.1", port: port, isIPv6: false)]) }
        let result = ConfigLoader.load(path: "sluice.yaml", files: all, allowedCPUs: [0], resolver: loopback)
        guard let deployment = result.deployment else {
            throw SimulationError("configuration: \(result.diagnostics.map(\.description))")
        }
        let slots = deployment.workers.slots.count
        let plan = ThrottlePlan(deployment: deployment)
        let methodGroups = MethodMetricGroups(deployment: deployment)
        var context = WorkerContext(
            slot: 0, tuning: deployment.workers.slots[0], listeners: [-1], deployment: deployment,
            counters: try WorkerCounters(slots: slots),
            stageMetrics: try ScopedMetrics(slots: slots, groups: deployment.stages.count + 1, scope: .stage),
            methodMetrics: try ScopedMetrics(slots: slots, groups: methodGroups.count, scope: .method),
            methodGroups: methodGroups, listenPorts: [8080],
            gate: Gate(plan: plan, zones: try ThrottleZones(plan: plan)),
            rejections: try RejectionCounters(plan: plan, stageCount: deployment.stages.count, slots: slots),
            caches: try deployment.stages.indices.map { stage in
                guard let cache = deployment.stages[stage].cache else { return nil }
                return try CacheZones(name: "cache-\(stage)", capacityBytes: cache.capacityBytes, writers: slots)
            })
        context.simulator = simulator
        worker = try Worker(context: context)
        worker.start()
        try settle()
    }

    /// Turns the loop until nothing is left for it to run.
    func settle() throws {
        repeat {
            _ = try worker.turn()
        } while simulator.hasCompletions
    }

    /// A client connects; returns its socket (a real one that carries nothing, so that the
    /// worker's close closes only what the test gave it).
    func connect() throws -> Int32 {
        let socket = try Socket.makeTCP(ipv6: false)
        simulator.accept(socket)
        try settle()
        return socket
    }

    /// The peer of `socket` sends `text`, `chunk` bytes per receive; returns how many went in.
    @discardableResult
    func send(_ text: String, to socket: Int32, chunk: Int = .max) throws -> Int {
        let count = simulator.send(Array(text.utf8), to: socket, chunk: chunk)
        try settle()
        return count
    }

    /// Everything the worker sends on `socket` until it has nothing more to send; each send
    /// goes out `partial(count)` bytes at a time (all of it by default).
    func drain(_ socket: Int32, partial: (Int) -> Int = { $0 }) throws -> [UInt8] {
        var received: [UInt8] = []
        while let send = simulator.sendInFlight(socket), case .send(_, let bytes) = send.operation {
            received += simulator.completeSend(socket, byteCount: max(1, partial(bytes.count)))
            try settle()
        }
        return received
    }

    /// Moves the clock on by `milliseconds`, a tick (250 ms) at a time, turning the loop at each.
    func advance(milliseconds: Int) throws {
        var left = Int64(milliseconds) * 1_000_000
        while left > 0 {
            let step = min(left, Worker.tickNanoseconds)
            simulator.advance(nanoseconds: step)
            left -= step
            try settle()
        }
    }

    /// Whether the worker holds nothing of any connection: every slot free, every receive buffer
    /// back, no parked head.
    var isQuiescent: Bool {
        worker.openConnections == 0 && worker.receiveBuffers.lentCount == 0 && worker.heldTotal == 0
            && worker.freeParkedHeads.count == worker.parkedHeads.count
    }
}

struct SimulationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A parsed HTTP/1.1 response (enough for the tests: status, headers, a Content-Length body).
struct ParsedResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: String

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The responses in `bytes`, in order; throws on anything incomplete or malformed.
    static func all(in bytes: [UInt8]) throws -> [ParsedResponse] {
        var responses: [ParsedResponse] = []
        var rest = bytes[...]
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        while !rest.isEmpty {
            guard let end = rest.indices.first(where: { rest[$0...].starts(with: separator) }) else {
                throw SimulationError("a response head is incomplete: \(String(decoding: rest, as: UTF8.self))")
            }
            let lines = String(decoding: rest[..<end], as: UTF8.self).components(separatedBy: "\r\n")
            let statusParts = lines[0].split(separator: " ")
            guard statusParts.count >= 2, statusParts[0] == "HTTP/1.1", let status = Int(statusParts[1]) else {
                throw SimulationError("not a status line: \(lines[0])")
            }
            let headers = lines.dropFirst().map { line -> (name: String, value: String) in
                let colon = line.firstIndex(of: ":")!
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            var response = ParsedResponse(status: status, headers: headers, body: "")
            let bodyStart = end + separator.count
            let length = Int(response.header("Content-Length") ?? "0") ?? 0
            guard rest.endIndex - bodyStart >= length else { throw SimulationError("a body is incomplete") }
            response.body = String(decoding: rest[bodyStart..<(bodyStart + length)], as: UTF8.self)
            responses.append(response)
            rest = rest[(bodyStart + length)...]
        }
        return responses
    }
}

/// SplitMix64: a seeded generator, so that a failing run of faults can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
