import Testing
@testable import SluiceConfig

@Suite("Access log configuration")
struct AccessLogConfigTests {
    static let definition = """
        openapi: "3.0.1"
        paths:
          /pets:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {"application/json": "{\\"statusCode\\": 200}"}
                responses: {default: {statusCode: "200"}}
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

    @Test func presetsAndFormatsOfOnesOwn() throws {
        let result = load("""
                  prod:
                    access_log: { path: /var/log/prod.log }
                  beta:
                    access_log: { path: beta.log, format: CLF, buffer_kb: 64 }
                  qa:
                    access_log: { path: qa.log, format: "$context.requestId $context.status. took $context.responseLatency" }
            """)
        #expect(result.lines == [])
        let deployment = try #require(result.deployment)
        let prod = try #require(deployment.stages[0].accessLog)
        #expect(prod.path == "/var/log/prod.log")
        #expect(prod.escaping == .json)
        #expect(prod.bufferBytes == 1 << 20)
        #expect(prod.parts.contains(.variable(.traceId)))
        #expect(prod.parts.contains(.variable(.integrationStatusDotted)))
        let beta = try #require(deployment.stages[1].accessLog)
        #expect(beta.escaping == .text)
        #expect(beta.bufferBytes == 64 << 10)
        #expect(beta.parts.first == .variable(.sourceIp))
        let qa = try #require(deployment.stages[2].accessLog)
        #expect(qa.parts == [.variable(.requestId), .literal(Array(" ".utf8)), .variable(.status),
                             .literal(Array(". took ".utf8)), .variable(.responseLatency)])
    }

    @Test func mistakesAreErrorsAtTheirLines() {
        let result = load("""
                  prod:
                    access_log: { format: json }
                  beta:
                    access_log:
                      path: beta.log
                      format: "$context.requestId $context.identity.apiKey"
                  qa:
                    access_log:
                      path: qa.log
                      format: "$context.nope"
                  dev:
                    access_log: { path: dev.log, format: "plain text" }
                  ops:
                    access_log: { path: ops.log, buffer_kb: 1 }
            """)
        #expect(result.deployment == nil)
        #expect(result.lines.count == 5)
        #expect(result.lines[0] == "sluice.yaml:6: error: stages.prod.access_log needs a 'path' (the file lines are appended to)")
        #expect(result.lines[1] == "sluice.yaml:10: error: stages.beta.access_log.format: API key values are never logged; "
                + "use $context.identity.apiKeyId")
        #expect(result.lines[2].hasPrefix("sluice.yaml:14: error: stages.qa.access_log.format: unknown variable "
                                          + "'$context.nope' (known: $context.requestId, "))
        #expect(result.lines[3] == "sluice.yaml:16: error: stages.dev.access_log.format must be json, clf, or a format "
                + "with $context variables")
        #expect(result.lines[4].hasPrefix("sluice.yaml:18: error: stages.ops.access_log.buffer_kb"))
    }
}
