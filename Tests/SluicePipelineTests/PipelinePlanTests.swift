import SluiceConfig
import SluicePipeline
import Testing

/// Each operation's plan lists the steps it needs, in API Gateway's order.
struct PipelinePlanTests {
    @Test func plansFollowTheDefinition() throws {
        let api = """
            openapi: 3.0.1
            x-amazon-apigateway-policy:
              Statement: [{ Effect: Allow, Principal: "*", Action: "execute-api:Invoke", Resource: "*" }]
            paths:
              /open:
                get:
                  x-amazon-apigateway-integration: { type: mock }
              /guarded:
                get:
                  security: [{ sigv4: [] }]
                  x-amazon-apigateway-integration: { type: mock }
            components:
              securitySchemes:
                sigv4: { type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4 }
            """
        let config = """
            apis:
              - name: a
                definition: a.yaml
                stages: { prod: { cache: { enabled: true } } }
              - name: b
                definition: b.yaml
                stages: { beta: {} }
            """
        let result = ConfigLoader.load(path: "sluice.yaml", files: ["sluice.yaml": config, "a.yaml": api,
                                                                    "b.yaml": "openapi: 3.0.1\npaths:\n  /b:\n    get:\n      x-amazon-apigateway-integration: { type: mock }\n"],
                                       allowedCPUs: [0], resolver: .skip)
        let deployment = try #require(result.deployment, "\(result.diagnostics)")
        let plan = PipelinePlan(deployment: deployment)
        func steps(_ operation: Int) -> [Step] { Array(plan.steps[plan.range(of: operation)]) }
        #expect(steps(0) == [.resourcePolicy, .admission, .cacheLookup, .integration])
        #expect(steps(1) == [.resourcePolicy, .authorizer, .admission, .cacheLookup, .integration])
        #expect(steps(2) == [.admission, .integration])
    }

    @Test func gatewayAnswersAreAPIGatewaysOwn() {
        #expect(GatewayAnswer.authorizerConfigurationError.status == 500)
        #expect(GatewayAnswer.authorizerConfigurationError.body == #"{"message": null}"#)
        #expect(GatewayAnswer.authorizerConfigurationError.errorType == "AuthorizerConfigurationException")
        #expect(GatewayAnswer.explicitDeny.body
                == #"{"Message":"User is not authorized to access this resource with an explicit deny"}"#)
        #expect(GatewayAnswer.accessDenied.body == #"{"Message":"User is not authorized to access this resource"}"#)
        #expect(GatewayAnswer.accessDenied.errorType == "AccessDeniedException")
        #expect(GatewayAnswer.missingAuthenticationToken.body == #"{"message":"Missing Authentication Token"}"#)
    }
}
