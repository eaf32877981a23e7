import SluiceConfig
import SluiceHTTP1
import SluiceRouter
import Testing

private let petsDefinition = """
    openapi: 3.0.1
    paths:
      /pets:
        get:
          x-amazon-apigateway-integration: { type: mock, requestTemplates: { application/json: '{"statusCode": 200}' }, responses: { default: { statusCode: 200 } } }
    """

@Suite struct MappingTests {
    @Test func stagesInTheDefaultSpace() throws {
        let result = loadConfig("""
            apis:
              - name: a
                definition: pets.yaml
                stages:
                  prod: { variables: { backend: "10.0.0.1:80" } }
                  dev: {}
            """, definitions: ["pets.yaml": petsDefinition])
        let deployment = try #require(result.deployment)
        #expect(result.diagnostics.isEmpty)
        #expect(deployment.apis.count == 1)
        #expect(deployment.stages.map(\.name) == ["prod", "dev"])
        #expect(route(deployment, .get, "/prod/pets")?.stage.variables == ["backend": "10.0.0.1:80"])
        #expect(route(deployment, .get, "/dev/pets")?.stage.name == "dev")
        #expect(route(deployment, .get, "/test/pets") == nil)
        #expect(route(deployment, .get, "/pets") == nil)
    }

    @Test func theDeploymentIDFollowsEveryInputFile() throws {
        let config = """
            apis:
              - name: a
                definition: pets.yaml
                stages:
                  prod: {}
            """
        let first = try #require(loadConfig(config, definitions: ["pets.yaml": petsDefinition]).deployment)
        let again = try #require(loadConfig(config, definitions: ["pets.yaml": petsDefinition]).deployment)
        let definitionChanged = try #require(
            loadConfig(config, definitions: ["pets.yaml": petsDefinition + "\n"]).deployment)
        let configChanged = try #require(
            loadConfig(config + "\n", definitions: ["pets.yaml": petsDefinition]).deployment)
        #expect(first.id.count == 6)
        #expect(first.id.allSatisfy { $0.isLowercase || $0.isNumber })
        #expect(first.id == again.id)
        #expect(definitionChanged.id != first.id)
        #expect(configChanged.id != first.id)
    }

    @Test func hostBasePathAndMappedStage() throws {
        let result = loadConfig("""
            apis:
              - name: custom
                definition: pets.yaml
                host: API.example.com
                base_path: /v1/
                stage: prod
                stages: { prod: {} }
              - name: staged
                definition: pets.yaml
                base_path: shop
                stages: { prod: {}, beta: {} }
              - name: plain
                definition: pets.yaml
                stages: { live: {} }
            """, definitions: ["pets.yaml": petsDefinition])
        let deployment = try #require(result.deployment)
        #expect(result.diagnostics.isEmpty)
        #expect(deployment.apis[0].host == "api.example.com")
        #expect(deployment.apis[0].basePath == "v1")
        #expect(deployment.apis[0].mappedStage == "prod")
        #expect(deployment.apis[1].basePath == "shop")
        #expect(deployment.apis[2].basePath == nil)

        let custom = try #require(route(deployment, .get, "/v1/pets", host: "api.example.com:443"))
        #expect(deployment.apis[custom.operation.api].name == "custom")
        #expect(route(deployment, .get, "/v1/prod/pets", host: "api.example.com") == nil)
        #expect(route(deployment, .get, "/v1/pets") == nil)

        let staged = try #require(route(deployment, .get, "/shop/beta/pets"))
        #expect(deployment.apis[staged.operation.api].name == "staged")
        #expect(staged.stage.name == "beta")
        #expect(route(deployment, .get, "/shop/pets") == nil)

        #expect(route(deployment, .get, "/live/pets")?.stage.name == "live")
        // The declared host sees only its own API.
        #expect(route(deployment, .get, "/live/pets", host: "api.example.com") == nil)
    }

    @Test func duplicateMappingsAreErrors() {
        let result = loadConfig("""
            apis:
              - name: a
                definition: pets.yaml
                stages: { prod: {}, dev: {} }
              - name: b
                definition: pets.yaml
                stages:
                  test: {}
                  prod: {}
              - name: c
                definition: pets.yaml
                host: api.example.com
                stage: prod
                stages: { prod: {} }
              - name: d
                definition: pets.yaml
                host: api.example.com
                stage: v2
                stages: { v2: {} }
              - name: a
                definition: pets.yaml
                stages: { other: {} }
            """, definitions: ["pets.yaml": petsDefinition])
        #expect(result.deployment == nil)
        #expect(result.errors.map(\.description) == [
            "sluice.yaml:9: error: stage 'prod' of API 'b' at the default host, no base path is already mapped by API 'a' (line 2)",
            "sluice.yaml:15: error: API 'd' is mapped to host api.example.com, no base path, which API 'c' (line 10) already maps to stage prod",
            "sluice.yaml:20: error: API name 'a' is already used at line 2",
        ])
    }

    @Test func apiEntryErrors() {
        let result = loadConfig("""
            apis:
              - name: no-stages
                definition: pets.yaml
              - name: bad stage
                definition: pets.yaml
                stages: { prod: {} }
              - name: c
                definition: pets.yaml
                stage: beta
                stages: { "pro d": {}, prod: {} }
              - name: e
                definition: pets.yaml
                stage: beta
                stages: { prod: {} }
              - definition: pets.yaml
                stages: { prod: {} }
              - name: f
                host: "https://api.example.com"
                definition: pets.yaml
                stages: { prod: { variables: { "bad-name": x } } }
            """, definitions: ["pets.yaml": petsDefinition])
        #expect(result.deployment == nil)
        #expect(result.errors.map(\.description) == [
            "sluice.yaml:2: error: API 'no-stages' needs at least one stage ('stages: { prod: {} }')",
            "sluice.yaml:4: error: API name 'bad stage' may only contain letters, digits, '_', '-' and '.'",
            "sluice.yaml:10: error: stage name 'pro d' may only contain letters, digits, '_' and '-' (or be $default)",
            "sluice.yaml:13: error: stage 'beta' is not one of API 'e''s stages (prod)",
            "sluice.yaml:15: error: an API needs a 'name'",
            "sluice.yaml:18: error: host 'https://api.example.com' must be a host name such as api.example.com (no scheme, port or path; no wildcards)",
            "sluice.yaml:20: error: stage variable name 'bad-name' may only contain letters, digits and '_'",
        ])
    }

    @Test func mappedStageLeavesOtherStagesUnreachable() {
        let result = loadConfig("""
            apis:
              - name: a
                definition: pets.yaml
                stage: prod
                stages:
                  prod: {}
                  dev: {}
            """, definitions: ["pets.yaml": petsDefinition])
        #expect(result.deployment != nil)
        #expect(result.lines == [
            "sluice.yaml:7: warning: stage 'dev' of API 'a' is not reachable: 'stage: prod' maps every URL of this API to stage prod",
        ])
    }

    @Test func nestedPrefixesAreWarnedAndTheLongerWins() throws {
        let result = loadConfig("""
            apis:
              - name: outer
                definition: outer.yaml
                stages: { v1: {} }
              - name: inner
                definition: pets.yaml
                base_path: v1
                stages: { prod: {} }
            """, definitions: [
                "pets.yaml": petsDefinition,
                "outer.yaml": """
                    openapi: 3.0.1
                    paths:
                      /prod/pets:
                        get:
                          x-amazon-apigateway-integration: { type: mock, responses: { default: { statusCode: 200 } } }
                      /prod/other:
                        get:
                          x-amazon-apigateway-integration: { type: mock, responses: { default: { statusCode: 200 } } }
                    """,
            ])
        let deployment = try #require(result.deployment)
        #expect(result.lines == [
            "sluice.yaml:2: warning: GET /prod/pets of API 'outer' stage 'v1' is shadowed by API 'inner' stage 'prod' (same URL); further shadowed routes between them are not listed",
            "sluice.yaml:5: warning: URLs under /v1/prod of API 'inner' also fall under /v1 of API 'outer'; where both match, API 'inner' (the longer prefix) answers",
        ])
        #expect(deployment.apis[route(deployment, .get, "/v1/prod/pets")!.operation.api].name == "inner")
        #expect(deployment.apis[route(deployment, .get, "/v1/prod/other")!.operation.api].name == "outer")
    }

    @Test func sameRouteTwiceInOneDefinitionIsAnError() {
        let result = loadDefinition("""
            openapi: 3.0.1
            paths:
              /pets/{id}:
                get:
                  x-amazon-apigateway-integration: { type: mock, responses: { default: { statusCode: 200 } } }
              /pets/{petId}:
                get:
                  x-amazon-apigateway-integration: { type: mock, responses: { default: { statusCode: 200 } } }
            """)
        #expect(result.deployment == nil)
        #expect(result.lines == ["api.yaml:7: error: GET /pets/{petId} matches the same requests as GET /pets/{id} (line 4)"])
    }
}

@Suite struct DefinitionTests {
    @Test func operationsAndRoutes() throws {
        let result = loadDefinition("""
            swagger: "2.0"
            info: { title: t }
            basePath: /ignored
            paths:
              /:
                get:
                  x-amazon-apigateway-integration: { type: MOCK, responses: { default: { statusCode: 200 } } }
              /pets/{petId}:
                parameters: []
                get:
                  x-amazon-apigateway-integration: { type: Mock, responses: { default: { statusCode: 200 } } }
                delete:
                  x-amazon-apigateway-integration: { type: mock, responses: { default: { statusCode: 200 } } }
              /{proxy+}:
                x-amazon-apigateway-any-method:
                  x-amazon-apigateway-integration: { type: mock, responses: { default: { statusCode: 200 } } }
            """)
        let deployment = try #require(result.deployment)
        #expect(result.diagnostics.isEmpty)
        #expect(deployment.operations.map { "\($0.method) \($0.resourcePath)" } == [
            "GET /", "GET /pets/{petId}", "DELETE /pets/{petId}", "ANY /{proxy+}",
        ])
        #expect(deployment.operations[1].pathParameterNames == ["petId"])
        #expect(deployment.operations[3].pathParameterNames == ["proxy"])
        #expect(route(deployment, .get, "/prod")?.operation.resourcePath == "/")
        #expect(route(deployment, .delete, "/prod/pets/7")?.parameters == ["7"])
        #expect(route(deployment, .put, "/prod/pets/7")?.parameters == ["pets/7"])
        #expect(route(deployment, .put, "/prod/pets/7")?.operation.method == "ANY")
    }

    @Test func jsonErrorsHaveExactLines() {
        // Line 9 has a path whose greedy parameter is not last; line 14 an integration that is a list.
        let result = loadDefinition("""
            {
              "openapi": "3.0.1",
              "info": {
                "title": "broken",
                "version": "1"
              },
              "paths": {
                "/ok": { "get": {} },
                "/{proxy+}/x": {
                  "get": {}
                },
                "/list": {
                  "get": {
                    "x-amazon-apigateway-integration": ["mock"]
                  }
                }
              }
            }
            """, name: "api.json")
        #expect(result.deployment == nil)
        #expect(result.lines == [
            "api.json:8: warning: GET /ok has no x-amazon-apigateway-integration; answers 500",
            "api.json:9: error: resource path '/{proxy+}/x': greedy parameter {proxy+} must be the last segment",
            "api.json:14: error: GET /list: x-amazon-apigateway-integration must be a mapping, not a list",
        ])
    }

    @Test func jsonSyntaxErrorHasItsLine() {
        let result = loadDefinition("""
            {
              "openapi": "3.0.1",
              "paths": {
                "/a": {}
                "/b": {}
              }
            }
            """, name: "api.json")
        #expect(result.deployment == nil)
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.file == "api.json")
        #expect(result.errors.first?.line == 5)
    }

    @Test func jsonWithTabsKeepsItsLines() {
        let result = loadDefinition("{\n\t\"openapi\": \"3.0.1\",\n\t\"paths\": {\n\t\t\"/a\": {\n\t\t\t\"get\": {}\n\t\t}\n\t}\n}\n",
                                    name: "api.json")
        #expect(result.deployment != nil)
        #expect(result.lines == ["api.json:5: warning: GET /a has no x-amazon-apigateway-integration; answers 500"])
    }

    @Test func compactJSONLoads() throws {
        let result = loadDefinition(#"{"openapi":"3.0.1","paths":{"/a/{id}":{"get":{"x-amazon-apigateway-integration":{"type":"mock","responses":{"default":{"statusCode":"200","responseTemplates":{"application/json":"{\"a\":\"\/x\"}"}}}}}}}}"#,
                                    name: "api.json")
        #expect(result.diagnostics.isEmpty, "\(result.lines)")
        let deployment = try #require(result.deployment)
        #expect(route(deployment, .get, "/prod/a/1")?.operation.integration.mockResponse?.bodyText == #"{"a":"/x"}"#)
    }

    @Test func yamlStructureErrors() {
        let result = loadDefinition("""
            openapi: 3.0.1
            paths:
              - /pets
            """)
        #expect(result.lines == ["api.yaml:3: error: 'paths' must be a mapping, not a list"])
        let notMapping = loadDefinition("just text\n")
        #expect(notMapping.lines == [
            "api.yaml:1: error: an API definition must be an OpenAPI or Swagger document (a mapping), not a scalar",
        ])
    }

    @Test(arguments: [
        ("/pets/{petId", "resource path '/pets/{petId': segment '{petId' must be literal text or a whole {parameter}"),
        ("/pets//x", "resource path '/pets//x' has an empty segment ('//')"),
        ("/file.{ext}", "resource path '/file.{ext}': segment 'file.{ext}' must be literal text or a whole {parameter}"),
        ("pets", "resource path 'pets' must start with '/'"),
    ])
    func invalidPathTemplates(_ path: String, _ message: String) {
        let result = loadDefinition("""
            openapi: 3.0.1
            paths:
              "\(path)":
                get: {}
            """)
        #expect(result.errors.map(\.description) == ["api.yaml:3: error: \(message)"])
    }

    @Test func integrationTypesAndExtensions() throws {
        let result = loadDefinition("""
            openapi: 3.0.1
            x-amazon-apigateway-endpoint-configuration: { disableExecuteApiEndpoint: true }
            x-amazon-apigateway-documentation: { version: "1" }
            x-amazon-apigateway-frobnicate: true
            paths:
              /a:
                get:
                  x-amazon-apigateway-auth: { type: AWS_IAM }
                  x-amazon-apigateway-integration: { type: http_proxy, uri: "http://example.com" }
                post:
                  x-amazon-apigateway-auth: { type: NONE }
                  x-amazon-apigateway-integration: { type: AWS, uri: "arn:aws:apigateway:us-east-1:s3:path/b" }
                put:
                  x-amazon-apigateway-integration: { type: aws_proxy }
                trace: {}
                options:
                  x-amazon-apigateway-integration:
                    $ref: "#/components/x-amazon-apigateway-integrations/shared"
            components:
              x-amazon-apigateway-integrations:
                shared: { type: mock, responses: { default: { statusCode: 200 } } }
              securitySchemes:
                sigv4:
                  type: apiKey
                  x-amazon-apigateway-authtype: awsSigv4
            """)
        let deployment = try #require(result.deployment)
        #expect(result.lines == [
            "sluice.yaml:1: warning: 1 method(s) require IAM (SigV4) authorization and iam.credentials lists no key: every request to them answers 403",
            "api.yaml:2: warning: x-amazon-apigateway-endpoint-configuration is not supported yet and is ignored",
            "api.yaml:4: warning: unknown extension x-amazon-apigateway-frobnicate is ignored",
            "api.yaml:12: warning: POST /a: AWS service integrations are not supported; answers 500",
            "api.yaml:14: warning: PUT /a: the AWS_PROXY integration has no uri; answers 500",
            "api.yaml:15: warning: TRACE /a: API Gateway does not route TRACE; the operation is ignored",
        ])
        let methods = deployment.operations.map(\.method)
        #expect(methods == ["GET", "POST", "PUT", "OPTIONS"])
        #expect(deployment.operations[0].integration.http?.isProxy == true)
        #expect(deployment.operations[0].authorization == .iam)
        #expect(deployment.operations[1].authorization == .none)
        #expect(deployment.operations[2].integration.unsupportedReason == "AWS_PROXY integration without a uri")
        #expect(deployment.operations[3].integration.mockResponse?.status == 200)
    }

    @Test func minimumCompressionSize() throws {
        let result = loadDefinition("""
            openapi: 3.0.1
            x-amazon-apigateway-minimum-compression-size: 1024
            paths:
              /a:
                get:
                  x-amazon-apigateway-integration: { type: mock, responses: { default: { statusCode: 200 } } }
            """)
        let deployment = try #require(result.deployment)
        #expect(result.lines.isEmpty)
        #expect(deployment.apis[0].minimumCompressionSizeBytes == 1024)
        // Its static MOCKs stay static: the worker compresses their answers once, at start.
        guard case .mock(let mock) = deployment.operations[0].integration else {
            Issue.record("not a MOCK")
            return
        }
        #expect(!mock.isDynamic)
        for (value, shown) in [("-1", "-1"), ("10485761", "10485761"), ("1.5", "1.5"), ("big", "big"), ("[1]", "a list")] {
            let refused = loadDefinition("""
                openapi: 3.0.1
                x-amazon-apigateway-minimum-compression-size: \(value)
                paths: {}
                """)
            #expect(refused.errors.map(\.description) == [
                "api.yaml:2: error: x-amazon-apigateway-minimum-compression-size must be a whole number of bytes from 0 "
                    + "to 10485760, not '\(shown)'",
            ])
        }
        let zero = loadDefinition("""
            openapi: 3.0.1
            x-amazon-apigateway-minimum-compression-size: 0
            paths: {}
            """)
        #expect(zero.deployment?.apis[0].minimumCompressionSizeBytes == 0)
    }

    /// A misspelt or missing integration type would make every request answer 500: the
    /// definition is refused instead.
    @Test func unknownOrMissingIntegrationTypesAreErrors() {
        let result = loadDefinition("""
            openapi: 3.0.1
            paths:
              /a:
                patch:
                  x-amazon-apigateway-integration: { type: HTTP_PROXI, uri: "http://example.com" }
                delete:
                  x-amazon-apigateway-integration: { uri: "http://example.com" }
            """)
        #expect(result.deployment == nil)
        #expect(result.lines == [
            "api.yaml:5: error: PATCH /a: unknown integration type 'HTTP_PROXI' (MOCK, HTTP, HTTP_PROXY, AWS_PROXY or AWS)",
            "api.yaml:7: error: DELETE /a: the integration has no type (MOCK, HTTP, HTTP_PROXY, AWS_PROXY or AWS)",
        ])
    }

    @Test func unresolvableReferenceIsAnError() {
        let result = loadDefinition("""
            openapi: 3.0.1
            paths:
              /a:
                get:
                  x-amazon-apigateway-integration:
                    $ref: "#/components/x-amazon-apigateway-integrations/missing"
            """)
        #expect(result.lines == [
            "api.yaml:6: error: GET /a integration: '$ref' target '#/components/x-amazon-apigateway-integrations/missing' does not exist",
        ])
    }
}
