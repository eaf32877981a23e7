import SluiceCache
import SluiceConfig
import SluiceURing
import SluiceWorker

/// The memory a configuration takes: every worker's (`WorkerMemory`) plus the shared zones at
/// their fullest (response caches, the authorizer cache). `check` prints it; `check` and `serve`
/// refuse a configuration whose committed memory is more than the machine has.
public struct MemoryPlan: Sendable {
    public let workers: [WorkerMemory]
    public let zoneBytes: Int

    public init(_ deployment: Deployment) {
        workers = deployment.workers.slots.map { WorkerMemory(tuning: $0, deployment: deployment) }
        // A canary's stage has no cache of its own (it shares its stage's, or has none).
        var zones = deployment.stages.filter { $0.canaryOf < 0 }.compactMap(\.cache)
            .map { CacheZones.bytes(capacityBytes: $0.capacityBytes) }.reduce(0, +)
        if deployment.authorizers.contains(where: { $0.function != nil && $0.resultTTLSeconds > 0 }) {
            zones += CacheZones.bytes(capacityBytes: Generation.authorizerCacheBytes)
        }
        zoneBytes = zones
    }

    public var committedBytes: Int { workers.map(\.committedBytes).reduce(0, +) + zoneBytes }
    public var worstBytes: Int { workers.map(\.worstBytes).reduce(0, +) + zoneBytes }

    /// One line: the sum and its terms.
    public var summary: String {
        let first = workers.first
        let each = first.map { worker in
            "ring \(Self.text(worker.ringBytes)), receive buffers \(Self.text(worker.receiveBufferBytes)), "
                + "connection table \(Self.text(worker.connectionTableBytes)), body buffers \(Self.text(worker.bodyBufferBytes))"
        } ?? ""
        let connections = workers.map(\.connectionSlots).reduce(0, +)
        return "memory: \(Self.text(committedBytes)) (\(workers.count) worker(s), the first: \(each); shared zones "
            + "\(Self.text(zoneBytes))), and up to \(Self.text(worstBytes)) with all \(connections) connection slots full"
    }

    /// Why the machine cannot hold it, or nil.
    public func refusal(memoryBytes: Int) -> String? {
        guard memoryBytes > 0, committedBytes > memoryBytes else { return nil }
        return "the configuration needs \(Self.text(committedBytes)) of memory and this machine has "
            + "\(Self.text(memoryBytes)): lower workers, recv_buffers, recv_buffer_bytes, max_connections, "
            + "limits.buffered_bodies or the caches' capacity_mb"
    }

    static func text(_ bytes: Int) -> String {
        let mebibytes = Double(bytes) / 1_048_576
        if mebibytes >= 1_024 { return "\(Double(Int(mebibytes / 1_024 * 10)) / 10) GiB" }
        return "\(Double(Int(mebibytes * 10)) / 10) MiB"
    }
}
