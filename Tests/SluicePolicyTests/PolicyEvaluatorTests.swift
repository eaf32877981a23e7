import SluiceConfig
import Testing
@testable import SluicePolicy

/// Resource policies evaluated as AWS does: explicit deny, then allow, else deny; IAM wildcards
/// over `STAGE/METHOD/PATH`; `aws:SourceIp` networks of both families.
struct PolicyEvaluatorTests {
    func address(_ text: String) -> IPAddress { IPAddress(parsing: Substring(text))! }

    func decide(_ policy: ResourcePolicy, _ source: String, _ resource: String) -> PolicyDecision {
        let bytes = Array(resource.utf8)
        return PolicyEvaluator(policy).evaluate(source: address(source), resource: bytes.span)
    }

    func network(_ text: String) -> IPNetwork { IPNetwork(parsing: Substring(text))! }

    @Test func allowAllThenDenyByAddress() {
        let policy = ResourcePolicy(statements: [
            PolicyStatement(effect: .allow, anyPrincipal: true, actions: ["execute-api:Invoke"], resources: ["*"]),
            PolicyStatement(effect: .deny, anyPrincipal: true, actions: ["execute-api:Invoke"], resources: ["*"],
                            conditions: [.sourceIP(negated: false, networks: [network("203.0.113.0/24")])]),
        ])
        #expect(decide(policy, "198.51.100.7", "prod/GET/pets") == .allow)
        #expect(decide(policy, "203.0.113.9", "prod/GET/pets") == .explicitDeny)
        #expect(decide(policy, "::ffff:203.0.113.9", "prod/GET/pets") == .explicitDeny)
    }

    @Test func allowOnlyFromNetworksIsAnImplicitDenyElsewhere() {
        let policy = ResourcePolicy(statements: [
            PolicyStatement(effect: .allow, anyPrincipal: true, actions: ["execute-api:*"], resources: ["*/GET/*"],
                            conditions: [.sourceIP(negated: false, networks: [network("10.0.0.0/8"),
                                                                                network("2001:db8::/32")])]),
        ])
        #expect(decide(policy, "10.1.2.3", "prod/GET/pets/1") == .allow)
        #expect(decide(policy, "2001:db8:1::5", "prod/GET/pets/1") == .allow)
        #expect(decide(policy, "2001:db9::5", "prod/GET/pets/1") == .implicitDeny)
        #expect(decide(policy, "11.1.2.3", "prod/GET/pets/1") == .implicitDeny)
        // Another method is not allowed by a GET-only resource.
        #expect(decide(policy, "10.1.2.3", "prod/POST/pets") == .implicitDeny)
    }

    @Test func notIpAddressDeniesEveryoneOutside() {
        let policy = ResourcePolicy(statements: [
            PolicyStatement(effect: .allow, anyPrincipal: true, actions: ["execute-api:Invoke"], resources: ["*"]),
            PolicyStatement(effect: .deny, anyPrincipal: true, actions: ["execute-api:Invoke"], resources: ["*"],
                            conditions: [.sourceIP(negated: true, networks: [network("192.0.2.1")])]),
        ])
        #expect(decide(policy, "192.0.2.1", "prod/GET/") == .allow)
        #expect(decide(policy, "192.0.2.2", "prod/GET/") == .explicitDeny)
    }

    @Test func statementsForIAMPrincipalsOrOtherActionsDoNotApply() {
        let policy = ResourcePolicy(statements: [
            PolicyStatement(effect: .allow, anyPrincipal: false, actions: ["execute-api:Invoke"], resources: ["*"]),
            PolicyStatement(effect: .allow, anyPrincipal: true, actions: ["execute-api:InvalidateCache"], resources: ["*"]),
            PolicyStatement(effect: .deny, anyPrincipal: false, actions: ["*"], resources: ["*"]),
        ])
        #expect(decide(policy, "10.0.0.1", "prod/GET/a") == .implicitDeny)
    }

    @Test func actionNamesIgnoreCase() {
        let policy = ResourcePolicy(statements: [
            PolicyStatement(effect: .allow, anyPrincipal: true, actions: ["*"], resources: ["*"]),
            PolicyStatement(effect: .deny, anyPrincipal: true, actions: ["EXECUTE-API:invoke"], resources: ["*/GET/x"]),
        ])
        #expect(decide(policy, "10.0.0.1", "prod/GET/x") == .explicitDeny)
        #expect(decide(policy, "10.0.0.1", "prod/GET/y") == .allow)
    }

    @Test func unsupportedConditionsCanOnlyRefuse() {
        let policy = ResourcePolicy(statements: [
            PolicyStatement(effect: .allow, anyPrincipal: true, actions: ["execute-api:Invoke"], resources: ["*"],
                            conditions: [.unsupported("StringEquals aws:SourceVpce")]),
        ])
        #expect(decide(policy, "10.0.0.1", "prod/GET/a") == .implicitDeny)
        let deny = ResourcePolicy(statements: [
            PolicyStatement(effect: .allow, anyPrincipal: true, actions: ["execute-api:Invoke"], resources: ["*"]),
            PolicyStatement(effect: .deny, anyPrincipal: true, actions: ["execute-api:Invoke"], resources: ["*"],
                            conditions: [.unsupported("StringNotEquals aws:SourceVpce")]),
        ])
        #expect(decide(deny, "10.0.0.1", "prod/GET/a") == .explicitDeny)
    }

    @Test func notResourceAndNotAction() {
        let policy = ResourcePolicy(statements: [
            PolicyStatement(effect: .allow, anyPrincipal: true, actions: ["execute-api:Invoke"], resources: ["*"]),
            PolicyStatement(effect: .deny, anyPrincipal: true, actions: ["execute-api:Invoke"],
                            resources: ["prod/GET/public/*"], notResource: true),
            PolicyStatement(effect: .deny, anyPrincipal: true, actions: ["execute-api:InvalidateCache"], notAction: true,
                            resources: ["*/DELETE/*"]),
        ])
        #expect(decide(policy, "10.0.0.1", "prod/GET/public/x") == .allow)
        #expect(decide(policy, "10.0.0.1", "prod/GET/private") == .explicitDeny)
    }

    @Test func globs() {
        func match(_ pattern: String, _ text: String) -> Bool {
            let bytes = Array(text.utf8)
            return Glob.matches(Array(pattern.utf8), bytes.span)
        }
        #expect(match("*", ""))
        #expect(match("*", "prod/GET/a/b"))
        #expect(match("prod/*/pets", "prod/GET/pets"))
        #expect(!match("prod/*/pets", "prod/GET/pets/1"))
        #expect(match("prod/*/pets/*", "prod/GET/pets/1/2"))
        #expect(match("prod/GE?/*", "prod/GET/x"))
        #expect(!match("prod/GE?/*", "prod/GE/x"))
        #expect(match("*/GET/*a*b", "s/GET/xxaxxb"))
        #expect(!match("*/GET/*a*b", "s/GET/xxaxxbc"))
        #expect(!match("Prod/*", "prod/GET/"))
    }

    @Test func addressesParse() {
        #expect(address("1.2.3.4").description == "1.2.3.4")
        #expect(address("::1") == IPAddress(high: 0, low: 1))
        #expect(address("2001:db8::") == IPAddress(high: 0x2001_0db8_0000_0000, low: 0))
        #expect(address("2001:db8::ff00:42:8329") == IPAddress(high: 0x2001_0db8_0000_0000, low: 0x0000_ff00_0042_8329))
        #expect(address("::ffff:10.0.0.1") == address("10.0.0.1"))
        #expect(address("1:2:3:4:5:6:7:8") == IPAddress(high: 0x0001_0002_0003_0004, low: 0x0005_0006_0007_0008))
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", "::1::", "1:2:3:4:5:6:7:8:9", "g::1",
                    "12345::", ":1", "1:", "1.2.3.04x", "1:2:3:4:5:6:7::8:9"] {
            #expect(IPAddress(parsing: Substring(bad)) == nil, "\(bad)")
        }
        #expect(IPNetwork(parsing: "10.0.0.0/33") == nil)
        #expect(IPNetwork(parsing: "::/129") == nil)
        #expect(network("0.0.0.0/0").contains(address("255.1.2.3")))
        #expect(!network("0.0.0.0/0").contains(address("2001:db8::1")))
        #expect(network("::/0").contains(address("2001:db8::1")))
    }
}
