import SluiceSharedMemory

/// Answers per group and status class (API Gateway's Count, 4XXError and 5XXError): a group is a
/// stage or the requests no API answered, or, in `.method` scope, a method of a stage with
/// detailed metrics. One row per worker slot, written by that worker only.
public final class RequestCounters: @unchecked Sendable {
    static let classes = ["1xx", "2xx", "3xx", "4xx", "5xx"]
    public static var classCount: Int { classes.count }
    public let table: CounterTable
    public let groupCount: Int
    let scope: MetricScope

    public init(slots: Int, groups: Int, scope: MetricScope = .stage) throws(ZoneError) {
        groupCount = groups
        self.scope = scope
        table = try CounterTable(name: scope.family("requests"), rows: slots, countersPerRow: max(1, groups * 5))
    }

    /// Counts one answer with `status` for `group`. Only the slot's own worker may call this.
    @inlinable
    public func count(slot: Int, group: Int, status: Int) {
        let statusClass = min(4, max(0, status / 100 - 1))
        table.add(row: slot, counter: group * 5 + statusClass)
    }

    static let classLabels = classes.map { PrometheusLabels([("code", $0)]) }

    /// `sluice_requests_total{api,stage,code}` (or the `.method` family) summed over workers, each
    /// group with `labels[group]`; zero series are written for every group's 2xx, 4xx and 5xx so
    /// that rates exist from the start.
    public func write(to page: inout PrometheusText, labels: [PrometheusLabels]) {
        precondition(labels.count == groupCount)
        let name = scope.family("requests_total")
        page.family(name, type: "counter", help: "Answers sent, \(scope.per), by status class"
                    + (scope == .stage ? " (api and stage empty for requests that matched no API)." : "."))
        for group in 0..<groupCount {
            for index in RequestCounters.classes.indices {
                let value = table.sum(counter: group * 5 + index)
                if value == 0 && (index == 0 || index == 2) { continue }
                page.sample(name, labels[group], RequestCounters.classLabels[index], value: value)
            }
        }
    }
}
