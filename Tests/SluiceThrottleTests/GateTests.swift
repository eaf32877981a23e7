import SluiceConfig
import SluiceCrypto
import SluiceSharedMemory
import SluiceThrottle
import SluiceURing
import Testing

/// The key, throttle and quota steps over a small deployment built in code: API 0 with
/// operations 0 (GET /a) and 1 (GET /b), both requiring a key, and 2 (GET /open) without;
/// stages 0 (prod, a stage throttle of burst 3) and 1 (qa).
@Suite("Gate: keys, throttles in AWS order, quotas")
struct GateTests {
    static let second: Int64 = 1_000_000_000
    static let now: Int64 = 1_000 * second
    static let day = 20_000 * 86_400

    static func key(_ text: String) -> KeyDigest {
        let bytes = Array(text.utf8)
        return KeyDigest(SHA256.digest(bytes.span))
    }

    static func digestBytes(_ text: String) -> [UInt8] {
        let words = key(text).words
        return [words.0, words.1, words.2, words.3].flatMap { word in (0..<8).reversed().map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } }
    }

    func deployment(quota: QuotaSettings? = nil) -> Deployment {
        var deployment = Deployment()
        deployment.apis = [API(name: "api", definitionFile: "api.yaml")]
        let mock = Integration.unsupported("test")
        deployment.operations = [
            Operation(api: 0, resourcePath: "/a", method: "GET", integration: mock, apiKeyRequired: true),
            Operation(api: 0, resourcePath: "/b", method: "GET", integration: mock, apiKeyRequired: true),
            Operation(api: 0, resourcePath: "/open", method: "GET", integration: mock),
        ]
        deployment.stages = [
            Stage(api: 0, name: "prod", throttle: ThrottleSettings(ratePerSecond: 1, burst: 3)),
            Stage(api: 0, name: "qa"),
        ]
        deployment.usagePlans = [
            UsagePlan(name: "gold", stages: [
                PlanStage(stage: 0, methodThrottles: [MethodThrottle(operation: 0, throttle: ThrottleSettings(ratePerSecond: 1, burst: 2))]),
            ], throttle: ThrottleSettings(ratePerSecond: 1, burst: 10)),
            UsagePlan(name: "metered", stages: [PlanStage(stage: 1)], quota: quota),
        ]
        deployment.apiKeys = [
            APIKey(name: "alice", digest: Self.digestBytes("k-alice"), plans: [0]),
            APIKey(name: "dave", digest: Self.digestBytes("k-dave"), enabled: false, plans: [0]),
            APIKey(name: "carol", digest: Self.digestBytes("k-carol"), plans: [1]),
        ]
        return deployment
    }

    func gate(_ deployment: Deployment) throws -> Gate {
        let plan = ThrottlePlan(deployment: deployment)
        return Gate(plan: plan, zones: try ThrottleZones(plan: plan))
    }

    func words(_ gate: Gate) -> [UInt64] { (0..<gate.plan.bucketCount).map { gate.buckets.words.load($0) } }

    @Test func theDigestOfAKnownVector() {
        // FIPS 180-2's "abc".
        let words = Self.key("abc").words
        #expect([words.0, words.1, words.2, words.3] == [0xBA78_16BF_8F01_CFEA, 0x4141_40DE_5DAE_2223,
                                                         0xB003_61A3_9617_7A9C, 0xB410_FF61_F200_15AD])
        #expect(Self.key("abc") == KeyDigest(bytes: Self.digestBytes("abc")))
        #expect(Self.key("abc") != Self.key("abd"))
    }

    @Test func keysAreRequiredKnownEnabledAndInAPlanForTheStage() throws {
        let gate = try gate(deployment())
        func admission(_ operation: Int, _ stage: Int, _ key: String?) -> Admission {
            gate.admit(operation: operation, stage: stage, key: key.map(Self.key), monotonicNanoseconds: Self.now,
                       epochSeconds: Self.day).admission
        }
        #expect(admission(2, 1, nil) == .admitted)
        #expect(admission(1, 1, nil) == .forbidden)
        #expect(admission(1, 1, "k-nobody") == .forbidden)
        #expect(admission(1, 0, "k-dave") == .forbidden)
        #expect(admission(1, 1, "k-alice") == .forbidden)      // gold covers prod only
        #expect(admission(1, 1, "k-carol") == .admitted)
        #expect(admission(1, 0, "k-alice") == .admitted)
        let verdict = gate.admit(operation: 1, stage: 0, key: Self.key("k-alice"), monotonicNanoseconds: Self.now,
                                 epochSeconds: Self.day)
        #expect(verdict.subscription == 0 && verdict.planStage == 0)
    }

    @Test func aLaterThrottleRefusingGivesBackWhatEarlierOnesAdmitted() throws {
        let gate = try gate(deployment())
        let alice = Self.key("k-alice")
        func admission(_ operation: Int) -> Admission {
            gate.admit(operation: operation, stage: 0, key: alice, monotonicNanoseconds: Self.now, epochSeconds: Self.day)
                .admission
        }
        // GET /a: the key's method throttle (burst 2) refuses the third, before the stage's.
        #expect(admission(0) == .admitted)
        #expect(admission(0) == .admitted)
        var before = words(gate)
        #expect(admission(0) == .throttled)
        #expect(words(gate) == before)
        // The stage (burst 3) has one left for GET /b, then refuses; the key's plan bucket
        // (burst 10) gets its admission back.
        #expect(admission(1) == .admitted)
        before = words(gate)
        #expect(admission(1) == .throttled)
        #expect(words(gate) == before)
        // Without a key, the stage and the account still apply.
        #expect(gate.admit(operation: 2, stage: 0, key: nil, monotonicNanoseconds: Self.now, epochSeconds: Self.day)
            .admission == .throttled)
        #expect(gate.admit(operation: 2, stage: 0, key: nil, monotonicNanoseconds: Self.now + Self.second,
                           epochSeconds: Self.day).admission == .admitted)
    }

    @Test func aQuotaAdmitsItsLimitPerPeriodAndRollsOverAtTheBoundary() throws {
        let gate = try gate(deployment(quota: QuotaSettings(limit: 3, period: .day)))
        let carol = Self.key("k-carol")
        let endOfDay = Self.day + 86_399
        func admission(_ epochSeconds: Int) -> Admission {
            gate.admit(operation: 0, stage: 1, key: carol, monotonicNanoseconds: Self.now, epochSeconds: epochSeconds)
                .admission
        }
        #expect((0..<3).map { _ in admission(Self.day) } == [.admitted, .admitted, .admitted])
        let before = words(gate)
        #expect(admission(endOfDay) == .quotaExceeded)
        #expect(words(gate) == before)
        #expect(gate.usage(subscription: 2, epochSeconds: endOfDay)! == (3, 3, Self.day, Self.day + 86_400))
        // The next UTC day starts from 0, on the first request, without anyone rolling it over.
        #expect(admission(endOfDay + 1) == .admitted)
        #expect(gate.usage(subscription: 2, epochSeconds: endOfDay + 1)!.used == 1)
        gate.resetUsage(subscription: 2, epochSeconds: endOfDay + 1)
        #expect(gate.usage(subscription: 2, epochSeconds: endOfDay + 1)!.used == 0)
    }

    @Test func indicesAreTheSameInEveryProcessThatBuildsThePlan() {
        let first = ThrottlePlan(deployment: deployment())
        let second = ThrottlePlan(deployment: deployment())
        #expect(first.limits == second.limits)
        // Account, prod stage, alice and dave: gold's throttle + its one method throttle each.
        #expect(first.bucketCount == 1 + 1 + 2 * 2)
        #expect(first.subscriptionCount == 3)
        #expect(first.subscription(key: 2, plan: 1) == 2)
        #expect(first.subscription(key: 2, plan: 0) == -1)
    }
}

@Suite("Quota counters: counts carried over a reload")
struct QuotaCarryTests {
    @Test func addingCountsTheSamePeriodStartsANewOneAndLeavesALaterOneAlone() throws {
        let counters = QuotaCounters(words: try SharedWords(name: "quota-carry-test", count: 1))
        counters.set(0, period: 10, count: 5)
        counters.add(0, period: 10, count: 3)
        #expect(counters.used(0, period: 10) == 8)
        counters.add(0, period: 11, count: 2)
        #expect(counters.used(0, period: 11) == 2 && counters.used(0, period: 10) == 0)
        counters.add(0, period: 10, count: 7)   // an earlier period: the later one stays
        #expect(counters.used(0, period: 11) == 2)
        counters.add(0, period: 11, count: 0)
        #expect(counters.used(0, period: 11) == 2)
    }
}
