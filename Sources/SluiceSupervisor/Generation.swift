import SluiceCache
import SluiceConfig
import SluiceCoordinator
import SluiceMetrics
import SluiceSharedMemory
import SluiceThrottle
import SluiceURing

/// One configuration the supervisor serves: its deployment, the shared zones its workers use,
/// and its workers. A reload makes a new generation next to the one in force; the old one drains
/// and is dropped once its last worker has exited (its zones are unmapped with it, unless the new
/// generation kept them).
final class Generation {
    /// How many generations may have workers at once: the one in force and the ones draining
    /// after reloads. Each takes a lane: its workers write rows `slot + slots × lane` of the
    /// per-writer tables, so that two processes never write one row.
    static let lanes = 4
    /// The Lambda authorizers' result cache, shared by every worker.
    static let authorizerCacheBytes = 8 << 20

    struct Child {
        var pid: Int32 = 0
        var startedAt: Int64 = 0
        var quickDeaths = 0
        var restarts: UInt64 = 0
        var respawnAt: Int64 = -1
    }

    /// 1 for the configuration loaded at start, one more for each applied reload.
    let number: Int
    let lane: Int
    let deployment: Deployment
    let slots: [WorkerTuning]
    let loadedEpochSeconds: Int64
    var workers: [Child]
    /// Once draining: when its workers are killed if they have not exited (monotonic).
    var killAt: Int64 = -1
    /// Its quota counts when a reload carried them into new counters (nil when the counters
    /// were kept): what it counts after that is added to the generation in force when it ends.
    var quotaHandover: [QuotaJournal.Entry]?
    /// The previous generation's counts this one's new counters started from (nil: none carried).
    var carriedQuotas: [QuotaJournal.Entry]?

    /// Answers, latencies and cache results per stage (then the unrouted requests), and per
    /// method of the stages with detailed metrics; the label sets of their series.
    let stageMetrics: ScopedMetrics
    let methodMetrics: ScopedMetrics
    let methodGroups: MethodMetricGroups
    let stageLabels: [PrometheusLabels]
    let methodLabels: [PrometheusLabels]
    let stageCacheLabels: [PrometheusLabels?]
    let methodCacheLabels: [PrometheusLabels?]
    /// Throttle buckets and quota counters (shared with every worker and the coordinator), the
    /// workers' rejection counters, and the journal that keeps quota counts across restarts.
    let gate: Gate
    let rejections: RejectionCounters
    let rejectionLabels: [PrometheusLabels]
    let journal: QuotaJournal
    /// Each stage's response cache (nil without one), shared by every worker.
    let caches: [CacheZones?]
    /// Lambda authorizers' results (nil when none keeps results).
    let authorizerCache: CacheZones?
    /// The issuers' signing keys, published for the workers (nil without `jwt_issuers`).
    let keyFetcher: KeyFetcher?

    /// Maps the zones `deployment` needs. With `previous` (a reload), each zone whose layout
    /// the new configuration leaves unchanged is kept, so that what it holds survives:
    /// - a stage's cache, found by API and stage name, when its capacity is unchanged (a resized
    ///   cache starts empty, as API Gateway's does);
    /// - throttle buckets and quota counters when the throttle plan is unchanged; otherwise quota
    ///   counts are carried over by plan and key name, as the journal carries them over a restart;
    /// - metrics when their series are unchanged, so that counters go on rising;
    /// - the authorizer cache when the authorizers are unchanged.
    init(number: Int, lane: Int, deployment: Deployment, previous: Generation?) throws(ZoneError) {
        self.number = number
        self.lane = lane
        self.deployment = deployment
        slots = deployment.workers.slots
        workers = Array(repeating: Child(), count: slots.count)
        loadedEpochSeconds = Clock.realtimeNanoseconds() / 1_000_000_000
        let writers = slots.count * Generation.lanes
        let stages = deployment.stages

        let stageLabels = stages.map {
            PrometheusLabels([("api", deployment.apis[$0.api].name), ("stage", $0.name)] + $0.canaryLabel)
        }
            + [PrometheusLabels([("api", ""), ("stage", "")])]
        self.stageLabels = stageLabels
        stageCacheLabels = stages.indices.map { stages[$0].cache != nil ? stageLabels[$0] : nil }
        if let previous, Generation.same(previous.stageLabels, stageLabels) {
            stageMetrics = previous.stageMetrics
        } else {
            stageMetrics = try ScopedMetrics(slots: writers, groups: stages.count + 1, scope: .stage)
        }
        let groups = MethodMetricGroups(deployment: deployment)
        methodGroups = groups
        let methodLabels = groups.labels(deployment).map(PrometheusLabels.init)
        self.methodLabels = methodLabels
        methodCacheLabels = groups.members.indices.map { group in
            let member = groups.members[group]
            let cached = stages[member.stage].cacheTTLSeconds(operation: member.operation, in: deployment.operations) > 0
            return cached ? methodLabels[group] : nil
        }
        if let previous, Generation.same(previous.methodLabels, methodLabels) {
            methodMetrics = previous.methodMetrics
        } else {
            methodMetrics = try ScopedMetrics(slots: writers, groups: groups.count, scope: .method)
        }

        let plan = ThrottlePlan(deployment: deployment)
        journal = QuotaJournal(deployment: deployment, plan: plan)
        rejectionLabels = RejectionCounters.rowLabels(plan: plan, deployment: deployment)
        if let previous, previous.gate.plan == plan {
            gate = previous.gate
        } else if let previous, previous.gate.plan.hasSameQuotas(as: plan) {
            // New buckets (they refill within a second), the same quota counters.
            gate = Gate(plan: plan, zones: try ThrottleZones(plan: plan, quotas: previous.gate.quotas.words))
        } else {
            gate = Gate(plan: plan, zones: try ThrottleZones(plan: plan))
            if let previous {
                // Counts carried over by plan and key name; what the previous generation's
                // workers count after this is added when they have exited (`Supervisor.ended`),
                // once this generation has taken over.
                let handover = previous.journal.entries(previous.gate.quotas)
                _ = journal.apply(handover, to: gate.quotas)
                carriedQuotas = handover
            }
        }
        if let previous, previous.gate.plan == plan, Generation.same(previous.rejectionLabels, rejectionLabels) {
            rejections = previous.rejections
        } else {
            rejections = try RejectionCounters(plan: plan, stageCount: stages.count, slots: writers)
        }

        var caches: [CacheZones?] = []
        for stage in stages.indices {
            guard let cache = stages[stage].cache else {
                caches.append(nil)
                continue
            }
            if stages[stage].canaryOf >= 0 {
                // A canary with `use_stage_cache` reads and fills its stage's cache.
                caches.append(caches[stages[stage].canaryOf])
            } else if let previous, let kept = previous.cache(fingerprint: Generation.cacheFingerprint(stage, in: deployment)) {
                caches.append(kept)
            } else {
                caches.append(try CacheZones(name: "cache-\(stage)", capacityBytes: cache.capacityBytes, writers: writers))
            }
        }
        self.caches = caches
        if deployment.authorizers.contains(where: { $0.function != nil && $0.resultTTLSeconds > 0 }) {
            // Results are keyed by authorizer and stage index: kept only when both lists are.
            if let previous, let kept = previous.authorizerCache, previous.deployment.authorizers == deployment.authorizers,
               Generation.stageNames(previous.deployment) == Generation.stageNames(deployment) {
                authorizerCache = kept
            } else {
                authorizerCache = try CacheZones(name: "authorizers", capacityBytes: Generation.authorizerCacheBytes,
                                                 writers: writers)
            }
        } else {
            authorizerCache = nil
        }
        if deployment.jwtIssuers.isEmpty {
            keyFetcher = nil
        } else if let previous, let kept = previous.keyFetcher, previous.deployment.jwtIssuers == deployment.jwtIssuers {
            // The coordinator goes on refreshing the same keys; nothing is fetched again.
            keyFetcher = kept
        } else {
            let fetcher = try KeyFetcher(issuers: deployment.jwtIssuers)
            fetcher.start(nowSeconds: Clock.monotonicCoarseNanoseconds() / 1_000_000_000)
            keyFetcher = fetcher
        }
    }

    /// What a stage's cached answers depend on: its API and stage names, its API's definition
    /// (by hash), its variables, its cache settings and each method's TTL. A reload keeps a
    /// stage's cache only when this is unchanged; otherwise the cache starts empty (a kept cache
    /// would serve answers of the old configuration, and its draining workers would go on
    /// filling it with them).
    struct CacheFingerprint: Equatable {
        var api: String
        var stage: String
        var definitionHash: UInt64
        var variables: [String: String]
        var settings: StageCache?
        var ttls: [Int]
    }

    static func cacheFingerprint(_ stage: Int, in deployment: Deployment) -> CacheFingerprint {
        let info = deployment.stages[stage]
        let api = deployment.apis[info.api]
        let ttls = deployment.operations.indices.filter { deployment.operations[$0].api == info.api }
            .map { info.cacheTTLSeconds(operation: $0, in: deployment.operations) }
        return CacheFingerprint(api: api.name, stage: info.name, definitionHash: api.definitionHash,
                                variables: info.variables, settings: info.cache, ttls: ttls)
    }

    /// This generation's cache of the stage with `fingerprint`, if it has one.
    func cache(fingerprint: CacheFingerprint) -> CacheZones? {
        for index in deployment.stages.indices where caches[index] != nil
            && Generation.cacheFingerprint(index, in: deployment) == fingerprint {
            return caches[index]
        }
        return nil
    }

    static func stageNames(_ deployment: Deployment) -> [String] {
        deployment.stages.map { deployment.apis[$0.api].name + "/" + $0.name }
    }

    /// The row worker `slot` of this generation writes in the per-writer tables.
    func writer(_ slot: Int) -> Int { slot + slots.count * lane }

    var hasWorkers: Bool { workers.contains { $0.pid > 0 } }

    static func same(_ a: [PrometheusLabels], _ b: [PrometheusLabels]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.rendered == $1.rendered }
    }
}
