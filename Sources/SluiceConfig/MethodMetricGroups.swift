/// The methods that keep their own series (API Gateway's detailed metrics), numbered: one group
/// per method of a stage whose `detailed_metrics` is on, or whose `method_settings` turn it on.
/// A worker finds a request's group from its route with two array reads; the supervisor labels
/// each group's series with the API, stage, resource template and method — names from the
/// configuration, so the number of series is bounded by it.
public struct MethodMetricGroups: Sendable {
    /// Per group: its stage and operation (indices into `Deployment.stages` and `.operations`).
    public let members: [(stage: Int, operation: Int)]
    /// Per stage: where its API's first operation sits in `groupOfOperation`, or -1 when none of
    /// the stage's methods keeps detailed metrics.
    @usableFromInline let stageStart: [Int]
    /// Per stage: the index of its API's first operation.
    @usableFromInline let stageFirstOperation: [Int]
    /// Per stage with detailed metrics, one entry per operation of its API: the group, or -1.
    @usableFromInline let groupOfOperation: [Int32]

    public init(deployment: Deployment) {
        var members: [(stage: Int, operation: Int)] = []
        var stageStart: [Int] = []
        var stageFirstOperation: [Int] = []
        var groupOfOperation: [Int32] = []
        for (stageIndex, stage) in deployment.stages.enumerated() {
            let ownOperations = deployment.operations.indices.filter { deployment.operations[$0].api == stage.api }
            let first = ownOperations.first ?? 0
            stageFirstOperation.append(first)
            let enabled = ownOperations.filter { operation in
                stage.methodDetailedMetrics.first { $0.operation == operation }?.enabled ?? stage.detailedMetrics
            }
            guard let last = ownOperations.last, !enabled.isEmpty else {
                stageStart.append(-1)
                continue
            }
            stageStart.append(groupOfOperation.count)
            for operation in first...last {
                if enabled.contains(operation) {
                    groupOfOperation.append(Int32(members.count))
                    members.append((stageIndex, operation))
                } else {
                    groupOfOperation.append(-1)
                }
            }
        }
        self.members = members
        self.stageStart = stageStart
        self.stageFirstOperation = stageFirstOperation
        self.groupOfOperation = groupOfOperation
    }

    public var count: Int { members.count }

    /// The group of `operation` on `stage` (a pair the route table produced), or -1.
    @inlinable
    public func group(stage: Int, operation: Int) -> Int32 {
        let start = stageStart[stage]
        guard start >= 0 else { return -1 }
        return groupOfOperation[start + operation - stageFirstOperation[stage]]
    }

    /// Each group's labels: `api`, `stage`, `resource` (the resource template, `/pets/{petId}`)
    /// and `method` (`GET`, `ANY`).
    public func labels(_ deployment: Deployment) -> [[(String, String)]] {
        members.map { member in
            let stage = deployment.stages[member.stage]
            let operation = deployment.operations[member.operation]
            return [("api", deployment.apis[stage.api].name), ("stage", stage.name),
                    ("resource", operation.resourcePath), ("method", operation.method)] + stage.canaryLabel
        }
    }
}
