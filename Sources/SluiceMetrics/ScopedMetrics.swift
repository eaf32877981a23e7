import SluiceSharedMemory

/// The tables one scope keeps in shared memory, per group (see `MetricScope`): answers by status
/// class, latency histograms, and cache hits and misses.
public struct ScopedMetrics: Sendable {
    public let requests: RequestCounters
    public let latencies: LatencyHistograms
    public let cache: CacheCounters

    public init(slots: Int, groups: Int, scope: MetricScope) throws(ZoneError) {
        requests = try RequestCounters(slots: slots, groups: groups, scope: scope)
        latencies = try LatencyHistograms(slots: slots, groups: groups, scope: scope)
        cache = try CacheCounters(slots: slots, groups: groups, scope: scope)
    }
}
