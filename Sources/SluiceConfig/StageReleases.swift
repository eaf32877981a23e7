/// Deployments, rollbacks and canaries (docs/operations.md): what a stage serves besides its
/// API's definition file.
///
/// - A stage's *canary* (API Gateway's `canarySettings`) serves `percentTraffic` of the stage's
///   requests from another definition, with its own stage variables on top of the stage's. It
///   is written in sluice.yaml (`stages.NAME.canary`) or set with the admin endpoints from a
///   recorded deployment.
/// - A *rollback* (or a promoted canary) makes a stage serve a recorded deployment's definition.
/// Both come in as `StageOverride`s, which last until the configuration's files change.

/// A definition read from the deployment history rather than from the disk.
public struct DefinitionSource: Sendable, Equatable {
    /// The deployment it was part of.
    public var deploymentID: String
    /// Its path as that deployment read it (diagnostics name it so).
    public var path: String
    public var text: String

    public init(deploymentID: String, path: String, text: String) {
        self.deploymentID = deploymentID
        self.path = path
        self.text = text
    }
}

/// A canary as configured.
public struct CanaryRelease: Sendable, Equatable {
    /// From the deployment history; nil: the file `definitionPath` (sluice.yaml's `definition`).
    public var source: DefinitionSource?
    public var definitionPath: String
    /// 0.0 … 100.0.
    public var percentTraffic: Double
    /// Stage variables the canary's requests see instead of the stage's.
    public var stageVariableOverrides: [String: String]
    /// Whether the canary's requests read and fill the stage's cache (API Gateway's
    /// `useStageCache`); otherwise they are not cached.
    public var useStageCache: Bool

    public init(source: DefinitionSource?, definitionPath: String, percentTraffic: Double,
                stageVariableOverrides: [String: String] = [:], useStageCache: Bool = false) {
        self.source = source
        self.definitionPath = definitionPath
        self.percentTraffic = percentTraffic
        self.stageVariableOverrides = stageVariableOverrides
        self.useStageCache = useStageCache
    }
}

/// What the admin endpoints changed on one stage.
public struct StageOverride: Sendable, Equatable {
    public enum Canary: Sendable, Equatable {
        case removed
        case set(CanaryRelease)
    }

    public var api: String
    public var stage: String
    /// The definition the stage serves instead of its API's file (a rollback, a promotion).
    public var definition: DefinitionSource?
    /// nil: the canary sluice.yaml gives the stage, if any.
    public var canary: Canary?
    /// Stage variables set on top of sluice.yaml's (a promoted canary's overrides).
    public var variables: [String: String] = [:]

    public init(api: String, stage: String, definition: DefinitionSource? = nil, canary: Canary? = nil,
                variables: [String: String] = [:]) {
        self.api = api
        self.stage = stage
        self.definition = definition
        self.canary = canary
        self.variables = variables
    }

    /// Whether it changes nothing (and can be forgotten).
    public var isEmpty: Bool { definition == nil && canary == nil && variables.isEmpty }
}

/// A stage's canary in a compiled deployment.
public struct StageCanary: Sendable, Equatable {
    /// The canary's own stage: the same API and stage names, the canary's definition and
    /// variables, its own routes (`Deployment.canaryRoutes`) and metric series.
    public var stage: Int
    /// `percentTraffic` in hundredths of a percent, 0 … 10,000.
    public var basisPoints: Int
    public var percentTraffic: Double
    public var useStageCache: Bool
    public var stageVariableOverrides: [String: String]
    /// Where its definition comes from: a recorded deployment (nil: this deployment's files)
    /// and the path.
    public var deploymentID: String?
    public var definitionPath: String
}
