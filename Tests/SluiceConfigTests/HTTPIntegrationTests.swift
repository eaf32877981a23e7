import Foundation
import SluiceConfig
import SluiceHTTP1
import Testing

/// A definition with one operation, `METHOD PATH`, whose integration is `integration` (YAML, written
/// at the indentation of an integration's fields, 8 spaces).
private func definition(_ integration: String, path: String = "/m", method: String = "get") -> String {
    """
    openapi: 3.0.1
    paths:
      \(path):
        \(method):
          x-amazon-apigateway-integration:
    \(integration)
    """
}

/// A sluice.yaml with one API `api` on `api.yaml`, and `extra` appended (YAML at top level).
private func load(_ definition: String, stages: String = "prod: {}", extra: String = "",
                  resolver: HostResolver = testResolver) -> LoadResult {
    loadConfig("""
        apis:
          - name: api
            definition: api.yaml
            stages:
              \(stages)
        \(extra)
        """, definitions: ["api.yaml": definition], resolver: resolver)
}

private func example(_ name: String) throws -> String {
    try String(contentsOf: awsExamplesFolder.appendingPathComponent(name), encoding: .utf8)
}

@Suite struct HTTPProxyImportTests {
    @Test(arguments: ["setup-http-integrations.1.oas30.json", "setup-http-integrations.2.swagger20.json"])
    func setupHTTPIntegrationsExample(_ name: String) throws {
        let result = loadConfig("""
            apis:
              - name: example
                definition: \(name)
                stages: { test: {} }
            """, definitions: [name: try example(name)])
        #expect(result.diagnostics.isEmpty, "\(result.lines)")
        let deployment = try #require(result.deployment)
        let routed = try #require(route(deployment, .delete, "/test/pets/7"))
        #expect(routed.operation.method == "ANY")
        #expect(routed.operation.pathParameterNames == ["proxy"])
        let http = try #require(routed.operation.integration.http)
        #expect(http.isProxy)
        #expect(http.method == nil)
        #expect(http.timeoutMilliseconds == 29_000)
        #expect(http.responses.isEmpty)
        #expect(http.responseForStatus.isEmpty)
        #expect(http.targets.count == 1)
        let target = try #require(http.targets[0])
        #expect(target.upstream == 0)
        #expect(target.hostHeader == "petstore-demo-endpoint.execute-api.com")
        #expect(target.path == [.literal("/petstore/"), .parameter("proxy")])
        #expect(target.query.isEmpty)
        #expect(target.parameters == [ParameterMapping(target: .path("proxy"), source: .pathParameter(0))])
        #expect(deployment.upstreams == [
            Upstream(scheme: "http", host: "petstore-demo-endpoint.execute-api.com", port: 80,
                     addresses: [ResolvedAddress(host: "192.0.2.1", port: 80, isIPv6: false)]),
        ])
    }

    @Test func implicitPathMappingFromTheSameNamedParameter() throws {
        // An HTTP API export (and API Gateway's console for REST proxy resources) relies on it:
        // {petId} in the URI takes the route's {petId}.
        let result = loadConfig("""
            apis:
              - name: example
                definition: http-api-open-api.1.oas30.json
                stages: { prod: {} }
            """, definitions: ["http-api-open-api.1.oas30.json": try example("http-api-open-api.1.oas30.json")])
        let deployment = try #require(result.deployment, "\(result.lines)")
        #expect(!result.lines.contains { $0.contains("HTTP_PROXY") }, "\(result.lines)")
        let routed = try #require(route(deployment, .get, "/prod/pets/42"))
        let http = try #require(routed.operation.integration.http)
        #expect(http.method == .get)
        let target = try #require(http.targets[0])
        #expect(target.hostHeader == "petstore.execute-api.us-west-1.amazonaws.com")
        #expect(target.path == [.literal("/petstore/pets/"), .parameter("petId")])
        #expect(target.parameters == [ParameterMapping(target: .path("petId"), source: .pathParameter(0))])
        // Three operations, one upstream: one pool.
        #expect(deployment.upstreams.count == 1)
    }

    @Test func unmappedURIVariableWithoutAMatchingParameterAnswers500() throws {
        let result = load(definition("""
                    type: http_proxy
                    uri: "http://backend.test/items/{itemId}"
            """))
        let deployment = try #require(result.deployment)
        #expect(result.lines == [
            "api.yaml:7: warning: GET /m: {itemId} in the integration URI is not mapped (no integration.request.path.itemId in requestParameters) and /m has no path parameter 'itemId'; answers 500",
        ])
        #expect(deployment.operations[0].integration.unsupportedReason == "{itemId} in the integration URI is not mapped")
    }

    @Test func explicitMappingWinsOverTheImplicitOne() throws {
        let result = load(definition("""
                    type: http
                    httpMethod: POST
                    uri: "http://backend.test:8080/v2/{id}/{proxy+}?format=json&flag&raw={petId}"
                    requestParameters:
                      integration.request.path.id: method.request.path.petId
                    responses: { default: { statusCode: 200 } }
            """, path: "/pets/{petId}/{proxy+}", method: "x-amazon-apigateway-any-method"))
        #expect(result.diagnostics.isEmpty, "\(result.lines)")
        let http = try #require(result.deployment?.operations[0].integration.http)
        #expect(!http.isProxy)
        #expect(http.method == .post)
        let target = try #require(http.targets[0])
        #expect(target.hostHeader == "backend.test:8080")
        #expect(target.path == [.literal("/v2/"), .parameter("id"), .literal("/"), .parameter("proxy")])
        // Placeholders in the query are filled like the path's (here implicitly, from petId).
        #expect(target.query == [QueryParameter(name: "format", value: "json"), QueryParameter(name: "flag", value: nil),
                                 QueryParameter(name: "raw", value: "{petId}")])
        #expect(target.query[2].valuePieces == [.parameter("petId")])
        #expect(target.parameters == [
            ParameterMapping(target: .path("id"), source: .pathParameter(0)),
            ParameterMapping(target: .path("proxy"), source: .pathParameter(1)),
            ParameterMapping(target: .path("petId"), source: .pathParameter(0)),
        ])
        #expect(result.deployment?.upstreams.first?.port == 8080)
    }

    @Test func uriProblems() throws {
        let cases: [(String, String)] = [
            ("ftp://files.test/a", "the scheme must be http or https, not 'ftp'"),
            ("backend.test/a", "it does not start with http:// or https://"),
            ("http://:8080/a", "it has no host"),
            ("http://backend.test:99999/", "the port must be a number between 1 and 65535, not '99999'"),
            ("http://user@backend.test/", "user information ('user@') is not supported"),
            ("http://back end.test/", "'back end.test' is not a host name"),
            ("http://backend.test/a b", "its path or query contains a space, which must be percent-encoded"),
            ("http://backend.test/{a", "its path has a '{' without '}'"),
        ]
        for (uri, problem) in cases {
            let result = load(definition("""
                        type: http_proxy
                        uri: "\(uri)"
                """))
            #expect(result.deployment == nil)
            #expect(result.lines == ["api.yaml:7: error: GET /m: the integration URI '\(uri)' is not a URL: \(problem)"])
        }
    }

    @Test func httpsUpstreamsAreVerifiedByTheirHostOrTlsConfigAndIPv6LiteralsNeedNoResolver() throws {
        let result = load(definition("""
                    type: http_proxy
                    uri: "https://secure.test/a"
            """) + """

              /v6:
                get:
                  x-amazon-apigateway-integration:
                    type: http_proxy
                    uri: "http://[::1]:9000/b"
            """)
        let deployment = try #require(result.deployment)
        #expect(result.lines.isEmpty)
        #expect(deployment.upstreams.map(\.description) == ["https://secure.test:443", "http://[::1]:9000"])
        #expect(deployment.upstreams[0].tls == UpstreamTLS(serverName: "secure.test", verify: true))
        #expect(deployment.upstreams[1].tls == nil)
        #expect(deployment.upstreams[1].addresses == [ResolvedAddress(host: "::1", port: 9000, isIPv6: true)])
        #expect(deployment.operations[1].integration.http?.targets[0]?.hostHeader == "[::1]:9000")
    }

    @Test func tlsConfigNamesTheServerToVerifyOrSkipsVerification() throws {
        let result = load(definition("""
                    type: http_proxy
                    uri: "https://secure.test/a"
                    tlsConfig: {serverNameToVerify: Internal.Example.com}
            """) + """

              /skip:
                get:
                  x-amazon-apigateway-integration:
                    type: http_proxy
                    uri: "https://secure.test/b"
                    tlsConfig: {insecureSkipVerification: true, somethingElse: 1}
              /broken:
                get:
                  x-amazon-apigateway-integration:
                    type: http_proxy
                    uri: "https://secure.test/c"
                    tlsConfig: {insecureSkipVerification: maybe}
            """)
        #expect(result.deployment == nil)
        #expect(result.lines == [
            "api.yaml:14: warning: GET /skip: tlsConfig.somethingElse is not supported and is ignored",
            "api.yaml:20: error: GET /broken: tlsConfig.insecureSkipVerification must be true or false",
        ])
        let fixed = load(definition("""
                    type: http_proxy
                    uri: "https://secure.test/a"
                    tlsConfig: {serverNameToVerify: Internal.Example.com}
            """) + """

              /skip:
                get:
                  x-amazon-apigateway-integration:
                    type: http_proxy
                    uri: "https://secure.test/b"
                    tlsConfig: {insecureSkipVerification: true}
            """)
        let deployment = try #require(fixed.deployment)
        // The same host checked two ways is two pools.
        #expect(deployment.upstreams.map(\.tls) == [UpstreamTLS(serverName: "internal.example.com", verify: true),
                                                    UpstreamTLS(serverName: "secure.test", verify: false)])
    }

    @Test func vpcLinkAndMissingURI() throws {
        let result = load(definition("""
                    type: http_proxy
                    connectionType: VPC_LINK
                    connectionId: "${stageVariables.vpcLinkId}"
                    uri: "http://nlb.test"
            """) + """

              /none:
                get:
                  x-amazon-apigateway-integration: { type: http, httpMethod: GET }
            """)
        let deployment = try #require(result.deployment)
        #expect(result.lines == [
            "api.yaml:7: warning: GET /m: connectionType VPC_LINK: Sluice connects to the URI's host directly (there is no VPC link outside AWS)",
            "api.yaml:12: warning: GET /none: the HTTP integration has no uri; answers 500",
        ])
        #expect(deployment.operations[0].integration.http?.targets[0]?.path == [.literal("/")])
    }
}

@Suite struct StageVariableTests {
    private let twoStages = """
        openapi: 3.0.1
        paths:
          /pets/{petId}:
            get:
              x-amazon-apigateway-integration:
                type: http
                httpMethod: GET
                uri: "http://${stageVariables.backend}/${stageVariables.version}/pets/{petId}"
                requestParameters:
                  integration.request.header.x-stage-tag: stageVariables.tag
                responses: { default: { statusCode: "200" } }
          /orders:
            post:
              x-amazon-apigateway-integration:
                type: http_proxy
                uri: "http://${stageVariables.backend}/orders"
        """

    @Test func perStageTargetsAndOnePoolPerDistinctUpstream() throws {
        let result = loadConfig("""
            apis:
              - name: shop
                definition: api.yaml
                stages:
                  prod: { variables: { backend: "10.0.0.1:8080", version: v2, tag: live } }
                  beta: { variables: { backend: "beta.test", version: v3, tag: beta } }
                  canary: { variables: { backend: "10.0.0.1:8080", version: v3, tag: canary } }
              - name: other
                definition: other.yaml
                base_path: other
                stages: { prod: {} }
            """, definitions: ["api.yaml": twoStages, "other.yaml": "openapi: 3.0.1\npaths: {}\n"])
        #expect(result.lines == ["other.yaml:2: warning: 'paths' is empty; the API has no routes"])
        let deployment = try #require(result.deployment)
        #expect(deployment.stages.map(\.name) == ["prod", "beta", "canary", "prod"])
        #expect(deployment.upstreams.map(\.description) == ["http://10.0.0.1:8080", "http://beta.test:80"])
        #expect(deployment.upstreams[0].addresses == [ResolvedAddress(host: "10.0.0.1", port: 8080, isIPv6: false)])

        let pets = try #require(deployment.operations[0].integration.http)
        #expect(pets.targets.count == 4)
        #expect(pets.targets[3] == nil)  // the other API's stage
        let prod = try #require(pets.targets[0])
        let beta = try #require(pets.targets[1])
        let canary = try #require(pets.targets[2])
        #expect(prod.upstream == 0 && canary.upstream == 0 && beta.upstream == 1)
        #expect(prod.hostHeader == "10.0.0.1:8080")
        #expect(beta.hostHeader == "beta.test")
        #expect(prod.path == [.literal("/v2/pets/"), .parameter("petId")])
        #expect(beta.path == [.literal("/v3/pets/"), .parameter("petId")])
        #expect(prod.parameters.first == ParameterMapping(target: .header("x-stage-tag"), source: .literal("live")))
        #expect(canary.parameters.first == ParameterMapping(target: .header("x-stage-tag"), source: .literal("canary")))

        let orders = try #require(deployment.operations[1].integration.http)
        #expect(orders.targets.compactMap { $0?.upstream } == [0, 1, 0])
    }

    @Test func missingStageVariablesAreErrorsAtTheURI() {
        let result = loadConfig("""
            apis:
              - name: shop
                definition: api.yaml
                stages:
                  prod: { variables: { backend: "10.0.0.1", version: v2, tag: live } }
                  dev: { variables: { version: v1 } }
            """, definitions: ["api.yaml": twoStages])
        #expect(result.deployment == nil)
        #expect(result.lines == [
            "api.yaml:8: error: GET /pets/{petId}: stage 'shop/dev' has no stage variable 'backend' (the integration URI uses ${stageVariables.backend}); set it under stages.dev.variables",
            "api.yaml:16: error: POST /orders: stage 'shop/dev' has no stage variable 'backend' (the integration URI uses ${stageVariables.backend}); set it under stages.dev.variables",
        ])
    }

    @Test func aStageVariableThatBreaksTheURIIsAnErrorForThatStage() {
        let result = loadConfig("""
            apis:
              - name: shop
                definition: api.yaml
                stages:
                  prod: { variables: { backend: "10.0.0.1", version: v2, tag: live } }
                  dev: { variables: { backend: "10.0.0.1:http", version: v1 } }
            """, definitions: ["api.yaml": twoStages])
        #expect(result.deployment == nil)
        #expect(result.lines == [
            "api.yaml:8: error: GET /pets/{petId}: stage 'shop/dev': the integration URI 'http://10.0.0.1:http/v1/pets/{petId}' is not a URL: the port must be a number between 1 and 65535, not 'http'",
            "api.yaml:16: error: POST /orders: stage 'shop/dev': the integration URI 'http://10.0.0.1:http/orders' is not a URL: the port must be a number between 1 and 65535, not 'http'",
        ])
    }
}

@Suite struct RequestParameterTests {
    @Test func everySourceKind() throws {
        let result = load(definition("""
                    type: http
                    httpMethod: GET
                    uri: "http://backend.test/{p}"
                    requestParameters:
                      integration.request.path.p: method.request.path.petId
                      integration.request.querystring.q: method.request.querystring.search
                      integration.request.multivaluequerystring.tags: method.request.multivaluequerystring.tag
                      integration.request.header.x-user: method.request.header.X-User
                      integration.request.multivalueheader.x-all: method.request.multivalueheader.X-Many
                      integration.request.header.x-static: "'fixed value'"
                      integration.request.header.x-empty: "''"
                      integration.request.header.x-region: stageVariables.region
                      integration.request.header.x-request-id: context.requestId
                      integration.request.header.x-source-ip: context.identity.sourceIp
                      integration.request.header.x-agent: context.identity.userAgent
                      integration.request.header.x-stage: context.stage
                      integration.request.header.x-resource: context.resourcePath
                      integration.request.header.x-api: context.apiId
                      integration.request.header.x-method: context.httpMethod
                      integration.request.querystring.path: context.path
                      integration.request.querystring.epoch: context.requestTimeEpoch
                    responses: { default: { statusCode: "200" } }
            """, path: "/pets/{petId}"), stages: "prod: { variables: { region: eu-west-1 } }")
        #expect(result.diagnostics.isEmpty, "\(result.lines)")
        let target = try #require(result.deployment?.operations[0].integration.http?.targets[0])
        #expect(target.parameters == [
            ParameterMapping(target: .path("p"), source: .pathParameter(0)),
            ParameterMapping(target: .query("q"), source: .query("search")),
            ParameterMapping(target: .query("tags"), source: .multiValueQuery("tag")),
            ParameterMapping(target: .header("x-user"), source: .header("X-User")),
            ParameterMapping(target: .header("x-all"), source: .multiValueHeader("X-Many")),
            ParameterMapping(target: .header("x-static"), source: .literal("fixed value")),
            ParameterMapping(target: .header("x-empty"), source: .literal("")),
            ParameterMapping(target: .header("x-region"), source: .literal("eu-west-1")),
            ParameterMapping(target: .header("x-request-id"), source: .context(.requestId)),
            ParameterMapping(target: .header("x-source-ip"), source: .context(.sourceIp)),
            ParameterMapping(target: .header("x-agent"), source: .context(.userAgent)),
            ParameterMapping(target: .header("x-stage"), source: .literal("prod")),
            ParameterMapping(target: .header("x-resource"), source: .literal("/pets/{petId}")),
            ParameterMapping(target: .header("x-api"), source: .literal("api")),
            ParameterMapping(target: .header("x-method"), source: .literal("GET")),
            ParameterMapping(target: .query("path"), source: .context(.path)),
            ParameterMapping(target: .query("epoch"), source: .context(.requestTimeEpoch)),
        ])
    }

    @Test func httpMethodOfAnANYOperationIsTheRequests() throws {
        let result = load(definition("""
                    type: http_proxy
                    uri: "http://backend.test/"
                    requestParameters:
                      integration.request.header.x-method: context.httpMethod
            """, method: "x-amazon-apigateway-any-method"))
        let target = try #require(result.deployment?.operations[0].integration.http?.targets[0])
        #expect(target.parameters == [ParameterMapping(target: .header("x-method"), source: .context(.httpMethod))])
    }

    @Test func whatCannotBeMappedIsReportedAndLeftOut() throws {
        let result = load(definition("""
                    type: http
                    httpMethod: PUT
                    uri: "http://backend.test/{p}"
                    requestParameters:
                      integration.request.path.p: method.request.path.nope
                      integration.request.path.q: method.request.header.a
                      integration.request.body: method.request.body
                      integration.request.header.a: method.request.body.name
                      integration.request.header.b: context.authorizer.claims.sub
                      integration.request.header.c: whatever
                      integration.request.header.d: ""
                    responses: { default: { statusCode: "200" } }
            """))
        #expect(result.lines == [
            "api.yaml:8: warning: GET /m: {p} in the integration URI is not mapped (no integration.request.path.p in requestParameters) and /m has no path parameter 'p'; answers 500",
            "api.yaml:10: warning: GET /m: request parameter 'integration.request.path.p' maps 'method.request.path.nope', but /m has no path parameter 'nope'; the parameter is not sent",
            "api.yaml:11: warning: GET /m: request parameter 'integration.request.path.q' is ignored: the integration URI has no {q}",
            "api.yaml:12: warning: GET /m: request parameter 'integration.request.body' is ignored (Sluice maps integration.request.path, .querystring and .header)",
            "api.yaml:13: warning: GET /m: request parameter 'integration.request.header.a' maps 'method.request.body.name', which is not supported yet; the parameter is not sent",
            "api.yaml:15: warning: GET /m: request parameter 'integration.request.header.c' maps 'whatever', which is not a method request parameter, a 'static value', a stage variable or a context variable; the parameter is not sent",
            "api.yaml:16: warning: GET /m: request parameter 'integration.request.header.d' must map a string such as method.request.path.NAME or 'static value'; it is ignored",
        ])
    }
}

@Suite struct HTTPResponseSelectionTests {
    @Test func responseForStatusIsPrecomputed() throws {
        let result = load(definition("""
                    type: http
                    httpMethod: GET
                    uri: "http://backend.test/"
                    responses:
                      "2\\\\d{2}":
                        statusCode: "200"
                        responseParameters:
                          method.response.header.X-Upstream-Id: integration.response.header.x-id
                          method.response.header.Cache-Control: "'no-store'"
                      "4\\\\d{2}":
                        statusCode: "400"
                      "404|410":
                        statusCode: "404"
                      default:
                        statusCode: "502"
            """))
        #expect(result.diagnostics.isEmpty, "\(result.lines)")
        let http = try #require(result.deployment?.operations[0].integration.http)
        #expect(http.responses.map(\.statusCode) == [200, 400, 404, 502])
        #expect(http.responses.map(\.selectionPattern) == [#"2\d{2}"#, #"4\d{2}"#, "404|410", nil])
        #expect(http.responses[0].headers == [ResponseHeader(name: "Cache-Control", value: "no-store")])
        #expect(http.responses[0].headerMappings == [HeaderMapping(name: "X-Upstream-Id", fromUpstreamHeader: "x-id")])
        #expect(http.responseForStatus.count == 500)
        func response(_ status: Int) -> Int { http.responseForStatus[status - 100] }
        #expect(response(200) == 0)
        #expect(response(299) == 0)
        // The first matching pattern wins, in definition order: 404 is a 4\d{2} before it is 404|410.
        #expect(response(404) == 1)
        #expect(response(410) == 1)
        #expect(response(500) == 3)
        #expect(response(100) == 3)
        #expect(response(302) == 3)
        #expect(response(599) == 3)
    }

    @Test func withoutADefaultUnmatchedStatusesAnswer500() throws {
        let result = load(definition("""
                    type: http
                    httpMethod: GET
                    uri: "http://backend.test/"
                    responses:
                      "20[01]": { statusCode: "200" }
                      "(unclosed": { statusCode: "500" }
            """))
        #expect(result.lines == [
            "api.yaml:11: warning: GET /m: selection pattern '(unclosed' is not a regular expression Sluice can read; it never matches",
        ])
        let http = try #require(result.deployment?.operations[0].integration.http)
        #expect(http.responseForStatus[200 - 100] == 0)
        #expect(http.responseForStatus[201 - 100] == 0)
        #expect(http.responseForStatus[202 - 100] == -1)
        #expect(http.responseForStatus[500 - 100] == -1)
    }

    @Test func noResponsesAreWarnedAbout() throws {
        let result = load(definition("""
                    type: http
                    httpMethod: GET
                    uri: "http://backend.test/"
                    requestTemplates: { application/json: '{"a": 1}' }
            """) + """

              /t:
                get:
                  x-amazon-apigateway-integration:
                    type: http
                    httpMethod: GET
                    uri: "http://backend.test/"
                    responses:
                      default:
                        statusCode: "200"
                        responseParameters:
                          method.response.header.X-Body: integration.response.body.id
                        responseTemplates: { application/json: '#set($x = 1)' }
            """)
        #expect(result.lines == [
            "api.yaml:6: warning: GET /m: the HTTP integration has no integration responses; every call answers 500 (add a 'default' response)",
            "api.yaml:20: warning: GET /t: response header X-Body maps 'integration.response.body.id', which is not supported yet; the header is not sent",
        ])
        let http = try #require(result.deployment?.operations[0].integration.http)
        #expect(http.responses.isEmpty)
        #expect(http.responseForStatus.allSatisfy { $0 == -1 })
    }

    @Test func proxyIgnoresIntegrationResponses() throws {
        let result = load(definition("""
                    type: http_proxy
                    uri: "http://backend.test/"
                    responses: { default: { statusCode: "200" } }
            """))
        #expect(result.diagnostics.isEmpty)
        let http = try #require(result.deployment?.operations[0].integration.http)
        #expect(http.responses.isEmpty && http.responseForStatus.isEmpty)
    }
}

@Suite struct IntegrationTimeoutTests {
    private func timeout(_ value: String, limits: String = "") -> LoadResult {
        load(definition("""
                    type: http_proxy
                    uri: "http://backend.test/"
                    timeoutInMillis: \(value)
            """), extra: limits)
    }

    @Test func defaultAndExplicit() throws {
        #expect(timeout("50").deployment?.operations[0].integration.http?.timeoutMilliseconds == 50)
        #expect(timeout("29000").deployment?.operations[0].integration.http?.timeoutMilliseconds == 29_000)
        #expect(timeout("~").deployment?.operations[0].integration.http?.timeoutMilliseconds == 29_000)
        let lambda = load(definition("""
                    type: aws_proxy
                    uri: "arn:aws:lambda:us-east-1:123456789012:function:f"
                    timeoutInMillis: 1500
            """), extra: "lambda_functions: { f: 'http://127.0.0.1:9000' }")
        #expect(lambda.deployment?.operations[0].integration.lambda?.timeoutMilliseconds == 1_500)
    }

    @Test func outOfRangeIsAnErrorAtItsLine() {
        #expect(timeout("29001").lines == [
            "api.yaml:8: error: GET /m: timeoutInMillis must be between 50 and 29000 ms (limits.integration_timeout_ms), not 29001",
        ])
        #expect(timeout("49").lines == [
            "api.yaml:8: error: GET /m: timeoutInMillis must be between 50 and 29000 ms (limits.integration_timeout_ms), not 49",
        ])
        #expect(timeout("soon").lines == [
            "api.yaml:8: error: GET /m: timeoutInMillis must be an integer between 50 and 29000, not 'soon'",
        ])
    }

    @Test func theRangeIsASetting() throws {
        let wide = timeout("120000", limits: "limits: { integration_timeout_ms: { min: 10, max: 300000 } }")
        #expect(wide.deployment?.operations[0].integration.http?.timeoutMilliseconds == 120_000)
        #expect(wide.deployment?.limits.integrationTimeoutMillisecondsDefault == 29_000)

        let narrow = timeout("~", limits: "limits: { integration_timeout_ms: { max: 5000 } }")
        // The default, 29 s, is brought within the range.
        #expect(narrow.deployment?.operations[0].integration.http?.timeoutMilliseconds == 5_000)

        let preset = timeout("~", limits: "limits: { integration_timeout_ms: { max: 60000, default: 45000 } }")
        #expect(preset.deployment?.operations[0].integration.http?.timeoutMilliseconds == 45_000)
        #expect(preset.deployment?.limits == Limits(integrationTimeoutMillisecondsMin: 50,
                                                    integrationTimeoutMillisecondsMax: 60_000,
                                                    integrationTimeoutMillisecondsDefault: 45_000))

        let beyond = timeout("6000", limits: "limits: { integration_timeout_ms: { max: 5000 } }")
        #expect(beyond.lines == [
            "api.yaml:8: error: GET /m: timeoutInMillis must be between 50 and 5000 ms (limits.integration_timeout_ms), not 6000",
        ])
    }

    @Test func brokenRangesAreErrors() {
        let result = loadConfig("""
            limits:
              integration_timeout_ms:
                min: 1000
                max: 500
            """)
        #expect(result.errors.map(\.description) == [
            "sluice.yaml:4: error: limits.integration_timeout_ms: min (1000 ms) is larger than max (500 ms)",
        ])
        let badDefault = loadConfig("""
            limits:
              integration_timeout_ms: { max: 1000, default: 2000, slack: 1 }
            """)
        #expect(badDefault.errors.map(\.description) == [
            "sluice.yaml:2: error: unknown key 'slack' in limits.integration_timeout_ms",
            "sluice.yaml:2: error: limits.integration_timeout_ms.default must be between min and max (50 … 1000 ms), not 2000",
        ])
        let zero = loadConfig("limits: { integration_timeout_ms: { min: 0 } }\n")
        #expect(zero.errors.map(\.description) == [
            "sluice.yaml:1: error: limits.integration_timeout_ms.min must be between 1 and 3600000 ms, not 0",
        ])
    }
}

@Suite struct HostResolutionTests {
    @Test func unresolvableHostIsAnErrorAtItsFirstUse() {
        let result = load(definition("""
                    type: http_proxy
                    uri: "http://nowhere.invalid/a"
            """) + """

              /again:
                get:
                  x-amazon-apigateway-integration: { type: http_proxy, uri: "http://nowhere.invalid/b" }
            """)
        #expect(result.deployment != nil)
        #expect(result.lines == [
            "api.yaml:7: warning: GET /m: upstream host 'nowhere.invalid' does not resolve (Name or service not known); requests to it answer 502 until it resolves (map it under upstreams.resolve)",
        ])
    }

    @Test func onlyTheStageThatUsesAnUnresolvableHostIsWarnedAbout() {
        let result = load(definition("""
                    type: http_proxy
                    uri: "http://${stageVariables.backend}/a"
            """), stages: """
            { prod: { variables: { backend: ok.test } }, dev: { variables: { backend: gone.invalid } } }
            """)
        #expect(result.lines == [
            "api.yaml:7: warning: GET /m: stage 'api/dev': upstream host 'gone.invalid' does not resolve (Name or service not known); requests to it answer 502 until it resolves (map it under upstreams.resolve)",
        ])
    }

    @Test func upstreamsResolvePointsANameElsewhere() throws {
        let result = load(definition("""
                    type: http_proxy
                    uri: "http://nowhere.invalid/a"
            """) + """

              /dual:
                get:
                  x-amazon-apigateway-integration: { type: http_proxy, uri: "http://dual.test:8080/" }
            """, extra: """
            upstreams:
              resolve:
                NoWhere.invalid: "127.0.0.1:18001"
                also.test: ["10.0.0.1", "[::1]:9000", "::2"]
                "bad host:80": "127.0.0.1"
                fine.test: "not-an-address"
            """)
        #expect(result.lines == [
            "sluice.yaml:10: error: upstreams.resolve: 'bad host:80' is not a host name (no scheme, port or path)",
            "sluice.yaml:11: error: upstreams.resolve.fine.test: 'not-an-address' is not a numeric address (\"10.0.0.7\", \"10.0.0.7:8080\", \"[::1]:8080\")",
        ])
        let fixed = load(definition("""
                    type: http_proxy
                    uri: "http://nowhere.invalid/a"
            """) + """

              /dual:
                get:
                  x-amazon-apigateway-integration: { type: http_proxy, uri: "http://dual.test:8080/" }
            """, extra: """
            upstreams:
              resolve:
                NoWhere.invalid: "127.0.0.1:18001"
            """)
        let deployment = try #require(fixed.deployment, "\(fixed.lines)")
        #expect(deployment.upstreams == [
            // The Host header stays the URI's; connections go where `resolve` says.
            Upstream(scheme: "http", host: "nowhere.invalid", port: 80,
                     addresses: [ResolvedAddress(host: "127.0.0.1", port: 18_001, isIPv6: false)]),
            Upstream(scheme: "http", host: "dual.test", port: 8080,
                     addresses: [ResolvedAddress(host: "2001:db8::1", port: 8080, isIPv6: true),
                                 ResolvedAddress(host: "192.0.2.2", port: 8080, isIPv6: false)]),
        ])
        #expect(deployment.operations[0].integration.http?.targets[0]?.hostHeader == "nowhere.invalid")
    }

    @Test func skippingResolutionLoadsWithoutAddresses() throws {
        let result = load(definition("""
                    type: http_proxy
                    uri: "http://nowhere.invalid/a"
            """), resolver: .skip)
        let deployment = try #require(result.deployment, "\(result.lines)")
        #expect(deployment.upstreams.first?.addresses == [])
    }

    @Test func poolSettings() throws {
        let defaults = try #require(loadConfig("listen: \"127.0.0.1:0\"\n").deployment)
        #expect(defaults.upstreamPool == UpstreamPoolSettings(idleConnectionsMax: 64, connectionsMax: 1_024,
                                                              idleTimeoutMilliseconds: 60_000))
        let result = loadConfig("""
            upstreams:
              defaults: { idle_connections_max: 8, connections_max: 100, idle_timeout_ms: 5000 }
            """)
        #expect(result.deployment?.upstreamPool == UpstreamPoolSettings(idleConnectionsMax: 8, connectionsMax: 100,
                                                                        idleTimeoutMilliseconds: 5_000))
        let misspelt = loadConfig("upstreams: { defaults: { burst: 1 } }\n")
        #expect(misspelt.errors.map(\.description) == ["sluice.yaml:1: error: unknown key 'burst' in upstreams.defaults"])
        let capped = loadConfig("upstreams: { defaults: { idle_connections_max: 10, connections_max: 4 } }\n")
        #expect(capped.deployment?.upstreamPool.idleConnectionsMax == 4)
        #expect(capped.lines.contains(
            "sluice.yaml:1: warning: upstreams.defaults.idle_connections_max (10) is larger than connections_max (4); 4 is used"))
    }
}

@Suite struct ExampleIntegrationTests {
    /// Every AWS example's HTTP, HTTP_PROXY and AWS_PROXY operations compile (AWS service
    /// integrations still answer 500); HTTP targets exist for the stage, Lambda ones wait for
    /// `lambda_functions`.
    @Test func httpAndLambdaIntegrationsOfTheExamplesCompile() throws {
        var httpOperations = 0
        var lambdaOperations = 0
        for name in ExampleTests.exampleFiles {
            let result = loadConfig("""
                apis:
                  - name: example
                    definition: \(name)
                    stages: { test: {} }
                """, definitions: [name: try example(name)])
            let deployment = try #require(result.deployment, "\(result.lines)")
            #expect(!result.lines.contains { $0.contains("integration type") }, "\(result.lines)")
            for operation in deployment.operations {
                switch operation.integration {
                case .http(let http):
                    httpOperations += 1
                    #expect(http.targets.count == 1 && http.targets[0] != nil, "\(name) \(operation.resourcePath)")
                case .lambdaProxy(let lambda):
                    lambdaOperations += 1
                    #expect(lambda.targets.count == 1 && lambda.targets[0] == nil)
                case .mock, .unsupported:
                    break
                }
            }
        }
        #expect(httpOperations == 10)
        #expect(lambdaOperations == 6)
    }
}

@Suite struct ReservedRequestHeaderMappingTests {
    @Test func mappingAFramingHeaderWarnsAtItsLine() {
        let result = load(definition("""
                    type: http_proxy
                    httpMethod: POST
                    uri: "http://backend.test/x"
                    requestParameters:
                      integration.request.header.Content-Length: "'5'"
                      integration.request.header.Transfer-Encoding: "'chunked'"
                      integration.request.header.Host: method.request.header.X-Tenant
            """, method: "post"))
        #expect(result.deployment != nil)
        let warnings = result.diagnostics.filter { $0.message.contains("frames the request") }
        #expect(warnings.map(\.line) == [10, 11])
    }
}

@Suite struct ResponseBodyLimitTests {
    @Test func answersHaveTheirOwnLimit() throws {
        let defaulted = try #require(load(definition("        type: mock"), extra: "").deployment)
        #expect(defaulted.limits.responseBodyBytesMax == 10_485_760)
        #expect(defaulted.limits.answer.bodyBytesMax == 10_485_760)
        let set = try #require(load(definition("        type: mock"),
                                    extra: "limits: {response_body_bytes: 2000, request_body_bytes: 100}").deployment)
        #expect(set.limits.answer.bodyBytesMax == 2000)
        #expect(set.limits.request.bodyBytesMax == 100)
        #expect(set.limits.answer.headBytesMax == set.limits.request.headBytesMax)
    }
}
