/// Whose series a table keeps: each stage's (API Gateway's metrics per API and stage), or each
/// method's of the stages that enable detailed metrics (per API, stage, resource and method).
/// The two are separate families, so summing either gives exact totals.
public enum MetricScope: Sendable {
    case stage
    case method

    /// The family's full name: `sluice_requests_total`, `sluice_method_requests_total`.
    func family(_ name: String) -> String {
        switch self {
        case .stage: "sluice_" + name
        case .method: "sluice_method_" + name
        }
    }

    /// What the series are per, for HELP lines.
    var per: String {
        switch self {
        case .stage: "per API and stage"
        case .method: "per API, stage, resource and method (stages with detailed metrics)"
        }
    }
}
