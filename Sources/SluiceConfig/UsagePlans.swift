import SluiceHTTP1
import Yams

// Throttling, usage plans and API keys as sluice.yaml declares them (docs/throttling.md):
//
//     account_throttling: { rate_limit: 10000, burst_limit: 5000 }
//     apis:
//       - name: petstore
//         stages:
//           prod:
//             throttling: { rate_limit: 1000, burst_limit: 500 }
//             method_settings:
//               "GET /pets": { throttling: { rate_limit: 100, burst_limit: 50 } }
//     usage_plans:
//       gold:
//         stages:
//           - "petstore/prod"
//           - { stage: "petstore/beta", throttle: { "GET /pets": { rate_limit: 10, burst_limit: 5 } } }
//         throttle: { rate_limit: 100, burst_limit: 200 }
//         quota: { limit: 10000, period: DAY, offset: 0 }
//     api_keys:
//       - name: alice
//         value_sha256: "…64 hex digits…"
//         usage_plans: [gold]
//         enabled: true

/// A token bucket as API Gateway configures one: `rateLimit` requests per second (fractional
/// rates allowed) and `burstLimit`, the bucket's size. A rate or burst of 0 admits nothing.
public struct ThrottleSettings: Sendable, Equatable {
    public var ratePerSecond: Double
    public var burst: Int

    public init(ratePerSecond: Double, burst: Int) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
    }

    /// API Gateway's account-level default: 10,000 requests per second, bursts of 5,000.
    public static let accountDefault = ThrottleSettings(ratePerSecond: 10_000, burst: 5_000)
}

/// A throttle for one operation (a method of a resource).
public struct MethodThrottle: Sendable, Equatable {
    /// Index into `Deployment.operations`.
    public var operation: Int
    public var throttle: ThrottleSettings

    public init(operation: Int, throttle: ThrottleSettings) {
        self.operation = operation
        self.throttle = throttle
    }
}

/// A usage plan's quota period.
public enum QuotaPeriodSetting: String, Sendable, Equatable, CaseIterable {
    case day = "DAY"
    case week = "WEEK"
    case month = "MONTH"

    /// The largest `offset` the period allows: the day a period starts (WEEK: 0 = Sunday …
    /// 6 = Saturday; MONTH: 0 = the 1st … 27 = the 28th), as API Gateway's QuotaSettings define it.
    public var offsetMax: Int {
        switch self {
        case .day: 0
        case .week: 6
        case .month: 27
        }
    }
}

/// At most `limit` requests per key in each period (UTC).
public struct QuotaSettings: Sendable, Equatable {
    public var limit: Int
    public var period: QuotaPeriodSetting
    public var offset: Int

    public init(limit: Int, period: QuotaPeriodSetting, offset: Int = 0) {
        self.limit = limit
        self.period = period
        self.offset = offset
    }
}

/// One stage a usage plan covers, with the plan's per-method throttles there.
public struct PlanStage: Sendable, Equatable {
    /// Index into `Deployment.stages`.
    public var stage: Int
    public var methodThrottles: [MethodThrottle]

    public init(stage: Int, methodThrottles: [MethodThrottle] = []) {
        self.stage = stage
        self.methodThrottles = methodThrottles
    }
}

/// `usage_plans.NAME`: throttle and quota for every key of the plan, over the plan's stages.
public struct UsagePlan: Sendable, Equatable {
    public var name: String
    public var stages: [PlanStage]
    public var throttle: ThrottleSettings?
    public var quota: QuotaSettings?

    public init(name: String, stages: [PlanStage], throttle: ThrottleSettings? = nil, quota: QuotaSettings? = nil) {
        self.name = name
        self.stages = stages
        self.throttle = throttle
        self.quota = quota
    }
}

/// `api_keys` entry. The key itself is never configured, only its SHA-256.
public struct APIKey: Sendable, Equatable {
    /// The key's name (API Gateway's key id), for usage reports and logs.
    public var name: String
    /// SHA-256 of the key's value, 32 bytes.
    public var digest: [UInt8]
    /// A disabled key is refused like an unknown one (403).
    public var enabled: Bool
    /// Indices into `Deployment.usagePlans`; no two of them cover the same stage.
    public var plans: [Int]

    public init(name: String, digest: [UInt8], enabled: Bool = true, plans: [Int]) {
        self.name = name
        self.digest = digest
        self.enabled = enabled
        self.plans = plans
    }
}

/// Reads `throttling:` / `throttle:` mappings: `{ rate_limit, burst_limit }`.
struct ThrottleReader {
    let reader: ConfigReader

    static let rateMax = 1_000_000_000.0
    static let burstMax = 1_000_000_000

    func throttle(_ node: Node, _ what: String) -> ThrottleSettings? {
        guard let entries = reader.mapping(node, what) else { return nil }
        var rate: Double?
        var burst: Int?
        var valid = true
        for (key, value) in entries {
            switch key.text ?? "" {
            case "rate_limit":
                if let text = value.text, let parsed = Double(String(text.filter { $0 != "_" })),
                   parsed.isFinite, parsed >= 0, parsed <= Self.rateMax {
                    rate = parsed
                } else {
                    reader.log.error(reader.file, value.line, "\(what).rate_limit must be a number of requests per "
                                     + "second between 0 and \(Int(Self.rateMax)), not '\(value.text ?? value.kindName)'")
                    valid = false
                }
            case "burst_limit":
                if let count = reader.integer(value, "\(what).burst_limit", in: 0...Self.burstMax) {
                    burst = count
                } else {
                    valid = false
                }
            default:
                reader.unknownKey(key, in: what)
            }
        }
        guard valid else { return nil }
        guard let rate, let burst else {
            reader.log.error(reader.file, node.line, "\(what) needs both rate_limit and burst_limit")
            return nil
        }
        return ThrottleSettings(ratePerSecond: rate, burst: burst)
    }
}

/// A `method_settings` key or a usage plan's per-method throttle key, as written: `"GET /pets"`,
/// resolved once the API's operations are known.
struct MethodKey {
    var text: String
    var line: Int

    /// Whether the API has the method, without a word (a stage's method settings on its
    /// canary, or on a recorded deployment's definition, which may lack some of them).
    func names(api: Int, in deployment: Deployment) -> Bool {
        let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2 else { return false }
        let method = parts[0].uppercased()
        return deployment.operations.contains {
            $0.api == api && $0.method == method && $0.resourcePath == String(parts[1])
        }
    }

    /// The operation of API `api` that `METHOD /resource` names (`ANY` for an ANY method); nil
    /// (reported) when there is none.
    func operation(api: Int, in deployment: Deployment, reader: ConfigReader, what: String) -> Int? {
        let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2 else {
            reader.log.error(reader.file, line, "\(what) '\(text)' must be a method and a resource path, such as "
                             + "'GET /pets/{petId}'")
            return nil
        }
        let method = parts[0].uppercased()
        let path = String(parts[1])
        for (index, operation) in deployment.operations.enumerated()
        where operation.api == api && operation.method == method && operation.resourcePath == path {
            return index
        }
        reader.log.error(reader.file, line, "\(what) '\(text)': API '\(deployment.apis[api].name)' has no method "
                         + "\(method) \(path)")
        return nil
    }
}

/// `usage_plans` and `api_keys`, read once every API and stage is known.
struct UsagePlanSection {
    let reader: ConfigReader

    var log: DiagnosticLog { reader.log }

    func read(plans plansNode: Node?, keys keysNode: Node?, into deployment: inout Deployment) {
        var planIndices: [String: Int] = [:]
        if let plansNode, let entries = reader.mapping(plansNode, "usage_plans") {
            for (key, value) in entries {
                guard let name = key.text, !name.isEmpty else {
                    log.error(reader.file, key.line, "a usage plan needs a name")
                    continue
                }
                guard let plan = plan(value, name: name, deployment: deployment) else { continue }
                planIndices[name] = deployment.usagePlans.count
                deployment.usagePlans.append(plan)
            }
        }
        guard let keysNode else { return }
        guard case .sequence(let list) = keysNode else {
            if !keysNode.isNull {
                log.error(reader.file, keysNode.line, "api_keys must be a list, not \(keysNode.kindName)")
            }
            return
        }
        var names: [String: Int] = [:]
        var digests: [[UInt8]: String] = [:]
        for item in list {
            guard let key = apiKey(item, planIndices: planIndices, deployment: deployment) else { continue }
            if let line = names[key.name] {
                log.error(reader.file, item.line, "api key '\(key.name)' is listed twice (line \(line))")
                continue
            }
            if let other = digests[key.digest] {
                log.error(reader.file, item.line, "api key '\(key.name)' has the same value as '\(other)'")
                continue
            }
            names[key.name] = item.line
            digests[key.digest] = key.name
            deployment.apiKeys.append(key)
        }
    }

    private func plan(_ node: Node, name: String, deployment: Deployment) -> UsagePlan? {
        let what = "usage plan '\(name)'"
        guard let entries = reader.mapping(node, what) else { return nil }
        var plan = UsagePlan(name: name, stages: [])
        var valid = true
        var sawStages = false
        let throttles = ThrottleReader(reader: reader)
        for (key, value) in entries {
            switch key.text ?? "" {
            case "stages":
                sawStages = true
                guard case .sequence(let items) = value else {
                    log.error(reader.file, value.line, "\(what): stages must be a list of 'api/stage'")
                    valid = false
                    continue
                }
                for item in items {
                    if let stage = planStage(item, what: what, deployment: deployment) {
                        if plan.stages.contains(where: { $0.stage == stage.stage }) {
                            log.error(reader.file, item.line, "\(what) lists stage "
                                      + "'\(Self.stageLabel(stage.stage, deployment))' twice")
                            valid = false
                        } else {
                            plan.stages.append(stage)
                        }
                    } else {
                        valid = false
                    }
                }
            case "throttle":
                if let throttle = throttles.throttle(value, "\(what) throttle") { plan.throttle = throttle } else { valid = false }
            case "quota":
                if let quota = quota(value, what: what) { plan.quota = quota } else { valid = false }
            default:
                reader.unknownKey(key, in: what)
            }
        }
        if valid && (!sawStages || plan.stages.isEmpty) {
            log.warning(reader.file, node.line, "\(what) covers no stage; its keys are refused everywhere")
        }
        // A stage's canary takes the stage's keys: the plan covers it too. Its requests count
        // against the stage's method throttles (`ThrottlePlan.throttleOperation`).
        for planStage in plan.stages {
            guard let canary = deployment.stages[planStage.stage].canary else { continue }
            plan.stages.append(PlanStage(stage: canary.stage))
        }
        return valid ? plan : nil
    }

    private func planStage(_ node: Node, what: String, deployment: Deployment) -> PlanStage? {
        var stageNode = node
        var throttleNode: Node?
        if let entries = node.entries {
            guard let stageEntry = entries.first(where: { $0.key.text == "stage" }) else {
                log.error(reader.file, node.line, "\(what): a stage entry needs 'stage: api/stage'")
                return nil
            }
            stageNode = stageEntry.value
            for (key, value) in entries where key.text != "stage" {
                if key.text == "throttle" { throttleNode = value } else { reader.unknownKey(key, in: "\(what) stage") }
            }
        }
        guard let label = reader.string(stageNode, "\(what) stage") else { return nil }
        let parts = label.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2,
              let stage = deployment.stages.indices.first(where: {
                  deployment.stages[$0].canaryOf < 0 && deployment.stages[$0].name == parts[1]
                      && deployment.apis[deployment.stages[$0].api].name == parts[0]
              }) else {
            log.error(reader.file, stageNode.line, "\(what): no stage '\(label)' (write 'api/stage', as apis: names them)")
            return nil
        }
        var planStage = PlanStage(stage: stage)
        if let throttleNode, let entries = reader.mapping(throttleNode, "\(what) throttle") {
            let throttles = ThrottleReader(reader: reader)
            for (key, value) in entries {
                let methodKey = MethodKey(text: key.text ?? "", line: key.line)
                // A stage serving a recorded deployment's definition (a rollback) may lack a
                // method the plan names: skipped there, with a word.
                if deployment.stages[stage].deploymentID != nil
                    && !methodKey.names(api: deployment.stages[stage].api, in: deployment) {
                    log.warning(reader.file, key.line, "\(what) throttle '\(methodKey.text)': stage '\(label)' "
                                + "serves deployment \(deployment.stages[stage].deploymentID ?? ""), which has no such "
                                + "method; skipped there")
                    continue
                }
                guard let operation = methodKey.operation(api: deployment.stages[stage].api, in: deployment,
                                                          reader: reader, what: "\(what) throttle"),
                      let throttle = throttles.throttle(value, "\(what) throttle '\(methodKey.text)'") else { return nil }
                guard !planStage.methodThrottles.contains(where: { $0.operation == operation }) else {
                    log.error(reader.file, key.line, "\(what) throttle names '\(methodKey.text)' twice")
                    return nil
                }
                planStage.methodThrottles.append(MethodThrottle(operation: operation, throttle: throttle))
            }
        }
        return planStage
    }

    private func quota(_ node: Node, what: String) -> QuotaSettings? {
        guard let entries = reader.mapping(node, "\(what) quota") else { return nil }
        var limit: Int?
        var period: QuotaPeriodSetting?
        var offset = 0
        var offsetLine = node.line
        var valid = true
        for (key, value) in entries {
            switch key.text ?? "" {
            case "limit":
                limit = reader.integer(value, "\(what) quota limit", in: 0...1_000_000_000_000)
                valid = valid && limit != nil
            case "period":
                period = value.text.flatMap { QuotaPeriodSetting(rawValue: $0.uppercased()) }
                if period == nil {
                    log.error(reader.file, value.line, "\(what) quota period must be DAY, WEEK or MONTH, not "
                              + "'\(value.text ?? value.kindName)'")
                    valid = false
                }
            case "offset":
                offset = reader.integer(value, "\(what) quota offset", in: 0...27) ?? -1
                offsetLine = value.line
                valid = valid && offset >= 0
            default:
                reader.unknownKey(key, in: "\(what) quota")
            }
        }
        guard valid else { return nil }
        guard let limit, let period else {
            log.error(reader.file, node.line, "\(what) quota needs limit and period")
            return nil
        }
        guard offset <= period.offsetMax else {
            log.error(reader.file, offsetLine, "\(what) quota offset must be between 0 and \(period.offsetMax) for "
                      + "\(period.rawValue), not \(offset)")
            return nil
        }
        return QuotaSettings(limit: limit, period: period, offset: offset)
    }

    private func apiKey(_ node: Node, planIndices: [String: Int], deployment: Deployment) -> APIKey? {
        guard let entries = reader.mapping(node, "an api key") else { return nil }
        var name: String?
        var digest: [UInt8]?
        var enabled = true
        var plans: [Int] = []
        var valid = true
        for (key, value) in entries {
            switch key.text ?? "" {
            case "name":
                name = reader.string(value, "api key name")
                valid = valid && name != nil
            case "value_sha256":
                digest = value.text.flatMap(Self.hexDigest)
                if digest == nil {
                    log.error(reader.file, value.line, "value_sha256 must be the key's SHA-256 as 64 hex digits "
                              + "(printf %s KEY | sha256sum)")
                    valid = false
                }
            case "value":
                log.error(reader.file, key.line, "api keys are configured hashed: write value_sha256 (printf %s KEY "
                          + "| sha256sum), not value")
                valid = false
            case "enabled":
                switch value.text {
                case "true": enabled = true
                case "false": enabled = false
                default:
                    log.error(reader.file, value.line, "enabled must be true or false")
                    valid = false
                }
            case "usage_plans":
                guard case .sequence(let items) = value else {
                    log.error(reader.file, value.line, "usage_plans must be a list of plan names")
                    valid = false
                    continue
                }
                for item in items {
                    guard let planName = item.text, let index = planIndices[planName] else {
                        log.error(reader.file, item.line, "no usage plan '\(item.text ?? item.kindName)'")
                        valid = false
                        continue
                    }
                    // API Gateway's rule: one plan per key and stage, so a request meets one throttle
                    // and one quota.
                    for other in plans {
                        for stage in deployment.usagePlans[index].stages
                        where deployment.usagePlans[other].stages.contains(where: { $0.stage == stage.stage }) {
                            log.error(reader.file, item.line, "usage plans '\(deployment.usagePlans[other].name)' and "
                                      + "'\(planName)' both cover stage '\(Self.stageLabel(stage.stage, deployment))'; "
                                      + "a key may be in only one plan per stage")
                            valid = false
                        }
                    }
                    plans.append(index)
                }
            default:
                reader.unknownKey(key, in: "an api key")
            }
        }
        guard valid else { return nil }
        guard let name, let digest else {
            log.error(reader.file, node.line, "an api key needs name and value_sha256")
            return nil
        }
        return APIKey(name: name, digest: digest, enabled: enabled, plans: plans)
    }

    static func stageLabel(_ stage: Int, _ deployment: Deployment) -> String {
        "\(deployment.apis[deployment.stages[stage].api].name)/\(deployment.stages[stage].name)"
    }

    /// 64 hex digits as 32 bytes.
    static func hexDigest(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = PercentDecoding.hexValue(digits[index]), let low = PercentDecoding.hexValue(digits[index + 1])
            else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }
}
