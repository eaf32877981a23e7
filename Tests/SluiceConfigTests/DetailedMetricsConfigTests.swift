import Testing
@testable import SluiceConfig

@Suite("Detailed metrics configuration")
struct DetailedMetricsConfigTests {
    static let pets = """
        openapi: "3.0.1"
        paths:
          /pets:
            get: { x-amazon-apigateway-integration: { type: http_proxy, httpMethod: ANY, uri: "http://192.0.2.1/pets" } }
            post: { x-amazon-apigateway-integration: { type: http_proxy, httpMethod: ANY, uri: "http://192.0.2.1/pets" } }
          /pets/{petId}:
            x-amazon-apigateway-any-method:
              x-amazon-apigateway-integration: { type: mock, requestTemplates: { application/json: '{"statusCode": 200}' }, responses: { default: { statusCode: "200" } } }
        """

    func load(_ stages: String) -> LoadResult {
        loadConfig("""
            apis:
              - name: shop
                definition: pets.yaml
                base_path: shop
                stages:
                  prod: {}
              - name: petstore
                definition: pets.yaml
                stages:
            \(stages)
            """, definitions: ["pets.yaml": Self.pets])
    }

    @Test func aStageOptsInAndItsMethodSettingsOverride() throws {
        let result = load("""
                  prod:
                    detailed_metrics: true
                    method_settings:
                      "POST /pets": { detailed_metrics: false }
                  beta:
                    method_settings:
                      "ANY /pets/{petId}": { detailed_metrics: true }
                  qa: {}
            """)
        #expect(result.lines == [])
        let deployment = try #require(result.deployment)
        // shop/prod, then petstore's prod, beta, qa; shop's operations 0…2, petstore's 3…5.
        #expect(deployment.stages[1].detailedMetrics)
        #expect(deployment.stages[1].methodDetailedMetrics == [MethodDetailedMetrics(operation: 4, enabled: false)])
        #expect(!deployment.stages[2].detailedMetrics)

        let groups = MethodMetricGroups(deployment: deployment)
        #expect(groups.members.map { [$0.stage, $0.operation] } == [[1, 3], [1, 5], [2, 5]])
        #expect(groups.group(stage: 1, operation: 3) == 0)
        #expect(groups.group(stage: 1, operation: 4) == -1)
        #expect(groups.group(stage: 1, operation: 5) == 1)
        #expect(groups.group(stage: 2, operation: 3) == -1)
        #expect(groups.group(stage: 2, operation: 5) == 2)
        #expect(groups.group(stage: 0, operation: 0) == -1)
        #expect(groups.group(stage: 3, operation: 5) == -1)
        let labels = groups.labels(deployment).map { $0.map { "\($0.0)=\($0.1)" } }
        #expect(labels == [["api=petstore", "stage=prod", "resource=/pets", "method=GET"],
                           ["api=petstore", "stage=prod", "resource=/pets/{petId}", "method=ANY"],
                           ["api=petstore", "stage=beta", "resource=/pets/{petId}", "method=ANY"]])
    }

    @Test func withoutDetailedMetricsThereAreNoGroups() throws {
        let deployment = try #require(load("      prod: {}").deployment)
        let groups = MethodMetricGroups(deployment: deployment)
        #expect(groups.count == 0)
        #expect(groups.group(stage: 0, operation: 1) == -1)
        #expect(groups.group(stage: 1, operation: 4) == -1)
    }

    @Test func mistakesAreErrorsAtTheirLines() {
        let result = load("""
                  prod:
                    detailed_metrics: sometimes
                    method_settings:
                      "GET /pets": { detailed_metrics: 1 }
                      "get /pets": { throttling: { rate_limit: 1, burst_limit: 1 } }
                      "DELETE /pets": { detailed_metrics: true }
            """)
        #expect(result.deployment == nil)
        #expect(result.errors.map(\.description) == [
            "sluice.yaml:11: error: stages.prod.detailed_metrics must be true or false, not 'sometimes'",
            "sluice.yaml:13: error: stages.prod.method_settings 'GET /pets' detailed_metrics must be true or false, not '1'",
        ])
    }

    @Test func aMethodNamedTwiceIsAnError() {
        let result = load("""
                  prod:
                    method_settings:
                      "GET /pets": { detailed_metrics: true }
                      "get /pets": { caching: { enabled: false } }
                      "DELETE /pets": { detailed_metrics: true }
            """)
        #expect(result.deployment == nil)
        #expect(result.errors.map(\.description) == [
            "sluice.yaml:13: error: stages.prod.method_settings names 'get /pets' twice",
            "sluice.yaml:14: error: stages.prod.method_settings 'DELETE /pets': API 'petstore' has no method DELETE /pets",
        ])
    }

    @Test func cacheTTLFollowsTheStageAndTheMethod() throws {
        let deployment = try #require(load("""
                  prod:
                    cache: { ttl_seconds: 60 }
                    method_settings:
                      "POST /pets": { caching: { enabled: true, ttl_seconds: 5 } }
                  beta: {}
            """).deployment)
        let operations = deployment.operations
        #expect(deployment.stages[1].cacheTTLSeconds(operation: 3, in: operations) == 60)
        #expect(deployment.stages[1].cacheTTLSeconds(operation: 4, in: operations) == 5)
        #expect(deployment.stages[1].cacheTTLSeconds(operation: 5, in: operations) == 0)  // MOCK
        #expect(deployment.stages[1].cacheTTLSeconds(operation: 0, in: operations) == 0)  // another API's
        #expect(deployment.stages[2].cacheTTLSeconds(operation: 3, in: operations) == 0)  // no cache
    }
}
