import SluiceConfig
import SluiceHTTP1

/// `GET /admin/deployments` (the deployment history and what each stage serves) and the
/// stage endpoints, API Gateway's UpdateStage operations on a running gateway:
///
/// - `POST /admin/stages/{api}/{stage}/rollback[?deploymentId=ID]`: the stage serves a recorded
///   deployment's definition (without an id: the one recorded before what it serves now);
/// - `POST /admin/stages/{api}/{stage}/canary?deploymentId=ID&percentTraffic=P[&useStageCache=true]
///   [&variable.NAME=VALUE…]`: sets the stage's canary (without an id: changes the share or
///   settings of the canary it has);
/// - `POST /admin/stages/{api}/{stage}/canary/promote`: the stage serves its canary's
///   definition, with the canary's stage variables, and has no canary any more;
/// - `DELETE /admin/stages/{api}/{stage}/canary`: removes the canary.
///
/// Each change is a reload (`StageChanges`): answered once the new workers serve it, 400 with
/// the reasons when it was refused.
extension Supervisor {
    typealias Answer = AdminUsage.Answer

    func deploymentsAnswer() -> Answer {
        let deployment = current.deployment
        var body = #"{"current":"# + AdminUsage.json(deployment.id) + #","generation":\#(current.number),"items":["#
        body += history.records.reversed().map { record in
            #"{"id":"# + AdminUsage.json(record.id) + #","createdDate":""# + Self.timestamp(record.createdEpochSeconds)
                + #"","description":"# + AdminUsage.json(record.description) + #","sha256":"# + AdminUsage.json(record.sha256)
                + #","files":["# + record.inputs.map { AdminUsage.json($0.path) }.joined(separator: ",") + "]}"
        }.joined(separator: ",")
        body += #"],"stages":["#
        body += deployment.stages.filter { $0.canaryOf < 0 }.map { stage in
            var text = #"{"api":"# + AdminUsage.json(deployment.apis[stage.api].name) + #","stage":"#
                + AdminUsage.json(stage.name) + #","deploymentId":"# + AdminUsage.json(stage.deploymentID ?? deployment.id)
            if let canary = stage.canary {
                text += #","canary":{"deploymentId":"# + AdminUsage.json(canary.deploymentID ?? deployment.id)
                    + #","percentTraffic":\#(canary.percentTraffic),"useStageCache":\#(canary.useStageCache)"#
                    + #","stageVariableOverrides":{"# + canary.stageVariableOverrides.sorted { $0.key < $1.key }
                    .map { AdminUsage.json($0.key) + ":" + AdminUsage.json($0.value) }.joined(separator: ",") + "}}"
            }
            return text + "}"
        }.joined(separator: ",")
        return Answer(status: 200, body: body + "]}")
    }

    /// A stage endpoint; nil when the answer comes with the reload's outcome.
    func stageAnswer(method: HTTPMethod, path: Substring, query: String) -> Answer? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 3, let apiName = PercentDecoding.decode(parts[0]),
              let stageName = PercentDecoding.decode(parts[1]) else {
            return Self.problem(404, "write /admin/stages/{api}/{stage}/rollback or …/canary")
        }
        let deployment = current.deployment
        guard let stage = deployment.stages.first(where: {
            $0.canaryOf < 0 && $0.name == stageName && deployment.apis[$0.api].name == apiName
        }) else {
            return Self.problem(404, "no stage \(apiName)/\(stageName)")
        }
        guard let parameters = AdminUsage.strictParameters(query) else {
            return Self.problem(400, "a query parameter is not validly percent-encoded")
        }
        var change = stageChanges.override(api: apiName, stage: stageName)
        let action = parts.dropFirst(2).joined(separator: "/")
        switch (method, action) {
        case (.post, "rollback"):
            let record: DeploymentRecord
            if let id = parameters["deploymentId"] {
                guard let found = history.record(id: id) else { return Self.problem(404, "no deployment \(id) is recorded") }
                record = found
            } else {
                guard let found = history.record(before: stage.deploymentID ?? deployment.id) else {
                    return Self.problem(409, "no deployment is recorded before the one the stage serves")
                }
                record = found
            }
            guard let source = record.definition(api: apiName) else {
                return Self.problem(409, "deployment \(record.id) has no API \(apiName)")
            }
            // Back to the files in force is no longer a rollback. Variables a promoted canary
            // brought go with the definition they came with.
            change.definition = record.id == deployment.id ? nil : source
            change.variables = [:]
        case (.post, "canary"):
            guard let text = parameters["percentTraffic"], let percent = Double(text), percent.isFinite,
                  (0...100).contains(percent) else {
                return Self.problem(400, "percentTraffic must be a number from 0.0 to 100.0")
            }
            var variables: [String: String] = [:]
            for (name, value) in parameters where name.hasPrefix("variable.") {
                variables[String(name.dropFirst("variable.".count))] = value
            }
            let useStageCache = parameters["useStageCache"] == "true"
            if let id = parameters["deploymentId"] {
                guard let record = history.record(id: id) else { return Self.problem(404, "no deployment \(id) is recorded") }
                guard let source = record.definition(api: apiName) else {
                    return Self.problem(409, "deployment \(id) has no API \(apiName)")
                }
                change.canary = .set(CanaryRelease(source: source, definitionPath: source.path, percentTraffic: percent,
                                                   stageVariableOverrides: variables, useStageCache: useStageCache))
            } else if let canary = stage.canary {
                // The same definition, from the history (a canary sluice.yaml wrote is in the
                // record of the files in force).
                guard let source = history.record(id: canary.deploymentID ?? deployment.id)?.input(canary.definitionPath)
                else { return Self.problem(409, "the canary's deployment is no longer recorded") }
                change.canary = .set(CanaryRelease(source: source, definitionPath: canary.definitionPath,
                                                   percentTraffic: percent,
                                                   stageVariableOverrides: parameters.keys.contains { $0.hasPrefix("variable.") }
                                                       ? variables : canary.stageVariableOverrides,
                                                   useStageCache: parameters["useStageCache"] == nil
                                                       ? canary.useStageCache : useStageCache))
            } else {
                return Self.problem(400, "the stage has no canary: deploymentId is required")
            }
        case (.post, "canary/promote"):
            guard let canary = stage.canary else { return Self.problem(404, "the stage has no canary") }
            guard let source = history.record(id: canary.deploymentID ?? deployment.id)?.input(canary.definitionPath) else {
                return Self.problem(409, "the canary's deployment is no longer recorded")
            }
            change.definition = source
            change.variables.merge(canary.stageVariableOverrides) { $1 }
            change.canary = .removed
        case (.delete, "canary"):
            guard stage.canary != nil else { return Self.problem(404, "the stage has no canary") }
            change.canary = .removed
        case (_, "rollback"), (_, "canary"), (_, "canary/promote"):
            return Self.problem(405, "Method Not Allowed")
        default:
            return Self.problem(404, "no such stage endpoint: \(action)")
        }
        switch reload(trigger: "\(method == .delete ? "DELETE" : "POST") /admin/stages/\(apiName)/\(stageName)/\(action)",
                      changes: stageChanges.replacing(change)) {
        case .starting, .refused:
            return nil
        case .pending:
            return Self.problem(409, "a reload is under way; try again")
        }
    }

    static func problem(_ status: Int, _ message: String) -> Answer {
        Answer(status: status, body: #"{"message":"# + AdminUsage.json(message) + "}")
    }

    /// `2026-12-04T21:54:39Z`.
    static func timestamp(_ epochSeconds: Int64) -> String {
        let seconds = Int(epochSeconds)
        let days = seconds >= 0 ? seconds / 86_400 : -((-seconds + 86_399) / 86_400)
        let (year, month, day) = DateLine.civilDate(daysSinceEpoch: days)
        let time = seconds - days * 86_400
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(time / 3_600)):\(two(time / 60 % 60)):\(two(time % 60))Z"
    }
}
