import SluiceSharedMemory

/// Answers per group — a stage, or the requests no API answered — and status class (API Gateway's
/// Count, 4XXError and 5XXError per API and stage): one row per worker slot, written by that
/// worker only.
public final class RequestCounters: @unchecked Sendable {
    static let classes = ["1xx", "2xx", "3xx", "4xx", "5xx"]
    public let table: CounterTable
    public let groupCount: Int

    public init(slots: Int, groups: Int) throws(ZoneError) {
        groupCount = groups
        table = try CounterTable(name: "request-counters", rows: slots, countersPerRow: groups * 5)
    }

    /// Counts one answer with `status` for `group`. Only the slot's own worker may call this.
    @inlinable
    public func count(slot: Int, group: Int, status: Int) {
        let statusClass = min(4, max(0, status / 100 - 1))
        table.add(row: slot, counter: group * 5 + statusClass)
    }

    /// `sluice_requests_total{api,stage,code}` summed over workers; zero series are written for
    /// every stage's 2xx, 4xx and 5xx so that rates exist from the start.
    public func prometheusText(labels: [[(String, String)]]) -> String {
        precondition(labels.count == groupCount)
        var page = PrometheusText()
        let name = "sluice_requests_total"
        page.family(name, type: "counter", help: "Answers sent, per API, stage and status class (api and stage "
                    + "empty for requests that matched no API).")
        for group in 0..<groupCount {
            for (index, code) in RequestCounters.classes.enumerated() {
                let value = table.sum(counter: group * 5 + index)
                if value == 0 && (index == 0 || index == 2) { continue }
                page.sample(name, labels: labels[group] + [("code", code)], value: value)
            }
        }
        return page.text
    }
}
