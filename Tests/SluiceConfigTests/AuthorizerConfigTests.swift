import SluiceConfig
import Testing

/// sluice.yaml's `aws`, `jwt_issuers` and `iam`, and the authorizers definitions declare.
struct AuthorizerConfigTests {
    static let definition = """
        openapi: 3.0.1
        paths:
          /jwt:
            get:
              security: [{ jwt: [read, write] }]
              x-amazon-apigateway-integration: { type: mock }
          /pool:
            get:
              security: [{ pool: [] }]
              x-amazon-apigateway-integration: { type: mock }
          /token:
            get:
              security: [{ token: [] }]
              x-amazon-apigateway-integration: { type: mock }
          /request:
            get:
              security: [{ request: [] }]
              x-amazon-apigateway-integration: { type: mock }
        components:
          securitySchemes:
            jwt:
              type: oauth2
              x-amazon-apigateway-authorizer:
                type: jwt
                identitySource: "$request.header.X-Token"
                jwtConfiguration: { issuer: "https://issuer.example", audience: [a, b] }
            pool:
              type: apiKey
              name: Authorization
              in: header
              x-amazon-apigateway-authtype: cognito_user_pools
              x-amazon-apigateway-authorizer:
                type: cognito_user_pools
                providerARNs: ["arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Pool"]
            token:
              type: apiKey
              name: X-Auth
              in: header
              x-amazon-apigateway-authorizer:
                type: token
                authorizerUri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations"
                authorizerResultTtlInSeconds: 60
                identityValidationExpression: "^Bearer [-0-9a-zA-Z._]*$"
            request:
              type: apiKey
              name: Unused
              in: header
              x-amazon-apigateway-authorizer:
                type: request
                authorizerUri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations"
                identitySource: "method.request.header.X-Id, method.request.querystring.team, stageVariables.zone, context.identity.sourceIp"
        """

    func load(_ settings: String, files: [String: String] = [:]) -> LoadResult {
        var all = ["api.yaml": Self.definition].merging(files) { $1 }
        all["sluice.yaml"] = settings + """
            apis:
              - name: api
                definition: api.yaml
                stages:
                  prod: {}
            """
        let written = all
        var environment = LoaderEnvironment(readFile: { path in
            guard let text = written[path] else { return .failure(FileReadError("No such file or directory")) }
            return .success(Array(text.utf8))
        }, allowedCPUs: testCPUs, resolver: testResolver)
        // The executable hands in SluiceAuth's parser; here a key set is what starts with {"keys".
        environment.inspectKeySet = { json in
            String(decoding: json, as: UTF8.self).hasPrefix(#"{"keys""#) ? .success(0) : .failure(FileReadError("no keys"))
        }
        return ConfigLoader.load(path: "sluice.yaml", environment: environment)
    }

    static let keys = #"{"keys": []}"#

    @Test func everythingConfiguredRuns() throws {
        let result = load("""
            aws: { region: eu-west-1, account_id: "210987654321" }
            lambda_functions: { auth: "http://127.0.0.1:9000" }
            jwt_issuers:
              - { issuer: "https://issuer.example", jwks: "http://127.0.0.1:9001/keys", refresh_s: 60, leeway_s: 5 }
              - { issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool", jwks: pool.json }
            iam:
              credentials:
                - { name: ci, access_key_id: AKIDCI, secret_access_key_file: ci.secret }

            """, files: ["pool.json": Self.keys, "ci.secret": "s3cret\n"])
        let deployment = try #require(result.deployment, "\(result.lines)")
        #expect(deployment.aws == AWSIdentity(region: "eu-west-1", accountID: "210987654321"))
        try #require(deployment.authorizers.count == 4, "\(result.lines)")
        let byPath = Dictionary(uniqueKeysWithValues: deployment.operations.map { ($0.resourcePath, $0.authorization) })
        #expect(byPath["/jwt"] == .authorizer(0, scopes: ["read", "write"]))
        let jwt = deployment.authorizers[0]
        #expect(jwt.kind == .jwt && jwt.tokenHeader == "x-token" && jwt.audiences == ["a", "b"])
        let pool = deployment.authorizers[1]
        #expect(pool.issuers == ["https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool"])
        let token = deployment.authorizers[2]
        #expect(token.kind == .token && token.tokenHeader == "x-auth" && token.resultTTLSeconds == 60)
        #expect(token.function != nil && token.validationExpression != nil)
        let request = deployment.authorizers[3]
        #expect(request.identitySources == [.header("x-id"), .query("team"), .stageVariable("zone"), .context(.sourceIp)])
        #expect(request.resultTTLSeconds == 300)
        #expect(deployment.jwtIssuers[0].leewaySeconds == 5 && deployment.jwtIssuers[0].refreshSeconds == 60)
        if case .url(let url) = deployment.jwtIssuers[0].source {
            #expect(url.host == "127.0.0.1" && url.port == 9001 && url.target == "/keys")
        } else {
            Issue.record("the first issuer's keys come from a URL")
        }
        #expect(deployment.iamCredentials.map(\.secretAccessKey) == ["s3cret"])
        #expect(deployment.iamCredentials[0].userARN == "arn:aws:iam::210987654321:user/ci")
        // The secret is never printed.
        #expect(!"\(deployment.iamCredentials[0])".contains("s3cret"))
    }

    @Test func whatCannotRunIsRefusedAndSaid() throws {
        let result = load("")
        let deployment = try #require(result.deployment)
        for operation in deployment.operations {
            guard case .unenforced = operation.authorization else {
                Issue.record("\(operation.resourcePath) is served: \(operation.authorization)")
                continue
            }
        }
        #expect(result.lines.contains { $0.contains("the JWT authorizer 'jwt': no jwt_issuers entry") })
        #expect(result.lines.contains { $0.contains("Lambda function 'arn:aws:lambda:us-east-1:123456789012:function:auth' is not in lambda_functions") })
    }

    @Test func badSettingsAreErrorsAtTheirLine() {
        let result = load("""
            aws: { region: "US East", account_id: "12" }
            jwt_issuers:
              - { issuer: "https://a", jwks: missing.json }
              - { issuer: "https://b", jwks: "https://b/keys" }
              - { jwks: x.json }
            iam:
              credentials:
                - { name: a, access_key_id: "AK ID", secret_access_key: x }
                - { name: b, access_key_id: AKIDB }

            """)
        #expect(result.deployment == nil)
        let lines = result.lines.joined(separator: "\n")
        #expect(lines.contains("sluice.yaml:1: error: aws.region must be a region name"))
        #expect(lines.contains("sluice.yaml:1: error: aws.account_id must be 12 digits"))
        #expect(lines.contains("jwt_issuers 'https://a': cannot read"))
        #expect(lines.contains("https:// key sets are not fetched yet"))
        #expect(lines.contains("a jwt_issuers entry needs issuer"))
        #expect(lines.contains("access_key_id must be letters and digits"))
        #expect(lines.contains("iam.credentials 'b' needs secret_access_key_file"))
    }
}
