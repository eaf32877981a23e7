import SluiceSharedMemory

/// Latency histograms in shared memory, one row per worker slot (single writer each, like the
/// counters): fixed buckets chosen for a gateway, from 100 µs to 30 s, per group — a stage, or the
/// requests no API answered, or in `.method` scope a method of a stage with detailed metrics —
/// so that a scrape shows them per API and stage (or per resource and method).
public final class LatencyHistograms: @unchecked Sendable {
    public enum Kind: Int, CaseIterable, Sendable {
        /// From a request's complete head to its complete answer (API Gateway's Latency).
        case request
        /// From handing a request to the integration to its answer's head (IntegrationLatency).
        case integration
        /// The authorizer step of a method with an authorizer or IAM, a Lambda authorizer's
        /// invocation included (AuthorizerLatency).
        case authorizer

        var name: String {
            switch self {
            case .request: "request_duration_seconds"
            case .integration: "integration_duration_seconds"
            case .authorizer: "authorizer_duration_seconds"
            }
        }

        var help: String {
            switch self {
            case .request: "Time from a request's complete head to its complete answer"
            case .integration: "Time from handing a request to its integration to the integration's answer"
            case .authorizer: "Time the authorizer step took, a Lambda authorizer's invocation included"
            }
        }
    }

    /// Upper bounds of the buckets in nanoseconds; a last, unbounded bucket follows.
    public static let boundsNanoseconds: [Int64] = [
        100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000,
        100_000_000, 250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 5_000_000_000, 10_000_000_000,
        30_000_000_000,
    ]
    static let boundLabels = ["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                              "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30"]
    /// Per kind: one word per bucket (the last unbounded), the sum in nanoseconds, the count.
    static let wordsPerKind = boundsNanoseconds.count + 3

    let table: CounterTable
    public let slotCount: Int
    public let groupCount: Int
    let scope: MetricScope
    /// Per kind: the family's name and its samples' (`_bucket`, `_sum`, `_count`).
    let familyNames: [(family: String, bucket: String, sum: String, count: String)]

    public init(slots: Int, groups: Int, scope: MetricScope = .stage) throws(ZoneError) {
        slotCount = slots
        groupCount = groups
        self.scope = scope
        familyNames = Kind.allCases.map { kind in
            let family = scope.family(kind.name)
            return (family, family + "_bucket", family + "_sum", family + "_count")
        }
        table = try CounterTable(name: scope.family("latency_histograms"), rows: slots,
                                 countersPerRow: max(1, groups * Kind.allCases.count * LatencyHistograms.wordsPerKind))
    }

    /// Records one observation for `group`. Only the slot's own worker may call this.
    public func observe(slot: Int, group: Int, _ kind: Kind, nanoseconds: Int64) {
        let base = (group * Kind.allCases.count + kind.rawValue) * LatencyHistograms.wordsPerKind
        var bucket = 0
        let bounds = LatencyHistograms.boundsNanoseconds
        while bucket < bounds.count && nanoseconds > bounds[bucket] { bucket += 1 }
        table.add(row: slot, counter: base + bucket)
        table.add(row: slot, counter: base + bounds.count + 1, UInt64(max(0, nanoseconds)))
        table.add(row: slot, counter: base + bounds.count + 2)
    }

    static let boundLabelSets = (boundLabels + ["+Inf"]).map { PrometheusLabels([("le", $0)]) }

    /// The histograms summed over every worker, in Prometheus text format, labelled per group
    /// (`labels[group]`); groups nothing was observed in are left out.
    public func write(to page: inout PrometheusText, labels: [PrometheusLabels]) {
        precondition(labels.count == groupCount)
        let bounds = LatencyHistograms.boundsNanoseconds
        for (kind, names) in zip(Kind.allCases, familyNames) {
            page.family(names.family, type: "histogram", help: "\(kind.help), \(scope.per).")
            for group in 0..<groupCount {
                let base = (group * Kind.allCases.count + kind.rawValue) * LatencyHistograms.wordsPerKind
                let count = table.sum(counter: base + bounds.count + 2)
                guard count > 0 else { continue }
                var cumulative: UInt64 = 0
                for bucket in 0...bounds.count {
                    cumulative &+= table.sum(counter: base + bucket)
                    page.sample(names.bucket, labels[group], LatencyHistograms.boundLabelSets[bucket], value: cumulative)
                }
                page.sampleSeconds(names.sum, labels[group], nanoseconds: table.sum(counter: base + bounds.count + 1))
                page.sample(names.count, labels[group], value: count)
            }
        }
    }
}
