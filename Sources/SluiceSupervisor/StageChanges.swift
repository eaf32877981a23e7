import SluiceConfig
import SluiceURing

/// The admin endpoints' changes to stages — rollbacks, canaries set, promoted or removed —
/// and where they are kept: `state_dir/stages` (when the state folder is in use), with the id of
/// the files they were made on. They last until those files change (a new deployment), which
/// then rules, as a new deployment to an API Gateway stage replaces what it served.
struct StageChanges {
    static let header = "sluice-stages 1"

    /// The files' deployment id the changes were made on.
    var base = ""
    var overrides: [StageOverride] = []

    /// The change to one stage (empty when none).
    func override(api: String, stage: String) -> StageOverride {
        overrides.first { $0.api == api && $0.stage == stage } ?? StageOverride(api: api, stage: stage)
    }

    /// With `change` in place of the stage's earlier change (none left when it changes nothing).
    func replacing(_ change: StageOverride) -> StageChanges {
        var changed = self
        changed.overrides.removeAll { $0.api == change.api && $0.stage == change.stage }
        if !change.isEmpty { changed.overrides.append(change) }
        return changed
    }

    // MARK: The file

    static func encode(_ changes: StageChanges) -> [UInt8] {
        typealias Escape = DeploymentHistory
        var text = header + "\nbase\t\(changes.base)\n"
        for change in changes.overrides {
            text += "stage\t\(Escape.escaped(change.api))\t\(Escape.escaped(change.stage))\n"
            if let definition = change.definition {
                text += "definition\t\(definition.deploymentID)\t\(Escape.escaped(definition.path))\n"
            }
            for (name, value) in change.variables.sorted(by: { $0.key < $1.key }) {
                text += "variable\t\(Escape.escaped(name))\t\(Escape.escaped(value))\n"
            }
            switch change.canary {
            case .none: break
            case .removed: text += "canary\tremoved\n"
            case .set(let release):
                text += "canary\tset\t\(release.source?.deploymentID ?? "-")\t\(Escape.escaped(release.definitionPath))\t"
                    + "\(release.percentTraffic)\t\(release.useStageCache ? 1 : 0)\n"
                for (name, value) in release.stageVariableOverrides.sorted(by: { $0.key < $1.key }) {
                    text += "canary-variable\t\(Escape.escaped(name))\t\(Escape.escaped(value))\n"
                }
            }
        }
        return Array((text + "end\n").utf8)
    }

    /// Reads the file back, the definitions taken from `history`. Nil when it is not a stages
    /// file, or names a deployment the history no longer has.
    static func decode(_ bytes: [UInt8], history: DeploymentHistory) -> StageChanges? {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == Substring(header) else { return nil }
        var changes = StageChanges()
        for line in lines.dropFirst() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                .map { DeploymentHistory.unescaped(String($0)) }
            switch fields.first {
            case "base" where fields.count == 2:
                changes.base = fields[1]
            case "stage" where fields.count == 3:
                changes.overrides.append(StageOverride(api: fields[1], stage: fields[2]))
            case "definition" where fields.count == 3 && !changes.overrides.isEmpty:
                guard let source = history.record(id: fields[1])?.input(fields[2]) else { return nil }
                changes.overrides[changes.overrides.count - 1].definition = source
            case "variable" where fields.count == 3 && !changes.overrides.isEmpty:
                changes.overrides[changes.overrides.count - 1].variables[fields[1]] = fields[2]
            case "canary" where fields.count == 2 && fields[1] == "removed" && !changes.overrides.isEmpty:
                changes.overrides[changes.overrides.count - 1].canary = .removed
            case "canary" where fields.count == 6 && fields[1] == "set" && !changes.overrides.isEmpty:
                var source: DefinitionSource?
                if fields[2] != "-" {
                    guard let found = history.record(id: fields[2])?.input(fields[3]) else { return nil }
                    source = found
                }
                guard let percent = Double(fields[4]) else { return nil }
                changes.overrides[changes.overrides.count - 1].canary = .set(
                    CanaryRelease(source: source, definitionPath: fields[3], percentTraffic: percent,
                                  useStageCache: fields[5] == "1"))
            case "canary-variable" where fields.count == 3 && !changes.overrides.isEmpty:
                guard case .set(var release) = changes.overrides[changes.overrides.count - 1].canary else { return nil }
                release.stageVariableOverrides[fields[1]] = fields[2]
                changes.overrides[changes.overrides.count - 1].canary = .set(release)
            case "end":
                return changes
            default:
                return nil
            }
        }
        return nil
    }
}
