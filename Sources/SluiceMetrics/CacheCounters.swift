import SluiceSharedMemory

/// Cache hits and misses per group (API Gateway's CacheHitCount and CacheMissCount): a stage, or
/// in `.method` scope a method of a stage with detailed metrics. One row per worker slot, written
/// by that worker only.
public final class CacheCounters: Sendable {
    public let table: CounterTable
    let scope: MetricScope

    public init(slots: Int, groups: Int, scope: MetricScope = .stage) throws(ZoneError) {
        self.scope = scope
        table = try CounterTable(name: scope.family("cache_counters"), rows: slots, countersPerRow: max(1, groups * 2))
    }

    public func hit(slot: Int, group: Int) { table.add(row: slot, counter: group * 2) }
    public func miss(slot: Int, group: Int) { table.add(row: slot, counter: group * 2 + 1) }

    static let resultLabels = [PrometheusLabels([("result", "hit")]), PrometheusLabels([("result", "miss")])]

    /// `sluice_cache_requests_total{…,result="hit|miss"}` for every group that has labels (the
    /// others are never cached).
    public func write(to page: inout PrometheusText, labels: [PrometheusLabels?]) {
        let name = scope.family("cache_requests_total")
        page.family(name, type: "counter", help: "Requests to cached methods answered from the stage cache (hit) or "
                    + "by the integration (miss), \(scope.per).")
        for (group, labels) in labels.enumerated() {
            guard let labels else { continue }
            for (offset, result) in CacheCounters.resultLabels.enumerated() {
                page.sample(name, labels, result, value: table.sum(counter: group * 2 + offset))
            }
        }
    }
}
