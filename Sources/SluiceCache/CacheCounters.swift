import SluiceConfig
import SluiceMetrics
import SluiceSharedMemory

/// Cache hits and misses per stage (API Gateway's CacheHitCount and CacheMissCount): one row per
/// worker slot, written by that worker only.
public final class CacheCounters: Sendable {
    public let table: CounterTable

    public init(stageCount: Int, slots: Int) throws(ZoneError) {
        table = try CounterTable(name: "cache-counters", rows: slots, countersPerRow: max(1, stageCount * 2))
    }

    public func hit(slot: Int, stage: Int) { table.add(row: slot, counter: stage * 2) }
    public func miss(slot: Int, stage: Int) { table.add(row: slot, counter: stage * 2 + 1) }

    /// `sluice_cache_requests_total{api,stage,result="hit|miss"}` for every stage with a cache.
    public func prometheusText(deployment: Deployment) -> String {
        var text = PrometheusText()
        let name = "sluice_cache_requests_total"
        text.family(name, type: "counter", help: "Requests to cached methods answered from the stage cache (hit) or "
                    + "by the integration (miss), per API and stage.")
        for (index, stage) in deployment.stages.enumerated() where stage.cache != nil {
            for (offset, result) in ["hit", "miss"].enumerated() {
                text.sample(name, labels: [("api", deployment.apis[stage.api].name), ("stage", stage.name),
                                           ("result", result)],
                            value: table.sum(counter: index * 2 + offset))
            }
        }
        return text.text
    }
}
