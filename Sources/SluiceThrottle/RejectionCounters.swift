import SluiceConfig
import SluiceMetrics
import SluiceSharedMemory

/// Requests refused by the authorizer, key, throttle and quota steps, per stage and, when the
/// request's key was identified, per usage plan: one row per worker slot, written by that worker
/// only.
public final class RejectionCounters: Sendable {
    /// Columns per stage and per plan stage: forbidden (key), throttled, quota exceeded, refused
    /// by the authorizer or IAM, and by request validation (the last two: stages only).
    static let reasons = 5
    public let table: CounterTable
    let stageCount: Int

    public init(plan: ThrottlePlan, stageCount: Int, slots: Int) throws(ZoneError) {
        self.stageCount = stageCount
        table = try CounterTable(name: "rejections", rows: slots,
                                 countersPerRow: max(1, (stageCount + plan.planStagePlan.count) * Self.reasons))
    }

    /// Counts a refused request of `stage` (nothing for an admitted one).
    public func count(slot: Int, stage: Int, _ verdict: Verdict) {
        let reason: Int
        switch verdict.admission {
        case .admitted: return
        case .forbidden: reason = 0
        case .throttled: reason = 1
        case .quotaExceeded: reason = 2
        }
        let row = verdict.planStage >= 0 ? stageCount + Int(verdict.planStage) : stage
        table.add(row: slot, counter: row * RejectionCounters.reasons + reason)
    }

    /// Counts a request of `stage` that its authorizer or IAM refused.
    public func countAuthorization(slot: Int, stage: Int) {
        table.add(row: slot, counter: stage * RejectionCounters.reasons + 3)
    }

    /// Counts a request of `stage` that request validation refused.
    public func countValidation(slot: Int, stage: Int) {
        table.add(row: slot, counter: stage * RejectionCounters.reasons + 4)
    }

    static let reasonLabels = ["key", "throttle", "quota", "auth", "validation"].map { PrometheusLabels([("reason", $0)]) }

    /// The labels of each row: every stage's `api`, `stage` and `plan=""`, then every plan
    /// stage's, with its plan's name.
    public static func rowLabels(plan: ThrottlePlan, deployment: Deployment) -> [PrometheusLabels] {
        func labels(stage: Int, planName: String) -> PrometheusLabels {
            let stageInfo = deployment.stages[stage]
            return PrometheusLabels([("api", deployment.apis[stageInfo.api].name), ("stage", stageInfo.name),
                                     ("plan", planName)] + stageInfo.canaryLabel)
        }
        return deployment.stages.indices.map { labels(stage: $0, planName: "") }
            + plan.planStagePlan.indices.map { index in
                labels(stage: Int(plan.planStageStage[index]),
                       planName: deployment.usagePlans[Int(plan.planStagePlan[index])].name)
            }
    }

    /// `sluice_rejected_requests_total{api,stage,plan,reason}`, summed over workers, for every
    /// stage and plan stage (zeros included, so that series exist from the start); `labels` are
    /// `rowLabels`.
    public func write(to page: inout PrometheusText, labels: [PrometheusLabels]) {
        let name = "sluice_rejected_requests_total"
        page.family(name, type: "counter", help: "Requests refused by the authorizer or IAM (reason=\"auth\"), the API "
                    + "key (reason=\"key\"), throttle or quota steps, per API, stage and usage plan (plan=\"\" when "
                    + "no key was identified).")
        for (row, rowLabels) in labels.enumerated() {
            for reason in 0..<Self.reasons {
                // A request is refused for its key or its authorization before any plan is known.
                if (reason == 0 || reason == 3) && row >= stageCount { continue }
                page.sample(name, rowLabels, Self.reasonLabels[reason], value: table.sum(counter: row * Self.reasons + reason))
            }
        }
    }
}
