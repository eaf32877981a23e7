import Foundation
import SluiceConfig
import SluiceHTTP1
import Testing

/// A definition with one MOCK operation, GET /m, whose integration is `integration` (YAML, indented
/// for its place).
private func mockDefinition(_ integration: String) -> String {
    """
    openapi: 3.0.1
    paths:
      /m:
        get:
          x-amazon-apigateway-integration:
    \(integration)
    """
}

private func mockResponse(_ result: LoadResult) -> MockResponse? {
    result.deployment?.operations.first?.integration.mockResponse
}

@Suite struct MockSelectionTests {
    @Test func defaultResponse() throws {
        let result = loadDefinition(mockDefinition("""
                    type: mock
                    requestTemplates:
                      application/json: '{"statusCode": 200}'
                    responses:
                      default:
                        statusCode: "201"
                        responseTemplates:
                          application/json: '{"created":true}'
            """))
        #expect(result.diagnostics.isEmpty)
        let response = try #require(mockResponse(result))
        #expect(response == MockResponse(status: 201, contentType: "application/json", body: Array(#"{"created":true}"#.utf8)))
    }

    @Test func selectionPatternRegex() throws {
        let result = loadDefinition(mockDefinition("""
                    type: mock
                    requestTemplates:
                      text/plain: 'ignored'
                      application/json: '{ "statusCode" : 204 }'
                    responses:
                      "4\\\\d{2}":
                        statusCode: "400"
                      "2(0[0-3]|1\\\\d)":
                        statusCode: "299"
                      "2\\\\d{2}":
                        statusCode: "202"
                        responseTemplates:
                          text/plain: 'accepted'
                      default:
                        statusCode: "200"
            """))
        #expect(result.diagnostics.isEmpty)
        let mock = try #require({ () -> MockIntegration? in
            if case .mock(let mock) = result.deployment!.operations[0].integration { return mock }
            return nil
        }())
        // Two request templates: the request's content type chooses, per request.
        #expect(mock.isDynamic)
        #expect(mock.requestTemplates.templates.map(\.contentType) == ["text/plain", "application/json"])
        // 204 → the third response (the first pattern that matches), 201 → the second, 301 → default.
        #expect(mock.responseForStatus[204 - 100] == 2)
        #expect(mock.responseForStatus[201 - 100] == 1)
        #expect(mock.responseForStatus[404 - 100] == 0)
        #expect(mock.responseForStatus[301 - 100] == 3)
        #expect(mock.requestTemplate == #"{ "statusCode" : 204 }"#)
        #expect(mock.integrationResponses.map(\.selectionPattern) == [#"4\d{2}"#, #"2(0[0-3]|1\d)"#, #"2\d{2}"#, nil])
    }

    @Test func selectionIsAnchored() throws {
        // `20` must not match "200" as a prefix, nor `0` inside it.
        let result = loadDefinition(mockDefinition("""
                    type: mock
                    requestTemplates: { application/json: '{"statusCode": 200}' }
                    responses:
                      "20": { statusCode: "201" }
                      "0": { statusCode: "202" }
                      "2.0|x": { statusCode: "203" }
            """))
        #expect(try #require(mockResponse(result)).status == 203)
    }

    @Test func status500FromTheTemplate() throws {
        let result = loadDefinition(mockDefinition("""
                    type: mock
                    requestTemplates:
                      application/json: '{"statusCode": 500}'
                    responses:
                      "5\\\\d{2}":
                        statusCode: "503"
                        responseTemplates:
                          application/json: '{"message":"down for maintenance"}'
                      default:
                        statusCode: "200"
            """))
        let response = try #require(mockResponse(result))
        #expect(response.status == 503)
        #expect(response.bodyText == #"{"message":"down for maintenance"}"#)
    }

    @Test func noMatchAndNoDefaultAnswers500() throws {
        let result = loadDefinition(mockDefinition("""
                    type: mock
                    requestTemplates: { application/json: '{"statusCode": 404}' }
                    responses:
                      "2\\\\d{2}": { statusCode: "200" }
            """))
        let response = try #require(mockResponse(result))
        #expect(response.status == 500)
        #expect(response.bodyText == #"{"message": "Internal server error"}"#)
        #expect(result.lines == [
            "api.yaml:6: warning: GET /m: no integration response matches status 404 and there is no default response; answers 500",
        ])
    }

    @Test func noTemplatesGiveStatus200AndAnEmptyJSONBody() throws {
        let result = loadDefinition(mockDefinition("""
                    type: mock
                    responses: { default: { statusCode: 200 } }
            """))
        #expect(result.diagnostics.isEmpty)
        #expect(try #require(mockResponse(result)) == MockResponse(status: 200, contentType: "application/json"))
    }

    @Test func responseParametersBecomeHeaders() throws {
        let result = loadDefinition(mockDefinition("""
                    type: mock
                    requestTemplates: { application/json: '{"statusCode": 200}' }
                    responses:
                      default:
                        statusCode: 200
                        responseParameters:
                          method.response.header.Access-Control-Allow-Origin: "'*'"
                          method.response.header.X-Empty: "''"
                          method.response.header.Content-Type: "'application/problem+json'"
                          method.response.header.X-Upstream: integration.response.header.X-Upstream
                          method.response.body: "'x'"
                        responseTemplates:
                          application/json: '{}'
            """))
        let response = try #require(mockResponse(result))
        #expect(response.headers == [
            ResponseHeader(name: "Access-Control-Allow-Origin", value: "*"),
            ResponseHeader(name: "X-Empty", value: ""),
        ])
        #expect(response.contentType == "application/problem+json")
        #expect(result.lines == [
            "api.yaml:15: warning: GET /m: response header X-Upstream maps 'integration.response.header.X-Upstream', which a MOCK integration does not have; the header is not sent",
            "api.yaml:16: warning: GET /m: response parameter 'method.response.body' is ignored",
        ])
    }

    @Test func vtlTemplatesAreRenderedPerRequest() throws {
        let result = loadDefinition(mockDefinition("""
                    type: mock
                    requestTemplates:
                      application/json: |
                        #if($input.params('fail') == "yes")
                        {"statusCode": 500}
                        #else
                        {"statusCode": 200}
                        #end
                    responses:
                      "5\\\\d{2}": { statusCode: "500" }
                      default:
                        statusCode: "200"
                        responseTemplates:
                          application/json: '{"path": "$context.resourcePath"}'
            """))
        #expect(result.lines == [])
        guard case .mock(let mock)? = result.deployment?.operations[0].integration else {
            Issue.record("no MOCK")
            return
        }
        #expect(mock.isDynamic)
        #expect(mock.requestTemplates.templates[0].template.externals == [.parameter("fail")])
        #expect(mock.responseForStatus[500 - 100] == 0 && mock.responseForStatus[200 - 100] == 1)

        // Plain text with a `$` before a digit or a `#` colour is still plain: decided at load.
        let plain = loadDefinition(mockDefinition("""
                    type: mock
                    requestTemplates: { application/json: '{"statusCode": 200}' }
                    responses:
                      default:
                        statusCode: "200"
                        responseTemplates:
                          application/json: '{"price": "$5", "colour": "#fff"}'
            """))
        #expect(plain.lines == [])
        #expect(try #require(mockResponse(plain)).bodyText == ##"{"price": "$5", "colour": "#fff"}"##)
    }

    @Test func brokenTemplatesAreErrorsAtTheirLine() throws {
        let result = loadDefinition(mockDefinition("""
                    type: mock
                    requestTemplates:
                      application/json: |
                        {"statusCode": 200}
                        #if($input.params('x') == 1)
                    responses: { default: { statusCode: 200 } }
            """))
        #expect(result.deployment == nil)
        #expect(result.lines == ["api.yaml:10: error: GET /m: the application/json template, column 1: #if without #end"])
    }

    @Test func requestTemplateWithoutStatusCode() throws {
        let result = loadDefinition(mockDefinition("""
                    type: mock
                    requestTemplates: { application/json: '{"hello": 1}' }
                    responses: { default: { statusCode: 200 } }
            """))
        #expect(try #require(mockResponse(result)).status == 200)
        #expect(result.lines == [
            "api.yaml:7: warning: GET /m: the request template has no \"statusCode\"; status 200 is used",
        ])
    }

    @Test func brokenIntegrationResponsesAreErrors() {
        let result = loadDefinition(mockDefinition("""
                    type: mock
                    responses:
                      default: { statusCode: "abc" }
                      "4\\\\d{2}": { responseTemplates: {} }
                      "5\\\\d{2}": "500"
            """))
        #expect(result.deployment == nil)
        #expect(result.lines == [
            "api.yaml:8: error: GET /m: statusCode must be an HTTP status between 200 and 599, not 'abc'",
            "api.yaml:9: error: GET /m: integration response '4\\d{2}' has no statusCode",
            "api.yaml:10: error: GET /m: integration response '5\\d{2}' must be a mapping, not a scalar",
        ])
    }
}

@Suite struct ExampleTests {
    static let exampleFiles: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: awsExamplesFolder.path)) ?? []
        return names.filter { $0.hasSuffix(".json") || $0.hasSuffix(".yaml") }.sorted()
    }()

    @Test func examplesAreThere() {
        #expect(Self.exampleFiles.count == 19)
    }

    @Test(arguments: exampleFiles)
    func awsExampleLoadsWithoutErrors(_ name: String) throws {
        let text = try String(contentsOf: awsExamplesFolder.appendingPathComponent(name), encoding: .utf8)
        let result = loadConfig("""
            apis:
              - name: example
                definition: \(name)
                stages:
                  test: {}
            """, definitions: [name: text])
        #expect(result.errors.isEmpty, "\(result.errors.map(\.description))")
        #expect(result.deployment != nil)
        for diagnostic in result.diagnostics {
            #expect(diagnostic.file == name || diagnostic.file == "sluice.yaml")
            #expect(diagnostic.line > 0)
        }
    }

    @Test func allExamplesTogether() throws {
        // Every example at once, each under its own base path: no mapping or route conflicts, and
        // the MOCK routes of the calculator example answer.
        var config = "apis:\n"
        var files: [String: String] = [:]
        for (index, name) in Self.exampleFiles.enumerated() {
            files[name] = try String(contentsOf: awsExamplesFolder.appendingPathComponent(name), encoding: .utf8)
            config += "  - { name: e\(index), definition: \(name), base_path: e\(index), stages: { test: {} } }\n"
        }
        let result = loadConfig(config, definitions: files)
        let deployment = try #require(result.deployment)
        #expect(result.errors.isEmpty)
        let calculator = try #require(Self.exampleFiles.firstIndex(of: "simple-calc-lambda-api-swagger-definition.1.swagger20.json"))
        let routed = try #require(route(deployment, .post, "/e\(calculator)/test/1/2"))
        #expect(routed.operation.resourcePath == "/{a}/{b}")
        #expect(routed.parameters == ["1", "2"])
        // Its template reads $context: rendered per request, with the default response (404).
        guard case .mock(let mock) = routed.operation.integration else {
            Issue.record("not a MOCK")
            return
        }
        #expect(mock.isDynamic)
        #expect(mock.integrationResponses[mock.responseForStatus[200 - 100]].statusCode == 404)
    }
}

@Suite struct DemoAndDeployTests {
    @Test func demoLoadsCleanly() throws {
        let result = ConfigLoader.loadDemo(allowedCPUs: testCPUs, resolver: testResolver)
        #expect(result.diagnostics.isEmpty, "\(result.lines)")
        let deployment = try #require(result.deployment)
        #expect(deployment.listen == ListenAddress(host: "0.0.0.0", port: 8080))
        #expect(deployment.admin == ListenAddress(host: "127.0.0.1", port: 9901))
        #expect(deployment.apis.map(\.name) == ["demo"])
        #expect(deployment.stages.map(\.name) == ["demo"])

        let expected: [(HTTPMethod, String, Int, String)] = [
            (.get, "/demo/hello", 200, #"{"message":"Hello from Sluice"}"#),
            (.get, "/demo/mock", 200, #"{"ok":true}"#),
            (.get, "/demo/pets/42", 200, #"{"id":1,"type":"dog","price":249.99}"#),
            (.post, "/demo/echo-status", 418, #"{"message":"I am a teapot"}"#),
        ]
        for (method, path, status, body) in expected {
            let routed = try #require(route(deployment, method, path))
            let response = try #require(routed.operation.integration.mockResponse)
            #expect(response.status == status)
            #expect(response.bodyText == body)
            #expect(response.contentType == "application/json")
        }
        let root = try #require(route(deployment, .get, "/demo")?.operation.integration.mockResponse)
        #expect(root.bodyText.contains("/demo/hello"))
        let pets = try #require(route(deployment, .get, "/demo/pets")?.operation.integration.mockResponse)
        #expect(pets.headers == [ResponseHeader(name: "Access-Control-Allow-Origin", value: "*")])
        #expect(route(deployment, .post, "/demo/hello") == nil)
        #expect(route(deployment, .get, "/mock") == nil)
    }

    @Test func deployExampleLoads() throws {
        let path = packageRoot.appendingPathComponent("deploy/sluice.yaml").path
        let result = ConfigLoader.load(path: path, environment: testDisk)
        let deployment = try #require(result.deployment, "\(result.lines)")
        // The example shows the future sections too; each is a warning, nothing else is.
        #expect(result.warnings.allSatisfy { $0.message.contains("not supported yet") }, "\(result.lines)")
        #expect(deployment.apis.map(\.name) == ["petstore"])
        let pet = try #require(route(deployment, .get, "/prod/pets/7"))
        #expect(pet.operation.resourcePath == "/pets/{petId}")
        #expect(pet.parameters == ["7"])
        #expect(pet.operation.integration.mockResponse?.status == 200)
        #expect(!pet.operation.apiKeyRequired)
        #expect(try #require(route(deployment, .post, "/prod/pets")).operation.apiKeyRequired)
        #expect(deployment.usagePlans.map(\.name) == ["gold"] && deployment.apiKeys.map(\.name) == ["example"])
        #expect(deployment.stages[0].methodThrottles.count == 1)
        let proxied = try #require(route(deployment, .patch, "/prod/anything/else"))
        #expect(proxied.operation.method == "ANY")
        #expect(proxied.parameters == ["anything/else"])

        // The HTTP_PROXY route: each stage's `backend` variable is its upstream.
        let store = try #require(route(deployment, .get, "/dev/store/a/b"))
        let http = try #require(store.operation.integration.http)
        #expect(http.timeoutMilliseconds == 10_000)
        #expect(http.targets.compactMap { $0.map { deployment.upstreams[$0.upstream].description } }
                == ["http://127.0.0.1:18001", "http://127.0.0.1:18002"])
        #expect(http.targets[1]?.path == [.literal("/"), .parameter("proxy")])
        // The AWS_PROXY route, mapped by lambda_functions.
        let hello = try #require(route(deployment, .get, "/prod/hello")?.operation.integration.lambda)
        #expect(hello.targets.map { $0?.functionName } == ["hello", "hello"])
        #expect(deployment.upstreams.map(\.description).contains("http://127.0.0.1:9000"))
    }
}
