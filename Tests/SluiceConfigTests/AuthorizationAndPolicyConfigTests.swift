import SluiceConfig
import Testing

/// What a definition protects is read (and, until enforced, refused); resource policies are read
/// into statements with their networks, or refused at their line.
struct AuthorizationAndPolicyConfigTests {
    @Test func everyKindOfAuthorizerIsRecognised() throws {
        let result = loadDefinition("""
            openapi: 3.0.1
            security: [{ api_key: [] }]
            paths:
              /open:
                get:
                  security: []
                  x-amazon-apigateway-integration: { type: mock }
              /keyed:
                get:
                  x-amazon-apigateway-integration: { type: mock }
              /lambda:
                get:
                  security: [{ payroll: [] }]
                  x-amazon-apigateway-integration: { type: mock }
              /cognito:
                get:
                  security: [{ pool: [] }]
                  x-amazon-apigateway-integration: { type: mock }
              /jwt:
                get:
                  security: [{ jwt: [read] }]
                  x-amazon-apigateway-integration: { type: mock }
              /iam:
                get:
                  security: [{ sigv4: [] }, { api_key: [] }]
                  x-amazon-apigateway-integration: { type: mock }
              /undefined:
                get:
                  security: [{ mystery: [] }]
                  x-amazon-apigateway-integration: { type: mock }
              /oauth:
                get:
                  security: [{ plain_oauth: [] }]
                  x-amazon-apigateway-integration: { type: mock }
            components:
              securitySchemes:
                api_key: { type: apiKey, name: x-api-key, in: header }
                payroll:
                  type: apiKey
                  name: Authorization
                  in: header
                  x-amazon-apigateway-authtype: custom
                  x-amazon-apigateway-authorizer: { type: token, authorizerUri: "arn:aws:lambda:x" }
                pool:
                  type: apiKey
                  name: Authorization
                  in: header
                  x-amazon-apigateway-authtype: cognito_user_pools
                  x-amazon-apigateway-authorizer: { type: cognito_user_pools, providerARNs: [] }
                jwt:
                  type: oauth2
                  x-amazon-apigateway-authorizer: { type: jwt, jwtConfiguration: { issuer: "https://i", audience: [a] } }
                sigv4: { type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4 }
                plain_oauth: { type: oauth2 }
            """)
        let deployment = try #require(result.deployment)
        let byPath = Dictionary(uniqueKeysWithValues: deployment.operations.map { ($0.resourcePath, $0) })
        #expect(byPath["/open"]?.authorization == MethodAuthorization.none)
        #expect(byPath["/open"]?.apiKeyRequired == false)
        #expect(byPath["/keyed"]?.authorization == MethodAuthorization.none)
        #expect(byPath["/keyed"]?.apiKeyRequired == true)
        // A Lambda authorizer whose function is not in lambda_functions cannot be invoked: refused.
        #expect(byPath["/lambda"]?.authorization == .unenforced("the Lambda authorizer 'payroll' (its function cannot be invoked)"))
        // A user pool authorizer that names no pool, and a JWT authorizer whose issuer has no keys
        // in sluice.yaml, cannot run: refused.
        #expect(byPath["/cognito"]?.authorization == .unenforced("the Cognito user pool authorizer 'pool' (no user pool)"))
        #expect(byPath["/jwt"]?.authorization == .unenforced("the JWT authorizer 'jwt' (no keys for its issuer)"))
        #expect(byPath["/iam"]?.authorization == .iam)
        #expect(byPath["/iam"]?.apiKeyRequired == true)
        #expect(byPath["/undefined"]?.authorization == .unenforced("the undefined security scheme 'mystery'"))
        #expect(byPath["/oauth"]?.authorization == .unenforced("the security scheme 'plain_oauth' (type oauth2)"))
        // One warning per protected method, at its line; nothing about ignored extensions.
        let warnings = result.lines.filter { $0.contains("does not enforce yet") }
        #expect(warnings.count == 3)
        #expect(result.lines.contains { $0.contains("the JWT authorizer 'jwt': no jwt_issuers entry") })
        #expect(result.lines.contains { $0.contains("the Lambda authorizer 'payroll': authorizerUri 'arn:aws:lambda:x' is not a Lambda function") })
        #expect(!result.lines.contains { $0.contains("is ignored") })
    }

    @Test func aNullSecurityInheritsTheDocumentsRequirement() throws {
        let result = loadDefinition("""
            openapi: 3.0.1
            security: [{ sigv4: [] }]
            paths:
              /a:
                get:
                  security: ~
                  x-amazon-apigateway-integration: { type: mock }
            components:
              securitySchemes:
                sigv4: { type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4 }
            """)
        let deployment = try #require(result.deployment)
        #expect(deployment.operations[0].authorization == .iam)
    }

    @Test func brokenGatewayResponsesAreErrors() {
        let cases: [(String, String)] = [
            ("DEFAULT_4XX: { statusCode: 101 }", "api.yaml:3: error: gateway response DEFAULT_4XX: statusCode must be a status from 200 to 599"),
            ("NOT_A_TYPE: {}", "api.yaml:3: error: 'NOT_A_TYPE' is not a gateway response type (DEFAULT_4XX, DEFAULT_5XX, MISSING_AUTHENTICATION_TOKEN, THROTTLED, …)"),
            (#"DEFAULT_4XX: { responseTemplates: { "text/plain\r\nX-Injected: 1": "x" } }"#,
             "api.yaml:3: error: gateway response DEFAULT_4XX: 'text/plain\r\nX-Injected: 1' is not a content type"),
            (#"DEFAULT_4XX: { responseParameters: { gatewayresponse.header.X-A: "'a\r\nb'" } }"#,
             "api.yaml:3: error: gateway response DEFAULT_4XX: header X-A's value has control characters"),
        ]
        for (entry, message) in cases {
            let result = loadDefinition("openapi: 3.0.1\nx-amazon-apigateway-gateway-responses:\n  \(entry)\npaths: {}\n")
            #expect(result.deployment == nil, "\(entry)")
            #expect(result.errors.map(\.description) == [message], "\(entry)")
        }
    }

    @Test func resourcePolicyObjectAndString() throws {
        let result = loadDefinition("""
            {
              "openapi": "3.0.1",
              "x-amazon-apigateway-policy": {
                "Version": "2012-10-17",
                "Statement": [
                  { "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*" },
                  { "Effect": "Deny", "Principal": { "AWS": "*" }, "Action": ["execute-api:Invoke"],
                    "Resource": ["arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/private/*"],
                    "Condition": { "NotIpAddress": { "aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"] } } }
                ]
              },
              "paths": {}
            }
            """)
        let deployment = try #require(result.deployment)
        let policy = try #require(deployment.apis[0].resourcePolicy)
        #expect(policy.statements.count == 2)
        #expect(policy.statements[0] == PolicyStatement(effect: .allow, anyPrincipal: true,
                                                        actions: ["execute-api:Invoke"], resources: ["*"], line: 6))
        #expect(policy.statements[1].effect == .deny)
        #expect(policy.statements[1].resources == ["prod/GET/private/*"])
        #expect(policy.statements[1].conditions == [.sourceIP(negated: true, networks: [
            IPNetwork(parsing: "10.0.0.0/8")!, IPNetwork(parsing: "2001:db8::/32")!,
        ])])

        let text = loadDefinition(#"""
            openapi: 3.0.1
            x-amazon-apigateway-policy: '{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "arn:aws:execute-api:*:*:*"}}'
            paths: {}
            """#)
        let fromText = try #require(text.deployment?.apis[0].resourcePolicy)
        #expect(fromText.statements.map(\.resources) == [["*"]])
    }

    @Test func brokenPoliciesAreErrorsAtTheirLine() {
        let cases: [(String, String)] = [
            (#"{"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "*", "Resource": "*"}]}"#,
             "a policy Statement's Effect must be Allow or Deny"),
            (#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "arn:aws:s3:::b"}]}"#,
             "policy Resource 'arn:aws:s3:::b' is not an execute-api ARN (arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH or execute-api:/STAGE/METHOD/PATH)"),
            (#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.300"}}}]}"#,
             "'10.0.0.300' is not an IPv4 or IPv6 address or CIDR block"),
            (#"{"Version": "2012-10-17"}"#, "x-amazon-apigateway-policy has no Statement"),
            (#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#, "a policy Statement needs a Principal"),
        ]
        for (policy, message) in cases {
            let result = loadDefinition("openapi: 3.0.1\nx-amazon-apigateway-policy: \(policy)\npaths: {}\n")
            #expect(result.deployment == nil)
            #expect(result.lines == ["api.yaml:2: error: \(message)"], "\(policy)")
        }
    }

    @Test func conditionsSluiceCannotEvaluateAreWarnings() throws {
        let result = loadDefinition("""
            openapi: 3.0.1
            x-amazon-apigateway-policy:
              Statement:
                - Effect: Deny
                  Principal: "*"
                  Action: execute-api:Invoke
                  Resource: execute-api:/*
                  Condition:
                    StringNotEquals:
                      aws:SourceVpce: vpce-1a2b3c4d
                - Effect: Allow
                  Principal: { AWS: "arn:aws:iam::123456789012:root" }
                  Action: execute-api:Invoke
                  Resource: execute-api:/*
            paths: {}
            """)
        let deployment = try #require(result.deployment)
        #expect(result.lines == [
            "api.yaml:10: warning: policy condition StringNotEquals on aws:SourceVpce cannot be evaluated by Sluice: it is taken to hold for a Deny and not to hold for an Allow",
            "api.yaml:12: warning: this policy statement names IAM principals, which Sluice cannot identify yet: it applies to no request",
            "api.yaml:15: warning: 'paths' is empty; the API has no routes",
        ])
        #expect(deployment.apis[0].resourcePolicy?.statements[0].conditions == [.unsupported("StringNotEquals aws:SourceVpce")])
    }

    @Test func trustedProxyHops() {
        #expect(loadConfig("trusted_proxy_hops: 2\napis: []\n").deployment?.trustedProxyHops == 2)
        #expect(loadConfig("trusted_proxy_hops: -1\napis: []\n").deployment == nil)
    }
}

/// HTTP APIs' `$default` stage: URLs without a stage segment.
struct DefaultStageTests {
    @Test func defaultStageMountsWithoutAStageSegment() throws {
        let result = loadConfig("""
            apis:
              - name: http
                definition: api.yaml
                stages:
                  $default: {}
                  beta: {}
            """, definitions: ["api.yaml": """
                openapi: 3.0.1
                paths:
                  /pets:
                    get:
                      x-amazon-apigateway-integration: { type: mock }
                """])
        let deployment = try #require(result.deployment, "\(result.lines)")
        #expect(deployment.stages.map(\.urlPrefix) == [[], ["beta"]])
        #expect(route(deployment, .get, "/pets")?.stage.name == "$default")
        #expect(route(deployment, .get, "/beta/pets")?.stage.name == "beta")
    }
}

/// Request validators compile to what they check: required parameters and body models.
struct RequestValidationConfigTests {
    @Test func validatorsWithSomethingToCheckAreRecorded() throws {
        let result = loadDefinition("""
            openapi: 3.0.1
            x-amazon-apigateway-request-validators:
              all: { validateRequestBody: true, validateRequestParameters: true }
              params: { validateRequestBody: false, validateRequestParameters: true }
            x-amazon-apigateway-request-validator: params
            paths:
              /a:
                get:
                  parameters: [{ name: q, in: query, required: true }, { name: opt, in: query }]
                  x-amazon-apigateway-integration: { type: mock }
                post:
                  x-amazon-apigateway-request-validator: all
                  requestBody: { content: { application/json: { schema: { type: object } } } }
                  x-amazon-apigateway-integration: { type: mock }
                put:
                  requestBody: { content: { application/json: { schema: { type: object } } } }
                  x-amazon-apigateway-integration: { type: mock }
              /b/{id}:
                parameters: [{ name: X-Trace, in: header, required: true }]
                get:
                  x-amazon-apigateway-integration: { type: mock }
            """)
        let deployment = try #require(result.deployment, "\(result.lines)")
        let byMethod = Dictionary(uniqueKeysWithValues: deployment.operations.map { ("\($0.method) \($0.resourcePath)", $0) })
        #expect(byMethod["GET /a"]?.requestValidation?.requiredParameters == [RequiredParameter(name: "q", isHeader: false)])
        #expect(byMethod["GET /a"]?.requestValidation?.bodyModels.isEmpty == true)
        #expect(byMethod["POST /a"]?.requestValidation?.validatesParameters == false)
        #expect(byMethod["POST /a"]?.requestValidation?.bodyModels.map(\.contentType) == ["application/json"])
        // The default validator checks parameters only, and PUT has none required.
        #expect(byMethod["PUT /a"]?.requestValidation == nil)
        #expect(byMethod["GET /b/{id}"]?.requestValidation?.requiredParameters == [RequiredParameter(name: "X-Trace", isHeader: true)])
        #expect(!result.lines.contains { $0.contains("validator") })
    }

    @Test func anUnknownValidatorIsAnError() {
        let result = loadDefinition("""
            openapi: 3.0.1
            x-amazon-apigateway-request-validators: { all: { validateRequestBody: true } }
            paths:
              /a:
                get:
                  x-amazon-apigateway-request-validator: everything
                  x-amazon-apigateway-integration: { type: mock }
            """)
        #expect(result.errors.map(\.description) == [
            "api.yaml:6: error: GET /a: x-amazon-apigateway-request-validator names 'everything', which x-amazon-apigateway-request-validators does not define",
        ])
    }

    /// Nothing a validator could check slips through a spelling: a validator that is not a
    /// mapping is an error, and `required` reads YAML's booleans (anything else is an error).
    @Test func validatorSpellingsFailClosed() throws {
        let notAMapping = loadDefinition("""
            openapi: 3.0.1
            x-amazon-apigateway-request-validators: { all: true }
            paths: {}
            """)
        #expect(notAMapping.errors.map(\.description) == [
            "api.yaml:2: error: request validator 'all' must be a mapping with validateRequestBody and validateRequestParameters, not a scalar",
        ])
        let spelled = loadDefinition("""
            openapi: 3.0.1
            x-amazon-apigateway-request-validators: { params: { validateRequestParameters: True } }
            x-amazon-apigateway-request-validator: params
            paths:
              /a:
                get:
                  parameters: [{ name: q, in: query, required: yes }, { name: h, in: header, required: True }]
                  x-amazon-apigateway-integration: { type: mock }
              /b:
                get:
                  parameters: [{ name: q, in: query, required: maybe }]
                  x-amazon-apigateway-integration: { type: mock }
            """)
        #expect(spelled.errors.map(\.description) == [
            "api.yaml:11: error: GET /b: a parameter's required must be true or false",
        ])
        let fixed = loadDefinition("""
            openapi: 3.0.1
            x-amazon-apigateway-request-validators: { params: { validateRequestParameters: True } }
            x-amazon-apigateway-request-validator: params
            paths:
              /a:
                get:
                  parameters: [{ name: q, in: query, required: yes }, { name: h, in: header, required: True }]
                  x-amazon-apigateway-integration: { type: mock }
            """)
        let deployment = try #require(fixed.deployment, "\(fixed.lines)")
        #expect(deployment.operations.first?.requestValidation?.requiredParameters.map(\.name) == ["q", "h"])
    }

    @Test func modelsCompileWithTheirRefsAndBrokenOnesAreErrorsAtTheirLine() throws {
        let swagger = loadDefinition("""
            swagger: "2.0"
            consumes: [application/json, application/x-pet]
            x-amazon-apigateway-request-validators: { body: { validateRequestBody: true } }
            paths:
              /pets:
                post:
                  x-amazon-apigateway-request-validator: body
                  parameters: [{ in: body, name: Pet, schema: { $ref: "#/definitions/Pet" } }]
                  x-amazon-apigateway-integration: { type: mock }
            definitions:
              Pet:
                type: object
                required: [name]
                properties:
                  name: { type: string }
                  children: { type: array, items: { $ref: "#/definitions/Pet" } }
            """)
        let deployment = try #require(swagger.deployment, "\(swagger.lines)")
        let validation = try #require(deployment.operations.first?.requestValidation)
        #expect(validation.bodyModels.map(\.contentType) == ["application/json", "application/x-pet"])
        #expect(validation.model(for: nil) == 0)
        let broken = loadDefinition("""
            openapi: 3.0.1
            x-amazon-apigateway-request-validators: { body: { validateRequestBody: true } }
            paths:
              /pets:
                post:
                  x-amazon-apigateway-request-validator: body
                  requestBody:
                    content:
                      application/json:
                        schema: { type: object, required: name }
                  x-amazon-apigateway-integration: { type: mock }
            """)
        #expect(broken.deployment == nil)
        #expect(broken.errors.count == 1)
        #expect(broken.errors.first?.description.hasPrefix("api.yaml:10: error: POST /pets: the application/json model: ") == true)
    }
}

@Suite struct GatewayResponseMappingTests {
    @Test func headersMapRequestStageAndContextValues() throws {
        let result = loadDefinition("""
            openapi: 3.0.1
            x-amazon-apigateway-gateway-responses:
              DEFAULT_4XX:
                responseParameters:
                  gatewayresponse.header.A: method.request.header.Origin
                  gatewayresponse.header.B: method.request.multivaluequerystring.q
                  gatewayresponse.header.C: method.request.path.id
                  gatewayresponse.header.D: stageVariables.color
                  gatewayresponse.header.E: context.requestId
                  gatewayresponse.header.F: "'static'"
                  gatewayresponse.header.G: context.authorizer.principalId
                  gatewayresponse.header.H: method.request.body
            paths: {}
            """)
        let deployment = try #require(result.deployment)
        let shape = try #require(deployment.apis[0].gatewayResponses.first)
        #expect(shape.headers == [ResponseHeader(name: "F", value: "static")])
        #expect(shape.mappedHeaders == [
            GatewayResponseMapping(name: "A", source: .header("Origin")),
            GatewayResponseMapping(name: "B", source: .query("q")),
            GatewayResponseMapping(name: "C", source: .pathParameter("id")),
            GatewayResponseMapping(name: "D", source: .stageVariable("color")),
            GatewayResponseMapping(name: "E", source: .context(.requestId)),
        ])
        let warnings = result.diagnostics.filter { $0.message.contains("the header is not sent") }
        #expect(warnings.map(\.line) == [11, 12])
    }

    @Test func templatesAreCompiledAndTheirMistakesAreErrorsAtTheirLines() throws {
        let good = loadDefinition("""
            openapi: 3.0.1
            x-amazon-apigateway-gateway-responses:
              DEFAULT_4XX:
                responseTemplates:
                  application/json: '{"m": $context.error.messageString, "b": "$input.body"}'
              THROTTLED:
                responseTemplates:
                  application/json: '{"plain": true}'
            paths: {}
            """)
        let deployment = try #require(good.deployment, "\(good.lines)")
        let shapes = deployment.apis[0].gatewayResponses
        #expect(shapes.map { $0.compiledTemplate?.isStatic } == [false, true])
        #expect(good.lines.contains { $0.hasPrefix("api.yaml:5: warning: gateway response DEFAULT_4XX: the template reads $input.body") },
                "\(good.lines)")
        let broken = loadDefinition("""
            openapi: 3.0.1
            x-amazon-apigateway-gateway-responses:
              DEFAULT_5XX:
                responseTemplates:
                  application/json: |
                    {"a": 1}
                    #if($context.stage
            paths: {}
            """)
        #expect(broken.deployment == nil)
        #expect(broken.errors.first?.description.hasPrefix("api.yaml:8: error: gateway response DEFAULT_5XX: the template, column 1: expected ')' to close #if") == true,
                "\(broken.lines)")
    }
}
