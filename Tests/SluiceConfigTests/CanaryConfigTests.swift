import SluiceConfig
import SluiceHTTP1
import SluiceRouter
import Testing

/// `stages.NAME.canary` and the admin endpoints' stage overrides, as the loader compiles them.
@Suite("Canaries and stage overrides")
struct CanaryConfigTests {
    static func definition(_ body: String, extraPath: String = "") -> String {
        """
        openapi: "3.0.1"
        info: {title: t, version: "1"}
        paths:
          /pets:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {"application/json": '{"statusCode": 200}'}
                responses: {default: {statusCode: "200", responseTemplates: {"application/json": '\(body)'}}}
        \(extraPath)
        """
    }

    static let config = """
        apis:
          - name: shop
            definition: v1.yaml
            stages:
              prod:
                variables: {color: blue, size: big}
                canary: {definition: v2.yaml, percent_traffic: 12.5, stage_variable_overrides: {color: green}}
              dev: {}
        """

    static let cats = """
          /cats:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {"application/json": '{"statusCode": 200}'}
                responses: {default: {statusCode: "200"}}
        """

    func body(_ deployment: Deployment, _ operation: Int) -> String? {
        deployment.operations[operation].integration.mockResponse?.bodyText
    }

    @Test func aCanaryIsAStageOfItsOwnWithItsOwnRoutes() throws {
        let result = loadConfig(Self.config, definitions: ["v1.yaml": Self.definition("one"),
                                                           "v2.yaml": Self.definition("two", extraPath: Self.cats)])
        let deployment = try #require(result.deployment, "\(result.lines)")
        // The stages first, then the canaries' own stages.
        #expect(deployment.stages.map(\.name) == ["prod", "dev", "prod"])
        let canary = try #require(deployment.stages[0].canary)
        #expect(canary.stage == 2 && canary.basisPoints == 1_250 && canary.percentTraffic == 12.5)
        #expect(deployment.stages[2].canaryOf == 0 && deployment.stages[1].canary == nil)
        #expect(deployment.stages[2].variables == ["color": "green", "size": "big"])
        #expect(deployment.stages[2].canaryLabel.map(\.0) == ["canary"] && deployment.stages[0].canaryLabel.isEmpty)
        var match = RouteMatch()
        let host = Array("h".utf8)
        let pets = Array("/prod/pets".utf8)
        #expect(deployment.routes.lookup(host: host.span, path: pets.span, method: .get, into: &match))
        #expect(match.stage == 0 && body(deployment, match.operation) == "one")
        #expect(deployment.canaryRoutes.lookup(host: host.span, path: pets.span, method: .get, into: &match))
        #expect(match.stage == 2 && body(deployment, match.operation) == "two")
        let catsPath = Array("/prod/cats".utf8)
        #expect(!deployment.routes.lookup(host: host.span, path: catsPath.span, method: .get, into: &match))
        #expect(deployment.canaryRoutes.lookup(host: host.span, path: catsPath.span, method: .get, into: &match))
        #expect(deployment.definitionFiles == ["shop": "v1.yaml"])
    }

    @Test func badCanariesAreErrorsAtTheirLines() {
        for (canary, message) in [
            ("{definition: v2.yaml}", "stages.prod.canary needs 'definition'"),
            ("{definition: v2.yaml, percent_traffic: -1}", "percent_traffic must be a number from 0.0 to 100.0, not '-1'"),
            ("{definition: v2.yaml, percent_traffic: 5, use_stage_cache: maybe}", "use_stage_cache must be true or false"),
            ("{definition: v2.yaml, percent_traffic: 5, weight: 1}", "unknown key 'weight'"),
            ("{definition: missing.yaml, percent_traffic: 5}", "cannot read API definition 'missing.yaml'"),
        ] {
            let config = "apis:\n  - name: shop\n    definition: v1.yaml\n    stages:\n      prod:\n        canary: \(canary)\n"
            let result = loadConfig(config, definitions: ["v1.yaml": Self.definition("one"), "v2.yaml": Self.definition("two")])
            #expect(result.deployment == nil)
            #expect(result.errors.contains { $0.message.contains(message) && $0.line == 6 }, "\(result.lines)")
        }
    }

    @Test func overridesServeAnotherDefinitionAndSetOrRemoveTheCanary() throws {
        let files = ["sluice.yaml": Self.config, "v1.yaml": Self.definition("one"),
                     "v2.yaml": Self.definition("two", extraPath: Self.cats)]
        let environment = LoaderEnvironment(readFile: { path in
            files[path].map { .success(Array($0.utf8)) } ?? .failure(FileReadError("no such file"))
        }, allowedCPUs: testCPUs, resolver: testResolver)
        let plain = try #require(ConfigLoader.load(path: "sluice.yaml", environment: environment).deployment)
        let old = DefinitionSource(deploymentID: "abc123", path: "v1.yaml", text: Self.definition("zero"))
        let changed = ConfigLoader.load(path: "sluice.yaml", environment: environment, overrides: [
            StageOverride(api: "shop", stage: "prod", definition: old, canary: .removed, variables: ["size": "small"]),
            StageOverride(api: "shop", stage: "dev", canary: .set(CanaryRelease(source: old, definitionPath: "v1.yaml",
                                                                                percentTraffic: 100))),
            StageOverride(api: "gone", stage: "prod", canary: .removed),
        ])
        let deployment = try #require(changed.deployment, "\(changed.lines)")
        // The id is the files' alone: the same with and without overrides.
        #expect(deployment.id == plain.id)
        #expect(changed.warnings.contains { $0.message.contains("'gone/prod' no longer applies") })
        let prod = try #require(deployment.stages.firstIndex { $0.name == "prod" && $0.canaryOf < 0 })
        #expect(deployment.stages[prod].deploymentID == "abc123" && deployment.stages[prod].canary == nil)
        #expect(deployment.stages[prod].variables == ["color": "blue", "size": "small"])
        let dev = try #require(deployment.stages.firstIndex { $0.name == "dev" && $0.canaryOf < 0 })
        let canary = try #require(deployment.stages[dev].canary)
        #expect(canary.basisPoints == 10_000 && canary.deploymentID == "abc123")
        var match = RouteMatch()
        let host = Array("h".utf8)
        let pets = Array("/prod/pets".utf8)
        #expect(deployment.routes.lookup(host: host.span, path: pets.span, method: .get, into: &match))
        #expect(body(deployment, match.operation) == "zero")
        #expect(deployment.stages[match.stage].deploymentID == "abc123")
    }
}
