import Testing
@testable import SluiceConfig

@Suite("Stage cache configuration")
struct CacheConfigTests {
    static let definition = """
        openapi: "3.0.1"
        paths:
          /pets/{petId}:
            get:
              x-amazon-apigateway-integration:
                type: http_proxy
                httpMethod: GET
                uri: "http://192.0.2.1/pets/{petId}"
                requestParameters: {"integration.request.path.petId": "method.request.path.petId"}
                cacheKeyParameters:
                  - method.request.path.petId
                  - method.request.querystring.color
                  - method.request.header.X-Tenant
                  - method.request.querystring.color
                  - integration.request.header.nope
            post:
              x-amazon-apigateway-integration:
                type: http_proxy
                httpMethod: POST
                uri: "http://192.0.2.1/pets/{petId}"
        """

    func load(_ stages: String) -> LoadResult {
        loadConfig("""
            apis:
              - name: petstore
                definition: a.yaml
                stages:
            \(stages)
            """, definitions: ["a.yaml": Self.definition])
    }

    @Test func stageCacheMethodCachingAndKeyParametersAreRead() throws {
        let result = load("""
                  prod:
                    cache: { capacity_mb: 16, ttl_seconds: 60, fill_wait_ms: 250, require_authorization: false,
                             unauthorized: fail_with_403 }
                    method_settings:
                      "GET /pets/{petId}": { caching: { ttl_seconds: 5 } }
                      "POST /pets/{petId}": { caching: { enabled: true } }
                  beta:
                    cache: { enabled: false }
                  qa: {}
            """)
        #expect(result.lines == [
            "a.yaml:15: warning: GET /pets/{petId}: cacheKeyParameters entry 'integration.request.header.nope' is not "
                + "method.request.querystring|header|path.NAME; it is ignored",
        ])
        let deployment = try #require(result.deployment)
        #expect(deployment.stages[0].cache == StageCache(capacityBytes: 16 << 20, ttlSeconds: 60, fillWaitMilliseconds: 250,
                                                         requireAuthorization: false, unauthorized: .failWith403))
        #expect(deployment.stages[0].methodCaching == [MethodCaching(operation: 0, ttlSeconds: 5),
                                                       MethodCaching(operation: 1, enabled: true)])
        #expect(deployment.stages[1].cache == nil)
        #expect(deployment.stages[2].cache == nil)
        #expect(deployment.operations[0].cacheKeyParameters == [.path(0), .query("color"), .header("x-tenant")])
        #expect(deployment.operations[1].cacheKeyParameters == [])
    }

    @Test func mistakesAreErrorsAtTheirLines() {
        let result = load("""
                  prod:
                    cache: { capacity_mb: 0, ttl_seconds: 3601, unauthorized: maybe, enabled: yes }
                  beta:
                    cache: { capacity_mb: 1, entry_bytes_max: 1048576 }
                  qa:
                    method_settings:
                      "GET /pets/{petId}": { caching: { ttl_seconds: 5 } }
            """)
        #expect(result.deployment == nil)
        #expect(result.errors.map(\.description) == [
            "sluice.yaml:6: error: stages.prod.cache.capacity_mb must be between 1 and 65536, not 0",
            "sluice.yaml:6: error: stages.prod.cache.ttl_seconds must be between 0 and 3600, not 3601",
            "sluice.yaml:6: error: stages.prod.cache.unauthorized must be FAIL_WITH_403, SUCCEED_WITH_RESPONSE_HEADER, "
                + "SUCCEED_WITHOUT_RESPONSE_HEADER, not 'maybe'",
            "sluice.yaml:6: error: stages.prod.cache.enabled must be true or false, not 'yes'",
            "sluice.yaml:8: error: stages.beta.cache.entry_bytes_max (1048576) must be at most a quarter of capacity_mb",
        ])
    }

    @Test func methodCachingWithoutAStageCacheIsAWarning() {
        let result = load("""
                  qa:
                    method_settings:
                      "GET /pets/{petId}": { caching: { ttl_seconds: 5 } }
            """)
        #expect(result.lines.contains(
            "sluice.yaml:7: warning: stages.qa.method_settings 'GET /pets/{petId}' caching: the stage has no cache; it has "
                + "no effect"))
    }
}
