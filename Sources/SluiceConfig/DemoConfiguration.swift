/// The built-in demo: what `sluice serve` runs without `-c`, so that a new user sees the gateway
/// answer with one command. It goes through the same loader as any configuration (from memory,
/// under pseudo paths), so it is also a test that the loader accepts what the docs show.
///
/// Routes, on stage `demo` of the default endpoint (`http://127.0.0.1:8080/demo/...`):
/// - `GET /`                 a welcome message naming the routes;
/// - `GET /hello`            `{"message":"Hello from Sluice"}`;
/// - `GET /pets`             a small JSON list;
/// - `GET /pets/{petId}`     one (static) pet;
/// - `ANY /echo-status`      418, chosen by the request template and a selection pattern;
/// - `GET /mock`             `{"ok":true}`, the body nginx answers in the benchmark's mock scenario.
enum DemoConfiguration {
    static let configPath = "<demo>/sluice.yaml"
    static let definitionPath = "<demo>/demo.oas30.yaml"

    static var files: [String: String] { [configPath: config, definitionPath: definition] }

    static let config = """
        # The built-in demo configuration (sluice serve with no -c).
        listen: "0.0.0.0:8080"
        admin: "127.0.0.1:9901"
        # A demo needs few connections; this keeps it within common open-file limits.
        workers:
          defaults: {max_connections: 4096}
        apis:
          - name: demo
            definition: demo.oas30.yaml
            stages:
              demo:
                variables: {}
        """

    static let definition = #"""
        openapi: "3.0.1"
        info:
          title: Sluice demo
          version: "1.0"
        paths:
          /via-proxy/{path+}:
            x-amazon-apigateway-any-method:
              summary: An HTTP_PROXY integration. Its upstream is this demo itself, so that it runs with
                nothing else installed - /demo/via-proxy/hello answers what /demo/hello answers.
              parameters:
                - name: path
                  in: path
                  required: true
              x-amazon-apigateway-integration:
                type: http_proxy
                httpMethod: ANY
                uri: "http://127.0.0.1:8080/demo/{path}"
                requestParameters:
                  integration.request.path.path: method.request.path.path
          /:
            get:
              summary: A welcome message naming the routes.
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates:
                  application/json: '{"statusCode": 200}'
                responses:
                  default:
                    statusCode: "200"
                    responseTemplates:
                      application/json: '{"message":"Welcome to Sluice","routes":["GET /demo/hello","GET /demo/pets","GET /demo/pets/{petId}","ANY /demo/echo-status","GET /demo/mock","ANY /demo/via-proxy/{path+}"]}'
          /hello:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates:
                  application/json: '{"statusCode": 200}'
                responses:
                  default:
                    statusCode: "200"
                    responseTemplates:
                      application/json: '{"message":"Hello from Sluice"}'
          /pets:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates:
                  application/json: '{"statusCode": 200}'
                responses:
                  default:
                    statusCode: "200"
                    responseParameters:
                      method.response.header.Access-Control-Allow-Origin: "'*'"
                    responseTemplates:
                      application/json: '[{"id":1,"type":"dog","price":249.99},{"id":2,"type":"cat","price":124.99},{"id":3,"type":"fish","price":0.99}]'
          /pets/{petId}:
            get:
              parameters:
                - name: petId
                  in: path
                  required: true
                  schema:
                    type: string
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates:
                  application/json: '{"statusCode": 200}'
                responses:
                  default:
                    statusCode: "200"
                    responseParameters:
                      method.response.header.Access-Control-Allow-Origin: "'*'"
                    responseTemplates:
                      application/json: '{"id":1,"type":"dog","price":249.99}'
          /echo-status:
            x-amazon-apigateway-any-method:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates:
                  application/json: '{"statusCode": 418}'
                responses:
                  "4\\d{2}":
                    statusCode: "418"
                    responseTemplates:
                      application/json: '{"message":"I am a teapot"}'
                  default:
                    statusCode: "200"
                    responseTemplates:
                      application/json: '{"message":"default response"}'
          /mock:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates:
                  application/json: '{"statusCode": 200}'
                responses:
                  default:
                    statusCode: "200"
                    responseTemplates:
                      application/json: '{"ok":true}'
        """#
}
