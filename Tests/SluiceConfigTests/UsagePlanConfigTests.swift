import SluiceConfig
import Testing

@Suite struct UsagePlanConfigTests {
    static let definition = """
        openapi: 3.0.1
        paths:
          /pets:
            get:
              x-amazon-apigateway-integration: { type: mock, requestTemplates: { application/json: '{"statusCode": 200}' },
                                                   responses: { default: { statusCode: "200" } } }
            post:
              x-amazon-apigateway-integration: { type: mock, requestTemplates: { application/json: '{"statusCode": 200}' },
                                                   responses: { default: { statusCode: "200" } } }
          /pets/{id}:
            x-amazon-apigateway-any-method:
              x-amazon-apigateway-integration: { type: mock, requestTemplates: { application/json: '{"statusCode": 200}' },
                                                   responses: { default: { statusCode: "200" } } }
        """
    static let digest = String(repeating: "ab", count: 32)
    static let otherDigest = String(repeating: "0F", count: 32)

    func load(_ config: String) -> LoadResult {
        loadConfig(config, definitions: ["a.yaml": Self.definition])
    }

    @Test func everyThrottleQuotaAndKeyIsRead() throws {
        let result = load("""
            account_throttling: { rate_limit: 20000, burst_limit: 8000 }
            apis:
              - name: petstore
                definition: a.yaml
                stages:
                  prod:
                    throttling: { rate_limit: 1000, burst_limit: 500 }
                    method_settings:
                      "GET /pets": { throttling: { rate_limit: 100, burst_limit: 50 } }
                      "any /pets/{id}": { throttling: { rate_limit: 0.5, burst_limit: 1 } }
                  beta: {}
            usage_plans:
              gold:
                stages:
                  - "petstore/prod"
                  - { stage: "petstore/beta", throttle: { "POST /pets": { rate_limit: 10, burst_limit: 5 } } }
                throttle: { rate_limit: 100, burst_limit: 200 }
                quota: { limit: 10_000, period: week, offset: 1 }
              free:
                stages: ["petstore/prod"]
            api_keys:
              - name: alice
                value_sha256: "\(Self.digest)"
                usage_plans: [gold]
              - name: bob
                value_sha256: "\(Self.otherDigest)"
                usage_plans: [free]
                enabled: false
            """)
        #expect(result.lines == [])
        let deployment = try #require(result.deployment)
        #expect(deployment.accountThrottle == ThrottleSettings(ratePerSecond: 20_000, burst: 8_000))
        let prod = deployment.stages[0]
        #expect(prod.throttle == ThrottleSettings(ratePerSecond: 1_000, burst: 500))
        let getPets = try #require(deployment.operations.firstIndex { $0.method == "GET" && $0.resourcePath == "/pets" })
        let postPets = try #require(deployment.operations.firstIndex { $0.method == "POST" })
        let anyPet = try #require(deployment.operations.firstIndex { $0.method == "ANY" })
        #expect(prod.methodThrottles == [
            MethodThrottle(operation: getPets, throttle: ThrottleSettings(ratePerSecond: 100, burst: 50)),
            MethodThrottle(operation: anyPet, throttle: ThrottleSettings(ratePerSecond: 0.5, burst: 1)),
        ])
        #expect(deployment.stages[1].throttle == nil)
        #expect(deployment.usagePlans == [
            UsagePlan(name: "gold",
                      stages: [PlanStage(stage: 0),
                               PlanStage(stage: 1, methodThrottles: [
                                MethodThrottle(operation: postPets, throttle: ThrottleSettings(ratePerSecond: 10, burst: 5))])],
                      throttle: ThrottleSettings(ratePerSecond: 100, burst: 200),
                      quota: QuotaSettings(limit: 10_000, period: .week, offset: 1)),
            UsagePlan(name: "free", stages: [PlanStage(stage: 0)]),
        ])
        #expect(deployment.apiKeys.map(\.name) == ["alice", "bob"])
        #expect(deployment.apiKeys[0].digest == [UInt8](repeating: 0xAB, count: 32))
        #expect(deployment.apiKeys[0].plans == [0] && deployment.apiKeys[0].enabled)
        #expect(deployment.apiKeys[1].digest == [UInt8](repeating: 0x0F, count: 32))
        #expect(!deployment.apiKeys[1].enabled)
    }

    @Test func theAccountDefaultIsAPIGatewaysOwn() throws {
        let deployment = try #require(load("""
            apis: [{ name: petstore, definition: a.yaml, stages: { prod: {} } }]
            """).deployment)
        #expect(deployment.accountThrottle == ThrottleSettings(ratePerSecond: 10_000, burst: 5_000))
        #expect(deployment.usagePlans.isEmpty && deployment.apiKeys.isEmpty)
    }

    @Test func throttleMistakesAreErrorsAtTheirLines() {
        let result = load("""
            account_throttling: { rate_limit: fast, burst_limit: 10 }
            apis:
              - name: petstore
                definition: a.yaml
                stages:
                  prod:
                    throttling: { rate_limit: 10 }
                  beta:
                    method_settings:
                      "GET /nope": { throttling: { rate_limit: 1, burst_limit: 1 } }
                      "GET": { throttling: { rate_limit: 1, burst_limit: -1 } }
            """)
        #expect(result.deployment == nil)
        #expect(result.lines == [
            "sluice.yaml:1: error: account_throttling.rate_limit must be a number of requests per second between 0 "
                + "and 1000000000, not 'fast'",
            "sluice.yaml:7: error: stages.prod.throttling needs both rate_limit and burst_limit",
            "sluice.yaml:11: error: stages.beta.method_settings 'GET' throttling.burst_limit must be between 0 and "
                + "1000000000, not -1",
        ])
        let methods = load("""
            apis:
              - name: petstore
                definition: a.yaml
                stages:
                  beta:
                    method_settings:
                      "GET /nope": { throttling: { rate_limit: 1, burst_limit: 1 } }
                      "GET": { throttling: { rate_limit: 1, burst_limit: 1 } }
                      "GET /pets": { throttling: { rate_limit: 1, burst_limit: 1 } }
                      "get /pets": { throttling: { rate_limit: 2, burst_limit: 1 } }
            limits: { api_key_bytes: 0 }
            """)
        #expect(methods.lines == [
            "sluice.yaml:7: error: stages.beta.method_settings 'GET /nope': API 'petstore' has no method GET /nope",
            "sluice.yaml:8: error: stages.beta.method_settings 'GET' must be a method and a resource path, such as "
                + "'GET /pets/{petId}'",
            "sluice.yaml:10: error: stages.beta.method_settings names 'get /pets' twice",
            "sluice.yaml:11: error: limits.api_key_bytes must be between 1 and 8192, not 0",
        ])
        let limited = load("""
            limits: { api_key_bytes: 64 }
            apis: [{ name: petstore, definition: a.yaml, stages: { prod: {} } }]
            """)
        #expect(limited.deployment?.limits.apiKeyBytesMax == 64)
    }

    @Test func planAndKeyMistakesAreErrorsAtTheirLines() {
        let result = load("""
            apis:
              - name: petstore
                definition: a.yaml
                stages: { prod: {} }
            usage_plans:
              gold:
                stages: ["petstore/staging"]
                quota: { limit: 10, period: YEAR }
              silver:
                stages: ["petstore/prod"]
                quota: { limit: 10, period: WEEK, offset: 7 }
              bronze:
                stages: ["petstore/prod"]
              tin:
                stages: ["petstore/prod"]
              empty: {}
            api_keys:
              - name: alice
                value_sha256: "abc"
              - name: carol
                value: "plain"
              - name: dave
                value_sha256: "\(Self.digest)"
                usage_plans: [bronze, tin, platinum]
              - name: erin
                value_sha256: "\(Self.otherDigest)"
              - name: erin
                value_sha256: "\(String(repeating: "cd", count: 32))"
            """)
        #expect(result.deployment == nil)
        #expect(result.lines == [
            "sluice.yaml:7: error: usage plan 'gold': no stage 'petstore/staging' (write 'api/stage', as apis: names them)",
            "sluice.yaml:8: error: usage plan 'gold' quota period must be DAY, WEEK or MONTH, not 'YEAR'",
            "sluice.yaml:11: error: usage plan 'silver' quota offset must be between 0 and 6 for WEEK, not 7",
            "sluice.yaml:16: warning: usage plan 'empty' covers no stage; its keys are refused everywhere",
            "sluice.yaml:19: error: value_sha256 must be the key's SHA-256 as 64 hex digits (printf %s KEY | sha256sum)",
            "sluice.yaml:21: error: api keys are configured hashed: write value_sha256 (printf %s KEY | sha256sum), not value",
            "sluice.yaml:24: error: usage plans 'bronze' and 'tin' both cover stage 'petstore/prod'; a key may be in only "
                + "one plan per stage",
            "sluice.yaml:24: error: no usage plan 'platinum'",
            "sluice.yaml:27: error: api key 'erin' is listed twice (line 25)",
        ])
    }
}

@Suite("API keys required by definitions")
struct APIKeyRequiredTests {
    func required(_ definition: String) throws -> [String: Bool] {
        let result = loadDefinition(definition)
        let deployment = try #require(result.deployment, "\(result.lines)")
        var map: [String: Bool] = [:]
        for operation in deployment.operations { map["\(operation.method) \(operation.resourcePath)"] = operation.apiKeyRequired }
        return map
    }

    static let mock = """
        x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {"application/json": '{"statusCode": 200}'}
                responses: {default: {statusCode: "200"}}
        """

    @Test func securityExtensionAndSchemesDecide() throws {
        let map = try required("""
            openapi: "3.0.1"
            components:
              securitySchemes:
                key: {type: apiKey, name: X-Api-Key, in: header}
                other: {type: apiKey, name: x-other, in: header}
                iam: {type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}
            security: [{key: []}]
            paths:
              /inherited:
                get:
                  \(Self.mock)
              /none:
                get:
                  security: []
                  \(Self.mock)
              /other:
                get:
                  security: [{other: []}]
                  \(Self.mock)
              /iam:
                get:
                  security: [{iam: []}]
                  \(Self.mock)
              /either:
                get:
                  security: [{iam: []}, {key: []}]
                  \(Self.mock)
              /extension:
                get:
                  security: []
                  x-amazon-apigateway-api-key-required: true
                  \(Self.mock)
              /unrequired:
                get:
                  x-amazon-apigateway-api-key-required: false
                  \(Self.mock)
            """)
        #expect(map == ["GET /inherited": true, "GET /none": false, "GET /other": false, "GET /iam": false,
                        "GET /either": true, "GET /extension": true, "GET /unrequired": false])
    }

    @Test func anUndefinedApiKeySchemeIsAnApiKeyAsInAWSSamples() throws {
        // api-gateway-request-validation-sample uses `security: [{api_key: []}]` with no scheme.
        let map = try required("""
            swagger: "2.0"
            paths:
              /a:
                get:
                  security: [{api_key: []}]
                  \(Self.mock)
              /b:
                get:
                  security: [{something: []}]
                  \(Self.mock)
            """)
        #expect(map == ["GET /a": true, "GET /b": false])
    }

    @Test func theAWSExamplesSayWhereKeysAreRequired() throws {
        let name = "api-gateway-request-validation-sample-api-swagger.1.swagger20.json"
        let text = try String(contentsOf: awsExamplesFolder.appendingPathComponent(name), encoding: .utf8)
        let result = loadDefinition(text, name: name)
        let deployment = try #require(result.deployment)
        #expect(result.errors.isEmpty)
        let keyed = deployment.operations.filter(\.apiKeyRequired).map { "\($0.method) \($0.resourcePath)" }
        #expect(keyed.sorted() == ["GET /validation", "POST /validation"])
        let source = "api-gateway-swagger-extensions-api-key-source.1.swagger20.json"
        let sourceText = try String(contentsOf: awsExamplesFolder.appendingPathComponent(source), encoding: .utf8)
        let sourced = loadDefinition(sourceText, name: source)
        #expect(sourced.deployment?.apis.first?.apiKeySource == .header)
        #expect(!sourced.lines.contains { $0.contains("x-amazon-apigateway-api-key-source") })
    }

    @Test func keySourceIsChecked() {
        let authorizer = loadDefinition("""
            swagger: "2.0"
            x-amazon-apigateway-api-key-source: AUTHORIZER
            paths: {}
            """)
        #expect(authorizer.deployment?.apis.first?.apiKeySource == .authorizer)
        #expect(!authorizer.lines.contains { $0.contains("x-amazon-apigateway-api-key-source") })
        let bad = loadDefinition("""
            swagger: "2.0"
            x-amazon-apigateway-api-key-source: QUERY
            paths: {}
            """)
        #expect(bad.deployment == nil)
        #expect(bad.lines.contains("api.yaml:2: error: x-amazon-apigateway-api-key-source must be HEADER or AUTHORIZER, not 'QUERY'"))
    }
}
