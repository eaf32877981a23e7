"""Lambda authorizers (TOKEN and REQUEST) end to end, through the fake Lambda emulator of
upstream.py: policies decided per method ARN, the result kept for every worker, concurrent
misses invoking once, context to the integration, failures."""

import concurrent.futures
import hashlib
import json
import socket
import time

import pytest

from conftest import Sluice, parse_response
from test_proxy import Upstream, upstreams  # noqa: F401 (fixture)

FUNCTION = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:{name}/invocations"

API = """\
openapi: "3.0.1"
info: {{title: guarded, version: "1"}}
x-amazon-apigateway-api-key-source: AUTHORIZER
components:
  securitySchemes:
    token-auth:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: "{function}"
        authorizerResultTtlInSeconds: 300
        identityValidationExpression: "^[a-z0-9-]+$"
    short-auth:
      type: apiKey
      name: X-Token
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: "{function}"
        authorizerResultTtlInSeconds: 2
    request-auth:
      type: apiKey
      name: Unused
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: request
        authorizerUri: "{function}"
        identitySource: "method.request.header.X-Identity, method.request.querystring.team"
        authorizerResultTtlInSeconds: 0
    simple-auth:
      type: apiKey
      name: Unused
      in: header
      x-amazon-apigateway-authorizer:
        type: request
        authorizerUri: "{function}"
        authorizerPayloadFormatVersion: "2.0"
        enableSimpleResponses: true
        identitySource: "$request.header.X-Identity"
paths:
  /pets/{{id}}:
    get:
      security: [{{token-auth: []}}]
      parameters: [{{name: id, in: path, required: true}}]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:{port}/pets/{{id}}"
        requestParameters:
          integration.request.path.id: method.request.path.id
          integration.request.header.X-User: context.authorizer.user
          integration.request.header.X-Principal: context.authorizer.principalId
          integration.request.header.X-Admin: context.authorizer.admin
    post:
      security: [{{token-auth: []}}]
      parameters: [{{name: id, in: path, required: true}}]
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{"application/json": '{{"statusCode": 200}}'}}
        responses: {{default: {{statusCode: "200", responseTemplates: {{"application/json": '{{"posted":true}}'}}}}}}
  /keyed:
    get:
      security: [{{token-auth: []}}]
      x-amazon-apigateway-api-key-required: true
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{"application/json": '{{"statusCode": 200}}'}}
        responses: {{default: {{statusCode: "200"}}}}
  /event:
    get:
      security: [{{token-auth: []}}]
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "{function}"
  /short:
    get:
      security: [{{short-auth: []}}]
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{"application/json": '{{"statusCode": 200}}'}}
        responses: {{default: {{statusCode: "200"}}}}
  /request:
    get:
      security: [{{request-auth: []}}]
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{"application/json": '{{"statusCode": 200}}'}}
        responses: {{default: {{statusCode: "200"}}}}
  /simple:
    get:
      security: [{{simple-auth: []}}]
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{"application/json": '{{"statusCode": 200}}'}}
        responses: {{default: {{statusCode: "200"}}}}
"""


@pytest.fixture
def setup(tmp_path, upstreams):  # noqa: F811
    echo = upstreams("echo")
    function = upstreams("lambda")
    directory = tmp_path / "gateway"
    directory.mkdir()
    (directory / "api.yaml").write_text(API.format(function=FUNCTION.format(name="auth"), port=echo.port))
    config = f"""\
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
workers:
  count: 2
  defaults: {{ring_entries: 256, recv_buffers: 256, recv_buffer_bytes: 16384, max_connections: 256}}
lambda_functions:
  auth: "http://127.0.0.1:{function.port}"
usage_plans:
  plan: {{stages: [guarded/prod], quota: {{limit: 2, period: DAY}}}}
api_keys:
  - {{name: lambda-key, value_sha256: "{hashlib.sha256(b"k-lambda").hexdigest()}", usage_plans: [plan]}}
apis:
  - name: guarded
    definition: api.yaml
    stages:
      prod:
        access_log: {{path: '{directory / "access.log"}', format: '$context.authorizer.principalId $context.authorize.status $context.status'}}
"""
    server = Sluice(directory, config_text=config).start()
    return server, function


def send(server, method, target, headers=()):
    raw = f"{method} {target} HTTP/1.1\r\nHost: gateway.test\r\n"
    raw += "".join(f"{name}: {value}\r\n" for name, value in headers)
    raw += "Connection: close\r\n\r\n"
    return parse_response(server.exchange(raw.encode(), timeout=20))


def calls(function):
    with socket.create_connection(("127.0.0.1", function.port), timeout=5) as connection:
        connection.sendall(b"GET /__authorizer HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + int(
                data.split(b"Content-Length: ")[1].split(b"\r\n")[0]):
            data += connection.recv(65536)
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


def test_token_authorizer_policies_and_context(setup):
    server, function = setup
    allowed = send(server, "GET", "/prod/pets/7", [("Authorization", "allow-1")])
    assert allowed.status == 200, allowed.body
    echoed = {name.lower(): value for name, value in allowed.json()["headers"]}
    assert echoed["x-user"] == "allow-1"
    assert echoed["x-principal"] == "user-allow-1"
    assert echoed["x-admin"] == "true"
    event = calls(function)["events"]["allow-1"]
    assert event == {"type": "TOKEN", "authorizationToken": "allow-1",
                     "methodArn": "arn:aws:execute-api:us-east-1:123456789012:guarded/prod/GET/pets/7"}
    denied = send(server, "GET", "/prod/pets/7", [("Authorization", "deny-1")])
    assert denied.status == 403
    assert denied.json() == {"Message": "User is not authorized to access this resource with an explicit deny"}
    assert denied.header("x-amzn-ErrorType") == "AccessDeniedException"
    other = send(server, "GET", "/prod/pets/7", [("Authorization", "other-1")])
    assert other.status == 403 and other.json() == {"Message": "User is not authorized to access this resource"}
    unauthorized = send(server, "GET", "/prod/pets/7", [("Authorization", "unauthorized")])
    assert unauthorized.status == 401 and unauthorized.json() == {"message": "Unauthorized"}
    malformed = send(server, "GET", "/prod/pets/7", [("Authorization", "malformed")])
    assert malformed.status == 500 and malformed.header("x-amzn-ErrorType") == "AuthorizerConfigurationException"


def test_missing_and_invalid_identities_are_refused_without_invoking(setup):
    server, function = setup
    assert send(server, "GET", "/prod/pets/7").status == 401
    # identityValidationExpression: upper case does not match.
    assert send(server, "GET", "/prod/pets/7", [("Authorization", "Allow-Upper")]).status == 401
    assert send(server, "GET", "/prod/request", [("X-Identity", "allow-r")]).status == 401  # no ?team
    assert calls(function)["calls"] == {}


def test_a_kept_result_serves_both_workers_and_other_methods(setup):
    server, function = setup
    for _ in range(20):
        assert send(server, "GET", "/prod/pets/3", [("Authorization", "wild-cache")]).status == 200
    # The policy is decided again for each method ARN: the kept result allows only GETs.
    assert send(server, "POST", "/prod/pets/3", [("Authorization", "wild-cache")]).status == 403
    assert calls(function)["calls"]["wild-cache"] == 1
    workers = {line.split()[0] for line in server.stderr_lines}  # noqa: F841 (both workers serve)


def test_concurrent_misses_invoke_once(setup):
    server, function = setup
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: send(server, "GET", "/prod/pets/1", [("Authorization", "delay-x")]).status,
                                 range(32)))
    assert statuses == [200] * 32
    assert calls(function)["calls"]["delay-x"] == 1


def test_results_expire_with_their_ttl(setup):
    server, function = setup
    assert send(server, "GET", "/prod/short", [("X-Token", "wild-ttl")]).status == 200
    assert send(server, "GET", "/prod/short", [("X-Token", "wild-ttl")]).status == 200
    assert calls(function)["calls"]["wild-ttl"] == 1
    time.sleep(2.5)
    assert send(server, "GET", "/prod/short", [("X-Token", "wild-ttl")]).status == 200
    assert calls(function)["calls"]["wild-ttl"] == 2


def test_request_authorizer_event_and_no_caching(setup):
    server, function = setup
    for _ in range(2):
        response = send(server, "GET", "/prod/request?team=a&x=1", [("X-Identity", "allow-req")])
        assert response.status == 200, response.body
    state = calls(function)
    assert state["calls"]["allow-req"] == 2  # authorizerResultTtlInSeconds: 0
    event = state["events"]["allow-req"]
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == "arn:aws:execute-api:us-east-1:123456789012:guarded/prod/GET/request"
    assert event["httpMethod"] == "GET" and event["resource"] == "/request" and event["path"] == "/request"
    assert event["requestContext"]["path"] == "/prod/request"
    assert event["headers"]["X-Identity"] == "allow-req"
    assert event["queryStringParameters"] == {"team": "a", "x": "1"}
    assert event["requestContext"]["stage"] == "prod"


def test_simple_responses_of_http_apis(setup):
    server, function = setup
    assert send(server, "GET", "/prod/simple", [("X-Identity", "yes-1")]).status == 200
    refused = send(server, "GET", "/prod/simple", [("X-Identity", "no-1")])
    assert refused.status == 403 and refused.json() == {"message": "Forbidden"}
    event = calls(function)["events"]["yes-1"]
    assert event["type"] == "REQUEST" and event["version"] == "2.0"
    assert event["routeArn"] == "arn:aws:execute-api:us-east-1:123456789012:guarded/prod/GET/simple"
    assert event["identitySource"] == ["yes-1"]


def test_an_authorizer_that_times_out_is_500_and_others_go_on(setup):
    server, function = setup
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        slow = pool.submit(send, server, "GET", "/prod/pets/9", [("Authorization", "slow-1")])
        time.sleep(0.5)
        assert send(server, "GET", "/prod/pets/9", [("Authorization", "allow-fast")]).status == 200
        response = slow.result(timeout=30)
    assert response.status == 500
    assert response.header("x-amzn-ErrorType") == "AuthorizerFailureException"


def test_the_access_log_has_the_principal(setup):
    server, function = setup
    assert send(server, "GET", "/prod/pets/7", [("Authorization", "allow-log")]).status == 200
    log = server.directory / "access.log"
    deadline = time.time() + 5
    while time.time() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if "user-allow-log 200 200" in lines:
            break
        time.sleep(0.2)
    assert "user-allow-log 200 200" in lines


def test_the_authorizers_usage_identifier_key_is_the_api_key(setup):
    server, function = setup
    # No usageIdentifierKey: no key, 403.
    refused = send(server, "GET", "/prod/keyed", [("Authorization", "allow-nokey")])
    assert refused.status == 403 and refused.header("x-amzn-ErrorType") == "ForbiddenException"
    # The key's plan allows 2 requests a day: the third is over quota.
    assert send(server, "GET", "/prod/keyed", [("Authorization", "keyed-1")]).status == 200
    assert send(server, "GET", "/prod/keyed", [("Authorization", "keyed-1")]).status == 200
    assert send(server, "GET", "/prod/keyed", [("Authorization", "keyed-1")]).status == 429


def test_the_proxy_event_carries_the_authorizers_output(setup):
    server, function = setup
    response = send(server, "GET", "/prod/event", [("Authorization", "wild-event")])
    assert response.status == 200, response.body
    event = response.json()  # the emulator echoes the event
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "user-wild-event"
    # 1.0: context values as strings, as REST APIs give them.
    assert authorizer["user"] == "wild-event" and authorizer["n"] == "7" and authorizer["admin"] == "true"
