"""The request pipeline end to end: what a definition protects is never served without its
protection (authorizers, IAM), configuration mistakes are errors, and resource
policies refuse by source address as API Gateway does."""

import json
import socket
import subprocess
import threading

from conftest import BINARY, parse_response
from test_proxy import request, start_gateway, upstreams  # noqa: F401 (fixture)

# A REST API as API Gateway exports it with a Lambda TOKEN authorizer on one method, an API key
# on another, and an open one, all proxied to the same upstream.
PAYROLL = """\
openapi: "3.0.1"
info: {title: payroll, version: "1"}
paths:
  /payroll:
    get:
      security: [{payroll-authorizer: []}]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:UPSTREAM/payroll"
  /iam:
    get:
      x-amazon-apigateway-auth: {type: AWS_IAM}
      x-amazon-apigateway-integration: {type: http_proxy, httpMethod: GET, uri: "http://127.0.0.1:UPSTREAM/iam"}
  /open:
    get:
      x-amazon-apigateway-integration: {type: http_proxy, httpMethod: GET, uri: "http://127.0.0.1:UPSTREAM/open"}
components:
  securitySchemes:
    payroll-authorizer:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations"
        authorizerResultTtlInSeconds: 300
"""


def check(config, *flags):
    return subprocess.run([BINARY, "check", *flags, "-c", str(config)], capture_output=True, text=True,
                          timeout=30)


def test_methods_behind_an_authorizer_or_iam_fail_closed(tmp_path, upstreams):
    upstream = upstreams("counting")
    server = start_gateway(tmp_path, PAYROLL.replace("UPSTREAM", str(upstream.port)))
    for headers in ("", "Authorization: allow\r\n"):
        response = request(server, "GET", "/prod/payroll", headers=headers)
        assert response.status == 500, response.raw_head
        assert response.body == b'{"message": null}'
        assert response.header("x-amzn-ErrorType") == "AuthorizerConfigurationException"
        assert len(response.header("x-amzn-RequestId")) == 36
    # IAM is enforced (test_authorizers.py): unsigned requests are refused.
    unsigned = request(server, "GET", "/prod/iam")
    assert unsigned.status == 403 and unsigned.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    assert request(server, "GET", "/prod/iam", headers="Authorization: allow\r\n").header("x-amzn-ErrorType") \
        == "IncompleteSignatureException"
    opened = request(server, "GET", "/prod/open")
    assert opened.status == 200
    # Only the open method reached the upstream.
    assert opened.json()["target"] == "/open"
    assert opened.json()["count"] == 1

    # check names each protected method, and --strict refuses the configuration.
    config = server.config_path
    result = check(config)
    assert result.returncode == 0, result.stdout
    # The Lambda authorizer's function is not in lambda_functions: it cannot be invoked.
    assert "the Lambda authorizer 'payroll-authorizer': Lambda function 'arn:aws:lambda:us-east-1:123456789012:" \
           "function:auth' is not in lambda_functions; the methods it protects answer 500 " \
           "(AuthorizerConfigurationException)" in result.stdout
    assert "1 method(s) require IAM (SigV4) authorization and iam.credentials lists no key" in result.stdout
    strict = check(config, "--strict")
    assert strict.returncode == 1
    assert ": error: the Lambda authorizer 'payroll-authorizer'" in strict.stdout
    served = subprocess.run([BINARY, "serve", "--strict", "-c", str(config)], capture_output=True, text=True,
                            timeout=30)
    assert served.returncode == 1
    assert "--strict: the configuration has warnings; not serving" in served.stderr


def test_https_upstreams_get_tls_and_never_plaintext(tmp_path):
    """An https:// integration whose upstream speaks no TLS: it receives a ClientHello, never the
    request (nor the secret mapped into it), and the client gets 502."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    accepted = []

    def accept():
        try:
            while True:
                connection, _ = listener.accept()
                accepted.append(connection.recv(65536))
        except OSError:
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    api = f"""\
openapi: "3.0.1"
info: {{title: tls, version: "1"}}
paths:
  /secret:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: "https://127.0.0.1:{port}/secret"
        requestParameters: {{"integration.request.header.x-api-key": "'k-very-secret'"}}
        responses: {{default: {{statusCode: "200"}}}}
"""
    server = start_gateway(tmp_path, api)
    response = request(server, "GET", "/prod/secret")
    assert response.status == 502
    assert response.body == b'{"message": "Internal server error"}'
    thread.join(1)
    listener.close()
    assert accepted and all(data.startswith(b"\x16\x03") for data in accepted), accepted
    assert not any(b"secret" in data for data in accepted)


def test_configuration_mistakes_are_errors(tmp_path):
    api = tmp_path / "api.yaml"
    api.write_text('openapi: "3.0.1"\npaths:\n  /a:\n    get:\n'
                   '      x-amazon-apigateway-integration: {type: HTTP_PROXI, uri: "http://127.0.0.1:1/"}\n')
    config = tmp_path / "sluice.yaml"
    config.write_text('lisen: "127.0.0.1:0"\napis:\n  - name: t\n    definition: api.yaml\n    stages: {prod: {}}\n')
    result = check(config)
    assert result.returncode == 1
    assert f"{config}:1: error: unknown key 'lisen'" in result.stdout
    assert f"{api}:5: error: GET /a: unknown integration type 'HTTP_PROXI'" in result.stdout
    served = subprocess.run([BINARY, "serve", "-c", str(config)], capture_output=True, text=True, timeout=30)
    assert served.returncode == 1
    assert "unknown key 'lisen'" in served.stderr


def policy_api(statements):
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return f"""\
openapi: "3.0.1"
info: {{title: policy, version: "1"}}
x-amazon-apigateway-policy: {policy}
paths:
  /pets:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{"application/json": '{{"statusCode": 200}}'}}
        responses: {{default: {{statusCode: "200", responseTemplates: {{"application/json": '{{"pets":[]}}'}}}}}}
  /admin/{{proxy+}}:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{"application/json": '{{"statusCode": 200}}'}}
        responses: {{default: {{statusCode: "200", responseTemplates: {{"application/json": '{{"admin":true}}'}}}}}}
"""


ALLOW_ALL = {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}


def test_resource_policy_explicit_deny_by_source_address_and_resource(tmp_path):
    server = start_gateway(tmp_path, policy_api([
        ALLOW_ALL,
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "arn:aws:execute-api:us-east-1:123456789012:abcdef/prod/GET/admin/*",
         "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}},
    ]))
    assert request(server, "GET", "/prod/pets").status == 200
    denied = request(server, "GET", "/prod/admin/users")
    assert denied.status == 403
    assert denied.body == b'{"Message":"User is not authorized to access this resource with an explicit deny"}'
    assert denied.header("x-amzn-ErrorType") == "AccessDeniedException"
    # Unrouted paths still answer 403 Missing Authentication Token, as API Gateway does.
    assert request(server, "GET", "/prod/nothing").header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"


def test_resource_policy_allow_list_behind_a_trusted_proxy(tmp_path):
    server = start_gateway(tmp_path, policy_api([
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
         "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"]}}},
    ]), extra="trusted_proxy_hops: 1\n")
    # Without the proxy's entry the caller is unknown (the peer is a proxy, not the caller).
    refused = request(server, "GET", "/prod/pets")
    assert refused.status == 403
    assert refused.body == b'{"Message":"User is not authorized to access this resource"}'
    assert refused.header("x-amzn-ErrorType") == "AccessDeniedException"
    # The load balancer appends the caller's address: the last entry is the one trusted.
    assert request(server, "GET", "/prod/pets", headers="X-Forwarded-For: 10.9.8.7\r\n").status == 200
    assert request(server, "GET", "/prod/pets", headers="X-Forwarded-For: 2001:db8::7\r\n").status == 200
    assert request(server, "GET", "/prod/pets", headers="X-Forwarded-For: 10.0.0.1, 192.0.2.4\r\n").status == 403
    assert request(server, "GET", "/prod/pets", headers="X-Forwarded-For: 192.0.2.4, 10.0.0.1\r\n").status == 200
    assert request(server, "GET", "/prod/pets", headers="X-Forwarded-For: not-an-address\r\n").status == 403
    assert request(server, "GET", "/prod/pets", headers="X-Forwarded-For: 10.0.0.1.5\r\n").status == 403
    assert request(server, "GET", "/prod/pets", headers="X-Forwarded-For: 127.0.0.1\r\n").status == 200
    # A proxy that adds a line instead of appending: the last line's last entry is the trusted one.
    assert request(server, "GET", "/prod/pets",
                   headers="X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 192.0.2.4\r\n").status == 403
    assert request(server, "GET", "/prod/pets",
                   headers="X-Forwarded-For: 192.0.2.4\r\nX-Forwarded-For: 10.0.0.1\r\n").status == 200


def test_http_api_default_stage_serves_urls_without_a_stage_segment(tmp_path, upstreams):
    upstream = upstreams("echo")
    api = f"""\
openapi: "3.0.1"
info: {{title: http-api, version: "1"}}
paths:
  /pets/{{id}}:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:{upstream.port}/pets/{{id}}"
        requestParameters: {{"integration.request.path.id": "method.request.path.id"}}
"""
    server = start_gateway(tmp_path, api, stages="      $default: {}\n      beta: {}")
    assert request(server, "GET", "/pets/7").json()["target"] == "/pets/7"
    assert request(server, "GET", "/beta/pets/8").json()["target"] == "/pets/8"
    missing = request(server, "GET", "/nothing")
    assert missing.status == 403
    samples = server.metrics()
    assert samples['sluice_requests_total{api="proxy",stage="$default",code="2xx"}'] == 1
    assert samples['sluice_requests_total{api="proxy",stage="$default",code="4xx"}'] == 1


def test_http_api_export_with_cors_answers_a_browser_preflight_unchanged(tmp_path, upstreams):
    from conftest import SHARED
    upstream = upstreams("echo")
    example = (SHARED / "examples" / "aws" / "http-api-open-api.1.oas30.json").read_text()
    server = start_gateway(
        tmp_path, example, stages="      $default: {}",
        extra=f'upstreams:\n  resolve:\n    petstore.execute-api.us-west-1.amazonaws.com: "127.0.0.1:{upstream.port}"\n')
    # What a browser sends before a cross-origin POST with a JSON body and a custom header; there
    # is no OPTIONS route: the gateway answers.
    preflight = request(server, "OPTIONS", "/pets", headers=(
        "Origin: https://app.example.com\r\nAccess-Control-Request-Method: POST\r\n"
        "Access-Control-Request-Headers: content-type,x-api-key\r\n"))
    assert preflight.status == 204, preflight.raw_head
    assert preflight.header("Access-Control-Allow-Origin") == "*"
    assert preflight.header("Access-Control-Allow-Methods") == "GET,OPTIONS,POST"
    assert preflight.header("Access-Control-Allow-Headers") == \
        "x-amzm-header,x-apigateway-header,x-api-key,authorization,x-amz-date,content-type"
    assert preflight.header("Content-Length") is None
    # The actual request: the integration answers, the gateway adds the CORS headers.
    actual = request(server, "GET", "/pets?type=dog", headers="Origin: https://app.example.com\r\n")
    assert actual.status == 200
    assert actual.json()["target"] == "/petstore/pets?type=dog"
    assert actual.header("Access-Control-Allow-Origin") == "*"
    # Errors carry them too, as on HTTP APIs; a request without Origin gets none.
    missing = request(server, "GET", "/nothing", headers="Origin: https://app.example.com\r\n")
    assert missing.status == 403
    assert missing.header("Access-Control-Allow-Origin") == "*"
    assert request(server, "GET", "/pets").header("Access-Control-Allow-Origin") is None


def test_cors_origin_lists_credentials_and_integration_cors_headers_dropped(tmp_path, upstreams):
    upstream = upstreams("echo")
    api = f"""\
openapi: "3.0.1"
info: {{title: cors, version: "1"}}
x-amazon-apigateway-cors:
  allowOrigins: ["https://a.example", "https://b.example"]
  allowMethods: [GET]
  allowCredentials: true
  exposeHeaders: [x-total]
  maxAge: 300
paths:
  /echo:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        uri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:corsy/invocations"
        payloadFormatVersion: "2.0"
"""
    # The function answers with its own CORS header, which the gateway replaces.
    server = start_gateway(tmp_path, api, stages="      $default: {}",
                           extra=f'lambda_functions:\n  corsy: "http://127.0.0.1:{upstreams("lambda").port}"\n')
    allowed = request(server, "GET", "/echo", headers="Origin: https://b.example\r\nX-Fake: cors\r\n")
    assert allowed.status == 200, allowed.raw_head
    assert [v for k, v in allowed.headers if k.lower() == "access-control-allow-origin"] == ["https://b.example"]
    assert allowed.header("Access-Control-Allow-Credentials") == "true"
    assert allowed.header("Access-Control-Expose-Headers") == "x-total"
    assert allowed.header("Vary") == "Origin"
    other = request(server, "GET", "/echo", headers="Origin: https://evil.example\r\nX-Fake: cors\r\n")
    assert other.status == 200
    assert other.header("Access-Control-Allow-Origin") is None
    preflight = request(server, "OPTIONS", "/echo", headers=(
        "Origin: https://a.example\r\nAccess-Control-Request-Method: GET\r\n"))
    assert preflight.status == 204
    assert preflight.header("Access-Control-Allow-Origin") == "https://a.example"
    assert preflight.header("Access-Control-Max-Age") == "300"


def test_gateway_responses_shape_the_gateways_own_answers(tmp_path):
    api = """\
openapi: "3.0.1"
info: {title: shaped, version: "1"}
x-amazon-apigateway-gateway-responses:
  DEFAULT_4XX:
    responseParameters:
      gatewayresponse.header.Access-Control-Allow-Origin: "'*'"
      gatewayresponse.header.X-Team: "'payments'"
      gatewayresponse.header.X-Origin: method.request.header.Origin
      gatewayresponse.header.X-Path: context.path
      gatewayresponse.header.X-Color: stageVariables.color
      gatewayresponse.header.X-Request: context.requestId
      gatewayresponse.header.Server: context.error.responseType
      gatewayresponse.header.X-Not-Sent: method.request.body.name
    responseTemplates:
      application/json: '{"error": {"message": $context.error.messageString, "type": "$context.error.responseType"}, "path": "$context.path", "q": "$input.params(''q'')", "color": "$stageVariables.color", "request": "$context.requestId"#if($input.params().header.Origin), "origin": "$input.params().header.Origin"#end}'
  BAD_REQUEST_BODY:
    responseTemplates:
      application/json: '{"invalid": "$util.escapeJavaScript($context.error.validationErrorString)"}'
  MISSING_AUTHENTICATION_TOKEN:
    statusCode: 404
    responseTemplates:
      application/json: '{"message": "no such route"}'
x-amazon-apigateway-request-validators:
  body: {validateRequestBody: true, validateRequestParameters: false}
paths:
  /validated:
    post:
      x-amazon-apigateway-request-validator: body
      requestBody:
        content:
          application/json:
            schema: {type: object, required: [name], properties: {name: {type: string}}}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 200}'}
        responses: {default: {statusCode: "200"}}
  /keyed:
    get:
      x-amazon-apigateway-api-key-required: true
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 200}'}
        responses: {default: {statusCode: "200"}}
"""
    server = start_gateway(tmp_path, api, stages="      prod: {variables: {color: teal}}")
    missing = request(server, "GET", "/prod/nowhere")
    assert missing.status == 404
    assert missing.json() == {"message": "no such route"}
    assert missing.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    forbidden = request(server, "GET", "/prod/keyed?q=1", headers="Origin: https://shop.example\r\n")
    assert forbidden.status == 403
    assert forbidden.json() == {"error": {"message": "Forbidden", "type": "INVALID_API_KEY"}, "path": "/prod/keyed",
                                "q": "1", "color": "teal", "request": forbidden.header("x-amzn-RequestId"),
                                "origin": "https://shop.example"}
    assert int(forbidden.header("Content-Length")) == len(forbidden.body)
    # Validation's detail reaches the BAD_REQUEST_BODY template.
    invalid = request(server, "POST", "/prod/validated", b'{"name": 7}', headers="Content-Type: application/json\r\n")
    assert invalid.status == 400
    assert invalid.json()["invalid"].startswith("[instance type (integer) does not match"), invalid.body
    assert forbidden.header("Access-Control-Allow-Origin") == "*"
    assert forbidden.header("X-Team") == "payments"
    assert forbidden.header("x-amzn-ErrorType") == "ForbiddenException"
    # Values read from the request, the stage and $context; a reserved name is remapped.
    assert forbidden.header("X-Origin") == "https://shop.example"
    assert forbidden.header("X-Path") == "/prod/keyed"
    assert forbidden.header("X-Color") == "teal"
    assert forbidden.header("X-Request") == forbidden.header("x-amzn-RequestId")
    assert forbidden.header("x-amzn-Remapped-Server") == "INVALID_API_KEY"
    assert forbidden.header("X-Not-Sent") is None
    # A value the request does not have sends no header.
    assert request(server, "GET", "/prod/keyed").header("X-Origin") is None
    # Requests outside the API (no stage) get API Gateway's own answer.
    outside = request(server, "GET", "/other/path")
    assert outside.status == 403 and outside.json() == {"message": "Missing Authentication Token"}


def test_resource_policy_sees_the_path_as_routed(tmp_path):
    server = start_gateway(tmp_path, policy_api([
        ALLOW_ALL,
        {"Effect": "Deny", "Principal": "*", "Action": "EXECUTE-API:invoke", "Resource": "execute-api:/*/GET/admin/users"},
    ]))
    assert request(server, "GET", "/prod/admin/other").status == 200
    # Neither a trailing slash (which the router ignores) nor percent-encoding gets past the Deny.
    for path in ("/prod/admin/users", "/prod/admin/users/", "/prod/admin/%75sers", "/prod/admin/user%73/"):
        denied = request(server, "GET", path)
        assert denied.status == 403, path
        assert denied.header("x-amzn-ErrorType") == "AccessDeniedException", path


def test_a_resource_policy_refuses_preflights_too(tmp_path):
    api = policy_api([
        ALLOW_ALL,
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
         "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8"]}}},
    ]).replace("paths:\n", 'x-amazon-apigateway-cors: {allowOrigins: ["*"], allowMethods: [GET]}\npaths:\n', 1)
    server = start_gateway(tmp_path, api)
    preflight = request(server, "OPTIONS", "/prod/pets",
                        headers="Origin: https://a.example\r\nAccess-Control-Request-Method: GET\r\n")
    assert preflight.status == 403
    assert request(server, "GET", "/prod/pets").status == 403

