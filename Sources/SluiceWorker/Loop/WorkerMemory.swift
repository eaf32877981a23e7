import SluiceConfig

/// The memory a worker takes, computed from its settings as `Worker.init` sizes its tables, for
/// `check` and for the supervisor to refuse a configuration the machine cannot hold. Buffers are
/// mapped lazily; what is counted as committed is what a worker under load soon touches whole.
public struct WorkerMemory: Sendable, Equatable {
    /// The ring's queues and the provided-buffer ring (kernel memory).
    public var ringBytes: Int
    /// The provided receive buffers: the kernel fills them in turn, so all are soon in use.
    public var receiveBufferBytes: Int
    /// One record per connection slot (clients, then upstream connections).
    public var connectionTableBytes: Int
    /// The whole-body buffers (validation, templates, compression), used in turn.
    public var bodyBufferBytes: Int
    /// What each open connection adds at its fullest (its carry-over and output buffers), and
    /// how many connection slots there are.
    public var perConnectionBytes: Int
    public var connectionSlots: Int

    public var committedBytes: Int { ringBytes + receiveBufferBytes + connectionTableBytes + bodyBufferBytes }
    /// Every connection slot at its fullest too.
    public var worstBytes: Int { committedBytes + perConnectionBytes * connectionSlots }

    public init(tuning: WorkerTuning, deployment: Deployment) {
        let limits = deployment.limits
        // Submission entries, completion entries (twice as many) and the submission index array.
        ringBytes = tuning.ringEntries * (64 + 2 * 16 + 4) + tuning.recvBuffers * 16
        receiveBufferBytes = tuning.recvBuffers * tuning.recvBufferBytes
        let upstreamSlots = min(65_536, deployment.upstreams.count * deployment.upstreamPool.connectionsMax)
        connectionSlots = tuning.maxConnections + upstreamSlots
        connectionTableBytes = connectionSlots * MemoryLayout<Connection>.stride
        bodyBufferBytes = limits.bufferedBodiesMax * limits.bufferedBodyBytesMax
        perConnectionBytes = limits.request.headBytesMax + tuning.recvBufferBytes
            + max(Worker.outputBufferBytes, limits.request.headBytesMax + 2048)
    }
}
