/// The steps of the request pipeline, in API Gateway's order (DESIGN.md §3). Parsing and routing
/// come before them (the worker's); a request runs the steps its operation's plan lists, from the
/// first, and a step that waits is run again when the request resumes.
///
/// Adding a feature: a case here (in its place in the order), the rule that puts it in an
/// operation's plan (`PipelinePlan.needs`), and its case in the worker's `runStep`, which calls
/// the feature's own module.
public enum Step: UInt8, Sendable, CaseIterable {
    /// `x-amazon-apigateway-policy`: source IP and resource ARN (SluicePolicy).
    case resourcePolicy
    /// An authorizer or IAM. Until Sluice enforces them, this step refuses every request with
    /// API Gateway's AUTHORIZER_CONFIGURATION_ERROR (fail closed).
    case authorizer
    /// The API key, the throttles in API Gateway's order and the quota (SluiceThrottle).
    case admission
    /// Request validation: required parameters, and the body against its model (SluiceSchema).
    /// Before the cache, as API Gateway validates the method request before its integration
    /// request: an invalid request is never answered from the cache.
    case validation
    /// The stage response cache (SluiceCache): a hit answers, a miss fills, another request's
    /// fill is waited for.
    case cacheLookup
    /// MOCK, HTTP, HTTP_PROXY or AWS_PROXY: the last step; it answers or hands the request to an
    /// upstream.
    case integration

    /// The name in logs and docs.
    public var name: String {
        switch self {
        case .resourcePolicy: "resource policy"
        case .authorizer: "authorizer"
        case .admission: "API key, throttle, quota"
        case .cacheLookup: "cache lookup"
        case .validation: "request validation"
        case .integration: "integration"
        }
    }
}

/// What a step decided.
public enum StepOutcome: Sendable, Equatable {
    /// On to the next step of the plan.
    case proceed
    /// Refused with a gateway response; the pipeline stops.
    case refuse(GatewayAnswer)
    /// The step answered, or handed the request to an upstream: the pipeline is done.
    case done
    /// The step waits (another request's cache fill, room to answer); the request resumes at
    /// this step.
    case wait
}
