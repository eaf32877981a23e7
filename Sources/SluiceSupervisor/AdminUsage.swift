import SluiceHTTP1
import SluiceThrottle
import SluiceURing

/// `GET /admin/usage?plan=P[&key=K]` (API Gateway's GetUsage, for the current quota period) and
/// `POST /admin/usage/reset?plan=P&key=K`, answered from the quota counters every worker shares.
///
///     {"usagePlanId":"gold","startDate":"2026-11-21","endDate":"2026-11-21",
///      "period":"DAY","limit":1000,"items":{"alice":[[12,988]]}}
///
/// `items` maps each key of the plan (or the one asked for) to `[[used, remaining]]`, the shape
/// GetUsage gives one day; here the one entry is the whole current period. Dates are UTC; the
/// end date is the period's last day.
struct AdminUsage {
    let supervisor: Supervisor

    struct Answer {
        var status: Int
        var body: String
    }

    func answer(reset: Bool, query: String) -> Answer {
        let parameters = AdminUsage.parameters(query)
        guard let planName = parameters["plan"] else {
            return Answer(status: 400, body: #"{"message":"the plan parameter is required"}"#)
        }
        let deployment = supervisor.current.deployment
        let gate = supervisor.current.gate
        guard let planIndex = deployment.usagePlans.firstIndex(where: { $0.name == planName }) else {
            return Answer(status: 404, body: #"{"message":"no usage plan "# + AdminUsage.json(planName) + "}")
        }
        guard let quota = gate.plan.planQuota[planIndex] else {
            return Answer(status: 400, body: #"{"message":"usage plan "# + AdminUsage.json(planName)
                          + #" has no quota"}"#)
        }
        let keyName = parameters["key"]
        if reset && keyName == nil {
            return Answer(status: 400, body: #"{"message":"the key parameter is required"}"#)
        }
        var subscriptions: [(name: String, index: Int)] = []
        for (keyIndex, key) in deployment.apiKeys.enumerated() where keyName == nil || key.name == keyName {
            let subscription = gate.plan.subscription(key: keyIndex, plan: planIndex)
            if subscription >= 0 { subscriptions.append((key.name, subscription)) }
        }
        if let keyName, subscriptions.isEmpty {
            return Answer(status: 404, body: #"{"message":"no key "# + AdminUsage.json(keyName) + " in usage plan "
                          + AdminUsage.json(planName) + "}")
        }
        let now = Int(Clock.realtimeNanoseconds() / 1_000_000_000)
        if reset {
            for subscription in subscriptions { gate.resetUsage(subscription: subscription.index, epochSeconds: now) }
        }
        let period = quota.periodIndex(epochSeconds: now)
        var body = #"{"usagePlanId":"# + AdminUsage.json(planName)
            + #","startDate":""# + AdminUsage.date(quota.periodStart(period))
            + #"","endDate":""# + AdminUsage.date(quota.periodStart(period + 1) - 1)
            + #"","period":""# + quota.period.rawValue + #"","limit":"# + String(quota.limit) + #","items":{"#
        for (position, subscription) in subscriptions.enumerated() {
            let usage = gate.usage(subscription: subscription.index, epochSeconds: now)
            let used = usage?.used ?? 0
            if position > 0 { body += "," }
            body += AdminUsage.json(subscription.name) + ":[[\(used),\(max(0, quota.limit - used))]]"
        }
        body += "}}"
        return Answer(status: 200, body: body)
    }

    /// `name=value` pairs of a query string, percent-decoded (`+` is a space); the first of
    /// repeated names wins.
    static func parameters(_ query: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PercentDecoding.decode(parts[0], plusAsSpace: true) else { continue }
            let value = parts.count > 1 ? PercentDecoding.decode(parts[1], plusAsSpace: true) : ""
            if result[name] == nil, let value { result[name] = value }
        }
        return result
    }

    /// The same, nil when any name or value is not validly percent-encoded (an endpoint that
    /// changes what is served must not take a garbled parameter for a missing one).
    static func strictParameters(_ query: String) -> [String: String]? {
        var result: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PercentDecoding.decode(parts[0], plusAsSpace: true),
                  let value = parts.count > 1 ? PercentDecoding.decode(parts[1], plusAsSpace: true) : "" else { return nil }
            if result[name] == nil { result[name] = value }
        }
        return result
    }

    /// A JSON string literal.
    static func json(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// `yyyy-MM-dd` (UTC) of an instant in epoch seconds.
    static func date(_ epochSeconds: Int) -> String {
        let days = epochSeconds >= 0 ? epochSeconds / 86_400 : -((-epochSeconds + 86_399) / 86_400)
        let (year, month, day) = DateLine.civilDate(daysSinceEpoch: days)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day))"
    }
}
