import SluiceConfig
import SluiceSharedMemory

/// The outcome of the key, throttle and quota steps for one request.
public enum Admission: Sendable, Equatable {
    case admitted
    /// Missing, unknown or disabled key, or a key no plan of which covers the stage: 403.
    case forbidden
    /// A throttle refused the request: 429 Too Many Requests.
    case throttled
    /// The key's quota for the period is used up: 429 Limit Exceeded.
    case quotaExceeded
}

/// A request's admission and, when a key was accepted, the plan stage it was counted under
/// (for the rejection metrics) and its subscription.
public struct Verdict: Sendable, Equatable {
    public var admission: Admission
    /// Index into `ThrottlePlan.planStagePlan`, or -1 when no key was identified.
    public var planStage: Int32
    public var subscription: Int32

    init(_ admission: Admission, planStage: Int32 = -1, subscription: Int32 = -1) {
        self.admission = admission
        self.planStage = planStage
        self.subscription = subscription
    }
}

/// The pipeline's key, throttle and quota steps, over the buckets and quota counters every
/// process shares. Lock-free: each bucket and counter is one word updated by compare-and-swap.
public struct Gate: Sendable {
    public let plan: ThrottlePlan
    public let buckets: ThrottleBuckets
    public let quotas: QuotaCounters

    public init(plan: ThrottlePlan, zones: ThrottleZones) {
        self.plan = plan
        buckets = ThrottleBuckets(words: zones.buckets)
        quotas = QuotaCounters(words: zones.quotas)
    }

    /// Decides on one request for (`operation`, `stage`). `key` is the digest of the key it
    /// presented, when it presented one; `monotonicNanoseconds` drives the buckets,
    /// `epochSeconds` (UTC) the quota periods.
    ///
    /// Throttles are passed in API Gateway's order — the key's per-method throttle, the key's,
    /// the stage's per-method throttle, the stage's, the account's — and a request refused by a
    /// later one gives back what the earlier ones admitted, as it does when its quota is used up.
    public func admit(operation: Int, stage: Int, key: KeyDigest?, monotonicNanoseconds now: Int64,
                      epochSeconds: Int) -> Verdict {
        var order = InlineArray<5, Int32>(repeating: -1)
        var subscription = -1
        var planStage: Int32 = -1
        if plan.requiresKey(operation: operation) {
            guard let key else { return Verdict(.forbidden) }
            let keyIndex = plan.key(key)
            guard keyIndex >= 0, plan.keyEnabled[keyIndex] else { return Verdict(.forbidden) }
            let grant = plan.grant(key: keyIndex, stage: stage)
            guard grant >= 0 else { return Verdict(.forbidden) }
            subscription = Int(plan.grantSubscription[grant])
            planStage = plan.grantPlanStage[grant]
            order[0] = plan.subscriptionMethodBucket(subscription, stage: Int(plan.throttleStage[stage]),
                                                     operation: Int(plan.throttleOperation[operation]))
            order[1] = plan.subscriptionBucket[subscription]
        }
        // A canary's requests count against its stage's throttles (`ThrottlePlan.throttleStage`).
        order[2] = plan.stageMethodBucket(stage: Int(plan.throttleStage[stage]),
                                          operation: Int(plan.throttleOperation[operation]))
        order[3] = plan.stageBucket[Int(plan.throttleStage[stage])]
        order[4] = ThrottlePlan.accountBucket
        let verdictSubscription = Int32(subscription)
        for step in 0..<5 {
            let bucket = Int(order[step])
            guard bucket >= 0 else { continue }
            if !buckets.admit(plan.limits[bucket], bucket: bucket, now: now) {
                refund(order, before: step, now: now)
                return Verdict(.throttled, planStage: planStage, subscription: verdictSubscription)
            }
        }
        if subscription >= 0, let quota = plan.planQuota[Int(plan.subscriptionPlan[subscription])] {
            let period = quota.periodIndex(epochSeconds: epochSeconds)
            if !quotas.consume(subscription, period: period, limit: quota.limit) {
                refund(order, before: 5, now: now)
                return Verdict(.quotaExceeded, planStage: planStage, subscription: verdictSubscription)
            }
        }
        return Verdict(.admitted, planStage: planStage, subscription: verdictSubscription)
    }

    private func refund(_ order: InlineArray<5, Int32>, before end: Int, now: Int64) {
        for step in 0..<end {
            let bucket = Int(order[step])
            if bucket >= 0 { buckets.refund(plan.limits[bucket], bucket: bucket, now: now) }
        }
    }

    // MARK: Usage (the admin endpoints)

    /// Requests counted against `subscription` in the current period, and the period's bounds
    /// (epoch seconds, end exclusive); nil when its plan has no quota.
    public func usage(subscription: Int, epochSeconds: Int) -> (used: Int, limit: Int, start: Int, end: Int)? {
        guard let quota = plan.planQuota[Int(plan.subscriptionPlan[subscription])] else { return nil }
        let period = quota.periodIndex(epochSeconds: epochSeconds)
        return (quotas.used(subscription, period: period), quota.limit, quota.periodStart(period),
                quota.periodStart(period + 1))
    }

    /// Starts the current period's count of `subscription` again from 0.
    public func resetUsage(subscription: Int, epochSeconds: Int) {
        guard let quota = plan.planQuota[Int(plan.subscriptionPlan[subscription])] else { return }
        quotas.set(subscription, period: quota.periodIndex(epochSeconds: epochSeconds), count: 0)
    }
}

/// The shared-memory zones of the throttle feature, mapped by the supervisor before it forks:
/// one word per bucket and one per quota counter.
public final class ThrottleZones: Sendable {
    public let buckets: SharedWords
    public let quotas: SharedWords

    /// `quotas`: the counters of an earlier configuration with the same quota layout
    /// (`ThrottlePlan.hasSameQuotas`), kept; nil maps new ones.
    public init(plan: ThrottlePlan, quotas kept: SharedWords? = nil) throws(ZoneError) {
        buckets = try SharedWords(name: "throttle-buckets", count: plan.bucketCount)
        if let kept {
            quotas = kept
        } else {
            quotas = try SharedWords(name: "quota-counters", count: plan.subscriptionCount)
        }
    }
}
