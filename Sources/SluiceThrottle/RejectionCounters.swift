import SluiceConfig
import SluiceMetrics
import SluiceSharedMemory

/// Requests refused by the key, throttle and quota steps, per stage and, when the request's key
/// was identified, per usage plan: one row per worker slot, written by that worker only.
public final class RejectionCounters: Sendable {
    /// Columns per stage and per plan stage: forbidden (key), throttled, quota exceeded.
    static let reasons = 3
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

    /// `sluice_rejected_requests_total{api,stage,plan,reason}`, summed over workers, for every
    /// stage and plan stage (zeros included, so that series exist from the start).
    public func prometheusText(plan: ThrottlePlan, deployment: Deployment) -> String {
        var text = PrometheusText()
        let name = "sluice_rejected_requests_total"
        text.family(name, type: "counter", help: "Requests refused by the API key (reason=\"key\"), throttle or quota "
                    + "steps, per API, stage and usage plan (plan=\"\" when no key was identified).")
        let reasonNames = ["key", "throttle", "quota"]
        func emit(row: Int, stage: Int, planName: String) {
            let stageInfo = deployment.stages[stage]
            for reason in 0..<Self.reasons {
                // A request is refused for its key before any plan is known.
                if reason == 0 && !planName.isEmpty { continue }
                text.sample(name, labels: [("api", deployment.apis[stageInfo.api].name), ("stage", stageInfo.name),
                                           ("plan", planName), ("reason", reasonNames[reason])],
                            value: table.sum(counter: row * Self.reasons + reason))
            }
        }
        for stage in 0..<stageCount { emit(row: stage, stage: stage, planName: "") }
        for index in plan.planStagePlan.indices {
            emit(row: stageCount + index, stage: Int(plan.planStageStage[index]),
                 planName: deployment.usagePlans[Int(plan.planStagePlan[index])].name)
        }
        return text.text
    }
}
