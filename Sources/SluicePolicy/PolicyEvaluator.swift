import SluiceConfig

/// What a resource policy says of a request, in AWS's order of evaluation: an explicit deny
/// wins; otherwise a matching allow lets the request through; otherwise it is denied.
public enum PolicyDecision: Sendable, Equatable {
    case allow
    /// A Deny statement matched: 403 `... with an explicit deny`.
    case explicitDeny
    /// No Allow statement matched: 403 `User is not authorized to access this resource`.
    case implicitDeny
}

/// An API's resource policy compiled for the request path: statements that cannot apply to a
/// request (another action, IAM principals) dropped at load, patterns as bytes, networks as
/// masks. Evaluating one allocates nothing.
public struct PolicyEvaluator: Sendable {
    struct Statement: Sendable {
        var deny: Bool
        var resources: [[UInt8]]
        var notResource: Bool
        var conditions: [PolicyCondition]
    }

    let statements: [Statement]

    public init(_ policy: ResourcePolicy) {
        statements = policy.statements.compactMap { statement in
            guard statement.anyPrincipal else { return nil }
            // Action names are case-insensitive in IAM (resources are not).
            let invokes = statement.actions.contains { Glob.matches(Array($0.lowercased().utf8), Self.invoke.span) }
            guard invokes != statement.notAction else { return nil }
            return Statement(deny: statement.effect == .deny, resources: statement.resources.map { Array($0.utf8) },
                             notResource: statement.notResource, conditions: statement.conditions)
        }
    }

    static let invoke: [UInt8] = Array("execute-api:invoke".utf8)

    /// The decision for a caller at `source` invoking `resource`: `STAGE/METHOD/PATH`, the path
    /// without its leading slash (as the request's execute-api ARN ends).
    public func evaluate(source: IPAddress, resource: Span<UInt8>) -> PolicyDecision {
        var allowed = false
        for statement in statements {
            guard matches(statement, resource: resource), holds(statement, source: source) else { continue }
            if statement.deny { return .explicitDeny }
            allowed = true
        }
        return allowed ? .allow : .implicitDeny
    }

    private func matches(_ statement: Statement, resource: Span<UInt8>) -> Bool {
        var any = false
        for pattern in statement.resources where Glob.matches(pattern, resource) {
            any = true
            break
        }
        return any != statement.notResource
    }

    private func holds(_ statement: Statement, source: IPAddress) -> Bool {
        for condition in statement.conditions {
            switch condition {
            case .sourceIP(let negated, let networks):
                var inside = false
                for network in networks where network.contains(source) {
                    inside = true
                    break
                }
                if inside == negated { return false }
            case .unsupported:
                // Unknown conditions can only refuse: they hold for a Deny, never for an Allow.
                if !statement.deny { return false }
            }
        }
        return true
    }
}

/// IAM's wildcard match: `*` any run of characters (slashes included), `?` any one character,
/// everything else itself, case-sensitive.
public enum Glob {
    static func matches(_ pattern: [UInt8], _ text: Span<UInt8>) -> Bool {
        matches(pattern.span, text)
    }

    public static func matches(_ pattern: Span<UInt8>, _ text: Span<UInt8>, ignoringCase: Bool = false) -> Bool {
        @inline(__always) func same(_ a: UInt8, _ b: UInt8) -> Bool {
            a == b || (ignoringCase && a | 0x20 == b | 0x20 && (a | 0x20) >= 0x61 && (a | 0x20) <= 0x7A)
        }
        var p = 0
        var t = 0
        // Where the last `*` was and the text position it currently stands for, to backtrack to.
        var star = -1
        var starText = 0
        while t < text.count {
            if p < pattern.count && (pattern[p] == UInt8(ascii: "?") || same(pattern[p], text[t])) {
                p += 1
                t += 1
            } else if p < pattern.count && pattern[p] == UInt8(ascii: "*") {
                star = p
                starText = t
                p += 1
            } else if star >= 0 {
                p = star + 1
                starText += 1
                t = starText
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}
