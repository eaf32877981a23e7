import SluiceConfig

/// The SHA-256 of an API key as four words (the digest's bytes in order, big-endian words).
public struct KeyDigest: Sendable, Equatable {
    public var words: (UInt64, UInt64, UInt64, UInt64)

    public init(_ words: (UInt64, UInt64, UInt64, UInt64)) {
        self.words = words
    }

    /// From the 32 bytes the configuration holds.
    public init(bytes: [UInt8]) {
        precondition(bytes.count == 32)
        func word(_ at: Int) -> UInt64 { bytes[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        words = (word(0), word(8), word(16), word(24))
    }

    /// Equality in time that does not depend on where the digests differ.
    @inlinable
    public func equalsInConstantTime(_ other: KeyDigest) -> Bool {
        ((words.0 ^ other.words.0) | (words.1 ^ other.words.1) | (words.2 ^ other.words.2)
         | (words.3 ^ other.words.3)) == 0
    }

    public static func == (a: KeyDigest, b: KeyDigest) -> Bool { a.equalsInConstantTime(b) }
}

/// Every throttle, key and quota of a deployment, compiled into flat tables that every process
/// builds alike from the same configuration: a bucket or a counter has the same index in each
/// worker, in the coordinator and in the supervisor.
///
/// Buckets: 0 is the account's; then each stage's throttle, each stage method throttle, and per
/// subscription (a key in a usage plan) the plan's throttle and each of the plan's method
/// throttles. Quota counters: one per subscription.
public struct ThrottlePlan: Sendable, Equatable {
    /// Indexed by bucket.
    public let limits: [RateLimit]
    public var bucketCount: Int { limits.count }
    /// Subscriptions: a key's membership in a plan; each has one quota counter.
    public let subscriptionKey: [Int32]
    public let subscriptionPlan: [Int32]
    public var subscriptionCount: Int { subscriptionKey.count }

    static let accountBucket: Int32 = 0

    /// Whether quota counter `i` means the same (key, plan and quota) in both plans, so that
    /// one set of counters serves both.
    public func hasSameQuotas(as other: ThrottlePlan) -> Bool {
        subscriptionKey == other.subscriptionKey && subscriptionPlan == other.subscriptionPlan
            && planQuota == other.planQuota && keyDigests == other.keyDigests
    }

    /// By operation.
    let keyRequired: [Bool]
    /// By operation: whether its API takes the key from the `x-api-key` header.
    let keyFromHeader: [Bool]
    /// By stage: its bucket, or -1.
    let stageBucket: [Int32]
    /// By stage and by operation: whose throttles a request counts against. A canary's stage
    /// counts against its stage's (as on API Gateway, where the canary shares the stage's
    /// limits), and a canary's method against the stage's method with the same method and path;
    /// every other stage and operation against its own.
    let throttleStage: [Int32]
    let throttleOperation: [Int32]
    /// By stage: its method throttles are `stageMethodStart[s]..<stageMethodStart[s + 1]`.
    let stageMethodStart: [Int32]
    let stageMethodOperation: [Int32]
    let stageMethodBucket: [Int32]

    /// Keys in configuration order, and an open-addressed index on the digest's first word.
    let keyDigests: [KeyDigest]
    let keyEnabled: [Bool]
    let keySlots: [Int32]
    let keySlotMask: Int
    /// By key: its grants are `grantStart[k]..<grantStart[k + 1]`; a grant is one stage of one
    /// of the key's plans, with the subscription and the plan stage it belongs to.
    let grantStart: [Int32]
    let grantStage: [Int32]
    let grantSubscription: [Int32]
    let grantPlanStage: [Int32]

    /// By subscription: the plan throttle's bucket (or -1) and where its method buckets start.
    let subscriptionBucket: [Int32]
    let subscriptionMethodBase: [Int32]
    /// By plan: its quota, and its method throttles `planMethodStart[p]..<planMethodStart[p + 1]`.
    public let planQuota: [Quota?]
    let planMethodStart: [Int32]
    let planMethodStage: [Int32]
    let planMethodOperation: [Int32]
    /// Every (plan, stage) pair the plans cover, in plan order: the plan and the stage.
    public let planStagePlan: [Int32]
    public let planStageStage: [Int32]

    public init(deployment: Deployment) {
        var limits = [RateLimit(deployment.accountThrottle)]
        func newBucket(_ settings: ThrottleSettings) -> Int32 {
            limits.append(RateLimit(settings))
            return Int32(limits.count - 1)
        }
        keyRequired = deployment.operations.map(\.apiKeyRequired)
        throttleStage = deployment.stages.indices.map { Int32(deployment.stages[$0].canaryOf >= 0 ? deployment.stages[$0].canaryOf : $0) }
        throttleOperation = deployment.operations.indices.map { index in
            let operation = deployment.operations[index]
            // The API of a canary's stage: its operations map onto its stage's API's.
            guard let twin = deployment.stages.first(where: { $0.api == operation.api && $0.canaryOf >= 0 }) else {
                return Int32(index)
            }
            let primaryAPI = deployment.stages[twin.canaryOf].api
            return Int32(deployment.operations.indices.first {
                deployment.operations[$0].api == primaryAPI && deployment.operations[$0].method == operation.method
                    && deployment.operations[$0].resourcePath == operation.resourcePath
            } ?? index)
        }
        keyFromHeader = deployment.operations.map { deployment.apis[$0.api].apiKeySource == .header }

        var stageBucket: [Int32] = []
        var stageMethodStart: [Int32] = [0]
        var stageMethodOperation: [Int32] = []
        var stageMethodBucket: [Int32] = []
        for stage in deployment.stages {
            stageBucket.append(stage.throttle.map(newBucket) ?? -1)
            for method in stage.methodThrottles {
                stageMethodOperation.append(Int32(method.operation))
                stageMethodBucket.append(newBucket(method.throttle))
            }
            stageMethodStart.append(Int32(stageMethodOperation.count))
        }
        self.stageBucket = stageBucket
        self.stageMethodStart = stageMethodStart
        self.stageMethodOperation = stageMethodOperation
        self.stageMethodBucket = stageMethodBucket

        var planMethodStart: [Int32] = [0]
        var planMethodStage: [Int32] = []
        var planMethodOperation: [Int32] = []
        var planStagePlan: [Int32] = []
        var planStageStage: [Int32] = []
        var planStageBase: [Int] = []
        for (planIndex, plan) in deployment.usagePlans.enumerated() {
            planStageBase.append(planStagePlan.count)
            for planStage in plan.stages {
                planStagePlan.append(Int32(planIndex))
                planStageStage.append(Int32(planStage.stage))
                for method in planStage.methodThrottles {
                    planMethodStage.append(Int32(planStage.stage))
                    planMethodOperation.append(Int32(method.operation))
                }
            }
            planMethodStart.append(Int32(planMethodStage.count))
        }
        planQuota = deployment.usagePlans.map { $0.quota.map(Quota.init) }
        self.planMethodStart = planMethodStart
        self.planMethodStage = planMethodStage
        self.planMethodOperation = planMethodOperation
        self.planStagePlan = planStagePlan
        self.planStageStage = planStageStage

        var subscriptionKey: [Int32] = []
        var subscriptionPlan: [Int32] = []
        var subscriptionBucket: [Int32] = []
        var subscriptionMethodBase: [Int32] = []
        var grantStart: [Int32] = [0]
        var grantStage: [Int32] = []
        var grantSubscription: [Int32] = []
        var grantPlanStage: [Int32] = []
        for (keyIndex, key) in deployment.apiKeys.enumerated() {
            for planIndex in key.plans {
                let plan = deployment.usagePlans[planIndex]
                let subscription = Int32(subscriptionKey.count)
                subscriptionKey.append(Int32(keyIndex))
                subscriptionPlan.append(Int32(planIndex))
                subscriptionBucket.append(plan.throttle.map(newBucket) ?? -1)
                subscriptionMethodBase.append(Int32(limits.count))
                for planStage in plan.stages {
                    for method in planStage.methodThrottles { _ = newBucket(method.throttle) }
                }
                for (offset, planStage) in plan.stages.enumerated() {
                    grantStage.append(Int32(planStage.stage))
                    grantSubscription.append(subscription)
                    grantPlanStage.append(Int32(planStageBase[planIndex] + offset))
                }
            }
            grantStart.append(Int32(grantStage.count))
        }
        self.subscriptionKey = subscriptionKey
        self.subscriptionPlan = subscriptionPlan
        self.subscriptionBucket = subscriptionBucket
        self.subscriptionMethodBase = subscriptionMethodBase
        self.grantStart = grantStart
        self.grantStage = grantStage
        self.grantSubscription = grantSubscription
        self.grantPlanStage = grantPlanStage

        keyDigests = deployment.apiKeys.map { KeyDigest(bytes: $0.digest) }
        keyEnabled = deployment.apiKeys.map(\.enabled)
        // Twice as many slots as keys, at least 2: a lookup ends at the first empty slot.
        var capacity = 2
        while capacity < 2 * keyDigests.count { capacity <<= 1 }
        var slots = [Int32](repeating: -1, count: capacity)
        for (index, digest) in keyDigests.enumerated() {
            var slot = Int(truncatingIfNeeded: digest.words.0) & (capacity - 1)
            while slots[slot] >= 0 { slot = (slot + 1) & (capacity - 1) }
            slots[slot] = Int32(index)
        }
        keySlots = slots
        keySlotMask = capacity - 1
        self.limits = limits
    }

    /// Whether requests for `operation` need a key, and whether it comes from the header.
    public func requiresKey(operation: Int) -> Bool { keyRequired[operation] }

    public func takesKeyFromHeader(operation: Int) -> Bool { keyFromHeader[operation] }

    /// The key whose digest this is, or -1. The digest decides the slot to start from; the
    /// digests compared along the way are compared in constant time.
    func key(_ digest: KeyDigest) -> Int {
        var slot = Int(truncatingIfNeeded: digest.words.0) & keySlotMask
        while true {
            let key = Int(keySlots[slot])
            if key < 0 { return -1 }
            if keyDigests[key].equalsInConstantTime(digest) { return key }
            slot = (slot + 1) & keySlotMask
        }
    }

    /// The grant of `key` for `stage`, or -1 when none of the key's plans covers the stage.
    func grant(key: Int, stage: Int) -> Int {
        var grant = Int(grantStart[key])
        let end = Int(grantStart[key + 1])
        while grant < end {
            if Int(grantStage[grant]) == stage { return grant }
            grant += 1
        }
        return -1
    }

    /// The bucket of the stage's method throttle for `operation`, or -1.
    func stageMethodBucket(stage: Int, operation: Int) -> Int32 {
        var index = Int(stageMethodStart[stage])
        let end = Int(stageMethodStart[stage + 1])
        while index < end {
            if Int(stageMethodOperation[index]) == operation { return stageMethodBucket[index] }
            index += 1
        }
        return -1
    }

    /// The bucket of the subscription's per-method throttle for (`stage`, `operation`), or -1.
    func subscriptionMethodBucket(_ subscription: Int, stage: Int, operation: Int) -> Int32 {
        let plan = Int(subscriptionPlan[subscription])
        let start = Int(planMethodStart[plan])
        var index = start
        let end = Int(planMethodStart[plan + 1])
        while index < end {
            if Int(planMethodStage[index]) == stage && Int(planMethodOperation[index]) == operation {
                return subscriptionMethodBase[subscription] + Int32(index - start)
            }
            index += 1
        }
        return -1
    }

    /// The index of the key whose digest this is (in `Deployment.apiKeys`), or -1.
    public func keyIndex(_ digest: KeyDigest) -> Int { key(digest) }

    /// Whether `digest` is an enabled key in a usage plan that covers `stage` (the right to
    /// refresh the stage's cache with `Cache-Control: max-age=0`).
    public func keyCovers(_ digest: KeyDigest, stage: Int) -> Bool {
        let key = key(digest)
        return key >= 0 && keyEnabled[key] && grant(key: key, stage: stage) >= 0
    }

    /// The subscription of key `key` (by configuration index) in plan `plan`, or -1.
    public func subscription(key: Int, plan: Int) -> Int {
        for index in subscriptionKey.indices where Int(subscriptionKey[index]) == key && Int(subscriptionPlan[index]) == plan {
            return index
        }
        return -1
    }
}

extension RateLimit {
    public init(_ settings: ThrottleSettings) {
        self.init(ratePerSecond: settings.ratePerSecond, burst: settings.burst)
    }
}
