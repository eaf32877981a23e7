import Foundation
import SluiceConfig
import Testing

/// API Gateway's Lambda invocation URI for `function` (an ARN or anything the test wants there).
private func invocationURI(_ function: String, region: String = "us-east-1") -> String {
    "arn:aws:apigateway:\(region):lambda:path/2015-03-31/functions/\(function)/invocations"
}

/// One `POST /f` operation with an AWS_PROXY integration on `uri`, under API `api` with `stages`,
/// and `lambdaFunctions` (YAML mapping entries, indented by 2) in sluice.yaml.
private func loadLambda(_ uri: String, extraFields: String = "", stages: String = "prod: {}",
                        lambdaFunctions: String) -> LoadResult {
    loadConfig("""
        apis:
          - name: api
            definition: api.yaml
            stages: { \(stages) }
        lambda_functions:
        \(lambdaFunctions)
        """, definitions: ["api.yaml": """
            openapi: 3.0.1
            paths:
              /f:
                post:
                  x-amazon-apigateway-integration:
                    type: aws_proxy
                    httpMethod: POST
                    uri: "\(uri)"
            \(extraFields)
            """])
}

private let calcARN = "arn:aws:lambda:us-west-2:123456789012:function:Calc"

@Suite struct LambdaProxyTests {
    @Test func mappedByName() throws {
        let result = loadLambda(invocationURI(calcARN), lambdaFunctions: "  Calc: http://127.0.0.1:9000")
        #expect(result.diagnostics.isEmpty, "\(result.lines)")
        let deployment = try #require(result.deployment)
        let lambda = try #require(deployment.operations[0].integration.lambda)
        #expect(lambda.payloadFormatVersion == "1.0")
        #expect(lambda.timeoutMilliseconds == 29_000)
        #expect(lambda.targets == [LambdaTarget(upstream: 0, hostHeader: "127.0.0.1:9000", functionName: "Calc",
                                                invocationPath: "/2015-03-31/functions/function/invocations")])
        #expect(deployment.upstreams == [
            Upstream(scheme: "http", host: "127.0.0.1", port: 9000,
                     addresses: [ResolvedAddress(host: "127.0.0.1", port: 9000, isIPv6: false)]),
        ])
    }

    @Test func theMostSpecificEntryWins() throws {
        let entries = """
              Calc: http://127.0.0.1:9000
              "Calc:live": http://127.0.0.1:9001
              "\(calcARN)": http://127.0.0.1:9002
              "\(calcARN):prod": http://127.0.0.1:9003
            """
        let cases: [(String, UInt16)] = [
            (calcARN, 9002),                                              // the ARN beats the name
            ("\(calcARN):prod", 9003),                                    // the qualified ARN beats all
            ("\(calcARN):live", 9002),                                    // the ARN beats NAME:ALIAS
            ("\(calcARN):beta", 9002),                                    // an unlisted alias: the ARN
            ("arn:aws:lambda:eu-west-1:999999999999:function:Calc", 9000), // another region's Calc: the name
            ("arn:aws:lambda:eu-west-1:999999999999:function:Calc:live", 9001),
        ]
        for (function, port) in cases {
            let result = loadLambda(invocationURI(function), lambdaFunctions: entries)
            let deployment = try #require(result.deployment, "\(result.lines)")
            let target = try #require(deployment.operations[0].integration.lambda?.targets[0])
            #expect(deployment.upstreams[target.upstream].port == port, "\(function)")
            #expect(target.functionName == "Calc")
        }
    }

    @Test func stageVariablesInTheARN() throws {
        let uri = invocationURI("arn:aws:lambda:us-west-2:123456789012:function:${stageVariables.fn}:${stageVariables.alias}")
        let result = loadLambda(uri, stages: """
            prod: { variables: { fn: Calc, alias: prod } }, dev: { variables: { fn: CalcDev, alias: dev } }, \
            test: { variables: { fn: Missing, alias: x } }, broken: { variables: { fn: "a/b", alias: x } }
            """, lambdaFunctions: """
              "Calc:prod": http://rie.test:9000
              CalcDev: http://rie.test:9000/custom/invoke
            """)
        #expect(result.lines == [
            "api.yaml:8: warning: POST /f: stage 'api/test': Lambda function 'arn:aws:lambda:us-west-2:123456789012:function:Missing:x' is not in lambda_functions; answers 500",
            "api.yaml:8: error: POST /f: stage 'api/broken': the AWS_PROXY URI 'arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-west-2:123456789012:function:a/b:x/invocations' is not a Lambda function: 'a/b' is not a Lambda function name (letters, digits, '-' and '_')",
        ])
        let fixed = loadLambda(uri, stages: """
            prod: { variables: { fn: Calc, alias: prod } }, dev: { variables: { fn: CalcDev, alias: dev } }, \
            test: { variables: { fn: Missing, alias: x } }
            """, lambdaFunctions: """
              "Calc:prod": http://rie.test:9000
              CalcDev: http://rie.test:9000/custom/invoke
            """)
        let deployment = try #require(fixed.deployment)
        let targets = try #require(deployment.operations[0].integration.lambda?.targets)
        #expect(targets == [
            LambdaTarget(upstream: 0, hostHeader: "rie.test:9000", functionName: "Calc"),
            LambdaTarget(upstream: 0, hostHeader: "rie.test:9000", functionName: "CalcDev",
                         invocationPath: "/custom/invoke"),
            nil,
        ])
        #expect(deployment.upstreams.count == 1)
    }

    @Test func unmappedFunctionsAreWarnedAboutOnce() throws {
        let name = "api-gateway-extensions-integrations.1.oas30.json"
        let text = try String(contentsOf: awsExamplesFolder.appendingPathComponent(name), encoding: .utf8)
        let result = loadConfig("""
            apis:
              - name: example
                definition: \(name)
                stages: { prod: {}, dev: {} }
            lambda_functions:
              example-function: "http://127.0.0.1:9000"
            """, definitions: [name: text])
        let deployment = try #require(result.deployment)
        // `/` and `/pets` share integration1 through $ref: each is reported at its own operation.
        #expect(result.lines == [
            "\(name):22: warning: GET /: Lambda function 'arn:aws:lambda:us-east-2:123456789012:function:my-function' is not in lambda_functions; answers 500",
            "\(name):29: warning: GET /pets: Lambda function 'arn:aws:lambda:us-east-2:123456789012:function:my-function' is not in lambda_functions; answers 500",
        ])
        let checkout = try #require(route(deployment, .get, "/dev/checkout")?.operation.integration.lambda)
        #expect(checkout.targets.map { $0?.functionName } == ["example-function", "example-function"])
        #expect(route(deployment, .get, "/prod/pets")?.operation.integration.lambda?.targets == [nil, nil])
    }

    @Test func awsVariablesInTheARNFallBackToTheName() throws {
        let name = "import-api-aws-variables.1.oas30.json"
        let text = try String(contentsOf: awsExamplesFolder.appendingPathComponent(name), encoding: .utf8)
        let result = loadConfig("""
            apis:
              - name: example
                definition: \(name)
                stages: { prod: {} }
            lambda_functions:
              LambdaFunctionName: "http://127.0.0.1:9000"
            """, definitions: [name: text])
        #expect(result.diagnostics.isEmpty, "\(result.lines)")
        let target = try #require(result.deployment?.operations[0].integration.lambda?.targets[0])
        #expect(target.functionName == "LambdaFunctionName")
    }

    @Test func payloadFormatVersionAndBareFunctionARNs() throws {
        let v2 = loadLambda(calcARN, extraFields: "        payloadFormatVersion: \"2.0\"",
                            lambdaFunctions: "  Calc: http://127.0.0.1:9000")
        #expect(v2.diagnostics.isEmpty, "\(v2.lines)")
        #expect(v2.deployment?.operations[0].integration.lambda?.payloadFormatVersion == "2.0")
        let number = loadLambda(calcARN, extraFields: "        payloadFormatVersion: 1.0",
                                lambdaFunctions: "  Calc: http://127.0.0.1:9000")
        #expect(number.deployment?.operations[0].integration.lambda?.payloadFormatVersion == "1.0")
        let odd = loadLambda(calcARN, extraFields: "        payloadFormatVersion: \"3.0\"",
                             lambdaFunctions: "  Calc: http://127.0.0.1:9000")
        #expect(odd.lines == ["api.yaml:9: warning: POST /f: payloadFormatVersion '3.0' is not 1.0 or 2.0; 1.0 is used"])
    }

    @Test func notALambdaFunction() throws {
        let result = loadLambda("arn:aws:apigateway:us-east-1:sqs:path/123456789012/queue",
                                lambdaFunctions: "  Calc: http://127.0.0.1:9000")
        #expect(result.deployment?.operations[0].integration.unsupportedReason
                == "AWS_PROXY integration with a URI that is not a Lambda function")
        #expect(result.lines == [
            "api.yaml:8: warning: POST /f: the AWS_PROXY URI is not a Lambda function: it is not a Lambda function ARN (arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/arn:aws:lambda:REGION:ACCOUNT:function:NAME/invocations); answers 500",
        ])
        let subtype = loadLambda("", extraFields: "        integrationSubtype: SQS-SendMessage",
                                 lambdaFunctions: "  Calc: http://127.0.0.1:9000")
        #expect(subtype.lines == [
            "api.yaml:9: warning: POST /f: AWS service integrations (integrationSubtype SQS-SendMessage) are not supported; answers 500",
        ])
    }

    @Test func lambdaFunctionsEntriesAreChecked() {
        let result = loadLambda(invocationURI(calcARN), lambdaFunctions: """
              "arn:aws:s3:::bucket": http://127.0.0.1:9000
              "my function": http://127.0.0.1:9000
              Calc: 127.0.0.1:9000
              Other: "http://127.0.0.1:9000/x?y=1"
              "Other:live": https://rie.test
              Third: http://rie.invalid:9000
              "\(calcARN)": http://127.0.0.1:9001
              "Calc:": http://127.0.0.1:9001
            """)
        #expect(result.lines == [
            "sluice.yaml:6: error: lambda_functions: 'arn:aws:s3:::bucket' is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:ALIAS])",
            "sluice.yaml:7: error: lambda_functions: 'my function' is not a Lambda function name (letters, digits, '-' and '_')",
            "sluice.yaml:8: error: lambda_functions 'Calc': '127.0.0.1:9000' is not a URL such as http://127.0.0.1:9000: it does not start with http:// or https://",
            "sluice.yaml:9: error: lambda_functions 'Other': 'http://127.0.0.1:9000/x?y=1' may have a path but no query, fragment or {parameter}",
            "sluice.yaml:13: error: lambda_functions: '' is not a Lambda alias or version",
        ])
    }

    @Test func unresolvableAndHTTPSEmulatorsAreReportedWhereTheyAreWritten() {
        let result = loadLambda(invocationURI(calcARN), lambdaFunctions: """
              Calc: http://rie.invalid:9000
            """)
        #expect(result.lines == [
            "sluice.yaml:6: warning: lambda_functions 'Calc': upstream host 'rie.invalid' does not resolve (Name or service not known); requests to it answer 502 until it resolves (map it under upstreams.resolve)",
        ])
        // An https emulator is reached over TLS, its certificate verified against its host.
        let secure = loadLambda(invocationURI(calcARN), lambdaFunctions: "  Calc: https://rie.test")
        #expect(secure.lines.isEmpty)
        #expect(secure.deployment?.upstreams.map(\.tls) == [UpstreamTLS(serverName: "rie.test", verify: true)])
    }
}
