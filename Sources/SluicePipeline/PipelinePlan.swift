import SluiceConfig

/// The steps each operation runs, compiled once at load: one flat array, each operation's steps
/// a range of it, so that running a plan on the request path reads an array and allocates nothing.
public struct PipelinePlan: Sendable {
    public private(set) var steps: [Step] = []
    /// Each operation's steps: `steps[starts[operation]..<starts[operation + 1]]`.
    public private(set) var starts: [Int32] = [0]

    public init(deployment: Deployment) {
        for operation in deployment.operations.indices {
            for step in Step.allCases where Self.needs(step, operation: operation, in: deployment) {
                steps.append(step)
            }
            starts.append(Int32(steps.count))
        }
    }

    /// The registration of every step: whether an operation needs it.
    static func needs(_ step: Step, operation index: Int, in deployment: Deployment) -> Bool {
        let operation = deployment.operations[index]
        switch step {
        case .resourcePolicy: return deployment.apis[operation.api].resourcePolicy != nil
        case .authorizer: return operation.authorization != .none
        // Every request passes the account throttle.
        case .admission: return true
        case .cacheLookup:
            return deployment.stages.contains { $0.api == operation.api && $0.cache != nil }
        case .validation: return operation.requestValidation != nil
        case .integration: return true
        }
    }

    /// Where an operation's steps are in `steps`.
    @inline(__always)
    public func range(of operation: Int) -> Range<Int> {
        Int(starts[operation])..<Int(starts[operation + 1])
    }
}
