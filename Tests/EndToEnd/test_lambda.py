"""AWS_PROXY (Lambda proxy) integrations end to end: the real binary invoking a fake Lambda Runtime
Interface Emulator (upstream.py's `lambda` kind), which echoes the event it decoded so that each test
checks it field by field."""

import base64
import json
import re
import socket
import time

import pytest

from conftest import Sluice, parse_response, read_responses
from test_proxy import Upstream, upstreams  # noqa: F401 (fixture)

FUNCTION_URI = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                "arn:aws:lambda:us-east-1:123456789012:function:pets/invocations")

LAMBDA_API = f"""\
openapi: "3.0.1"
info: {{title: lambda, version: "1"}}
paths:
  /:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "{FUNCTION_URI}"
  /pets/{{petId}}:
    x-amazon-apigateway-any-method:
      parameters: [{{name: petId, in: path, required: true}}]
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "{FUNCTION_URI}"
        timeoutInMillis: 1500
  /keyed:
    get:
      x-amazon-apigateway-api-key-required: true
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "{FUNCTION_URI}"
  /v2/{{proxy+}}:
    x-amazon-apigateway-any-method:
      parameters: [{{name: proxy, in: path, required: true}}]
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        payloadFormatVersion: "2.0"
        uri: "{FUNCTION_URI}"
        timeoutInMillis: 1500
"""


def start_gateway(tmp_path, function_port, workers=1, extra="", stage_extra=""):
    directory = tmp_path / "gateway"
    directory.mkdir(exist_ok=True)
    (directory / "api.yaml").write_text(LAMBDA_API)
    config = (f'listen: "127.0.0.1:0"\nadmin: "127.0.0.1:0"\n'
              f"workers:\n  count: {workers}\n"
              f"  defaults: {{ring_entries: 256, recv_buffers: 256, recv_buffer_bytes: 16384, max_connections: 256}}\n"
              f'lambda_functions:\n  pets: "http://127.0.0.1:{function_port}"\n'
              f"{extra}"
              f"apis:\n  - name: shop\n    definition: api.yaml\n    stages:\n"
              f"      prod: {{variables: {{color: blue, size: \"10\"}}{stage_extra}}}\n")
    return Sluice(directory, config_text=config).start()


@pytest.fixture
def gateway(tmp_path, upstreams):  # noqa: F811
    function = upstreams("lambda")
    server = start_gateway(tmp_path, function.port)
    yield server
    server.kill()


def exchange(gateway, raw, timeout=10):
    with gateway.connect(timeout) as connection:
        connection.sendall(raw)
        return read_responses(connection, 1, timeout=timeout)[0]


def request(method, target, headers=(), body=None, chunked=False):
    lines = [f"{method} {target} HTTP/1.1", "Host: shop.example.com"]
    lines += [f"{name}: {value}" for name, value in headers]
    data = b""
    if body is not None and chunked:
        lines.append("Transfer-Encoding: chunked")
        pieces = [body[i:i + 7000] for i in range(0, len(body), 7000)]
        data = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    elif body is not None:
        lines.append(f"Content-Length: {len(body)}")
        data = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


# Payload format 1.0 ------------------------------------------------------------------------------

def test_format_1_event_has_every_field_from_the_request(gateway):
    raw = request("GET", "/prod/pets/7%20x?a=1&a=2&b=caf%C3%A9&flag",
                  headers=[("X-Multi", "one"), ("x-multi", "two"), ("User-Agent", "tester/1"),
                           ("X-Forwarded-For", "10.0.0.1"), ("Cookie", "k=v")])
    response = exchange(gateway, raw)
    assert response.status == 200, response.body
    assert response.header("Content-Type") == "application/json"
    assert response.header("X-Function") == "pets"
    assert [v for k, v in response.headers if k.lower() == "set-cookie"] == ["a=1", "b=2"]
    event = response.json()
    assert event["resource"] == "/pets/{petId}"
    assert event["path"] == "/pets/7%20x"
    assert event["httpMethod"] == "GET"
    assert event["headers"]["X-Multi"] == "two"
    assert event["multiValueHeaders"]["X-Multi"] == ["one", "two"]
    assert event["headers"]["User-Agent"] == "tester/1"
    assert event["headers"]["Host"] == "shop.example.com"
    assert event["headers"]["X-Forwarded-For"] == "10.0.0.1, 127.0.0.1"
    assert event["headers"]["X-Forwarded-Port"] == str(gateway.port)
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["queryStringParameters"] == {"a": "2", "b": "café", "flag": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["café"], "flag": [""]}
    assert event["pathParameters"] == {"petId": "7%20x"}
    assert event["stageVariables"] == {"color": "blue", "size": "10"}
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/pets/{petId}"
    assert context["httpMethod"] == "GET"
    assert context["path"] == "/prod/pets/7%20x"
    assert context["stage"] == "prod"
    assert context["protocol"] == "HTTP/1.1"
    assert context["requestId"] == response.header("x-amzn-RequestId")
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "tester/1"
    assert "apiKey" not in context["identity"] and "apiKeyId" not in context["identity"]
    assert context["domainName"] == "shop.example.com"
    assert abs(context["requestTimeEpoch"] / 1000 - time.time()) < 10


def test_format_1_root_resource_and_no_stage_variables_on_the_path(gateway):
    event = exchange(gateway, request("GET", "/prod")).json()
    assert event["resource"] == "/"
    assert event["path"] == "/"
    assert event["pathParameters"] is None
    assert event["queryStringParameters"] is None


@pytest.mark.parametrize("chunked", [False, True])
def test_format_1_text_body_of_one_megabyte_arrives_intact(gateway, chunked):
    text = ('quote " backslash \\ newline \n tab \t control \x01 é 漢字 🎉 ' * 20000)[:1_048_576]
    body = text.encode()
    raw = request("POST", "/prod/pets/1", headers=[("Content-Type", "text/plain")], body=body, chunked=chunked)
    response = exchange(gateway, raw, timeout=30)
    assert response.status == 200, response.body[:200]
    event = response.json()
    assert event["body"] == body.decode()
    assert event["isBase64Encoded"] is False
    assert event["httpMethod"] == "POST"


def test_format_1_invalid_utf8_body_becomes_replacement_characters(gateway):
    body = b"ok \xff\xfe end \xe2\x82"
    event = exchange(gateway, request("PUT", "/prod/pets/1", body=body)).json()
    assert event["body"] == "ok \ufffd\ufffd end \ufffd"


def test_format_1_base64_answer_is_sent_as_written_without_binary_media_types(gateway):
    response = exchange(gateway, request("GET", "/prod/pets/1", headers=[("X-Fake", "base64")]))
    assert response.status == 200
    assert response.body == base64.b64encode(bytes(range(256)))


@pytest.mark.parametrize("mode", ["malformed", "error", "function-error", "garbage", "injected", "crash"])
def test_format_1_bad_answers_are_502(gateway, mode):
    response = exchange(gateway, request("GET", "/prod/pets/1", headers=[("X-Fake", mode)]))
    assert response.status == 502, (mode, response.body)
    assert response.json() == {"message": "Internal server error"}
    # The worker goes on.
    assert exchange(gateway, request("GET", "/prod/pets/2")).status == 200


def test_function_status_headers_and_gateway_owned_fields(gateway):
    response = exchange(gateway, request("GET", "/prod/pets/1", headers=[("X-Fake", "status"), ("X-Status", "418")]))
    assert response.status == 418
    assert response.body == b"status"
    assert response.header("Content-Type") == "application/json"
    response = exchange(gateway, request("GET", "/prod/pets/1", headers=[("X-Fake", "remapped")]))
    assert response.status == 200
    assert response.body == b"mine"
    assert response.header("x-amzn-Remapped-Date") == "yesterday"
    assert response.header("x-amzn-Remapped-x-amzn-RequestId") == "theirs"
    assert response.header("x-amzn-RequestId") != "theirs"
    assert response.header("Content-Length") == "4"
    assert response.header("Connection") is None


def test_head_and_204_have_no_body(gateway):
    with gateway.connect() as connection:
        connection.sendall(request("HEAD", "/prod/pets/1"))
        head = read_responses(connection, 1, head_only=True, timeout=10)[0]
        connection.sendall(request("GET", "/prod/pets/1", headers=[("X-Fake", "status"), ("X-Status", "204")])
                           + request("GET", "/prod/pets/3"))
        no_content, after = read_responses(connection, 2, timeout=10)
    assert head.status == 200 and head.body == b"" and int(head.header("Content-Length")) > 100
    assert no_content.status == 204 and no_content.body == b"" and no_content.header("Content-Length") is None
    assert after.status == 200 and after.json()["pathParameters"] == {"petId": "3"}


def test_chunked_and_large_answers(gateway):
    response = exchange(gateway, request("GET", "/prod/pets/1", headers=[("X-Fake", "chunked")]))
    assert response.status == 200 and response.body == b"chunked answer"
    response = exchange(gateway, request("GET", "/prod/pets/1", headers=[("X-Fake", "big"), ("X-Size", "4000000")]),
                        timeout=30)
    assert response.status == 200
    assert response.body == "é".encode() * (4_000_000 // 6)
    # Over Lambda's 6 MB limit for an answer.
    response = exchange(gateway, request("GET", "/prod/pets/1", headers=[("X-Fake", "big"), ("X-Size", "7000000")]),
                        timeout=30)
    assert response.status == 502


def test_keep_alive_pipelining_and_connection_reuse(gateway):
    with gateway.connect() as connection:
        connection.sendall(b"".join(request("GET", f"/prod/pets/{n}") for n in range(20)))
        responses = read_responses(connection, 20, timeout=20)
    assert [r.json()["pathParameters"]["petId"] for r in responses] == [str(n) for n in range(20)]
    ids = {r.header("x-amzn-RequestId") for r in responses}
    assert len(ids) == 20


def test_slow_function_times_out_while_others_flow(gateway):
    slow = gateway.connect(10)
    slow.sendall(request("GET", "/prod/pets/1", headers=[("X-Fake", "slow")]))
    started = time.time()
    for n in range(20):
        assert exchange(gateway, request("GET", f"/prod/pets/{n}")).status == 200
    assert time.time() - started < 1.5
    response = read_responses(slow, 1, timeout=10)[0]
    elapsed = time.time() - started
    slow.close()
    assert response.status == 504
    assert response.json() == {"message": "Endpoint request timed out"}
    assert 1.3 < elapsed < 3.0


def test_invocations_beyond_the_limit_are_503(tmp_path, upstreams):  # noqa: F811
    function = upstreams("lambda")
    server = start_gateway(tmp_path, function.port, extra="limits: {lambda_invocations: 1}\n")
    try:
        slow = server.connect(10)
        slow.sendall(request("GET", "/prod/pets/1", headers=[("X-Fake", "slow")]))
        time.sleep(0.3)
        response = exchange(server, request("GET", "/prod/pets/2"))
        assert response.status == 503
        assert read_responses(slow, 1, timeout=10)[0].status == 504
        slow.close()
        # The slot is free again.
        assert exchange(server, request("GET", "/prod/pets/3")).status == 200
    finally:
        server.kill()


def test_failed_functions_keep_the_emulator_connection(gateway):
    with gateway.connect() as connection:
        counts = []
        for mode in ["malformed", "error", "function-error", "garbage", "status"]:
            connection.sendall(request("GET", "/prod/pets/1", headers=[("X-Fake", mode)])
                               + request("GET", "/prod/pets/1", headers=[("X-Fake", "connections")]))
            failed, count = read_responses(connection, 2, timeout=10)
            assert failed.status in (200, 502), mode
            counts.append(int(count.body))
    assert len(set(counts)) == 1, counts


def test_a_bad_body_ends_the_invocation_at_once(tmp_path, upstreams):  # noqa: F811
    function = upstreams("lambda")
    server = start_gateway(tmp_path, function.port, extra="limits: {lambda_invocations: 1}\n")
    try:
        with server.connect() as connection:
            connection.sendall(b"POST /prod/pets/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                               b"5\r\nhello\r\nzz\r\n")
            response = read_responses(connection, 1, timeout=5)[0]
        assert response.status == 400
        # The only invocation slot is free again at once.
        assert exchange(server, request("GET", "/prod/pets/2")).status == 200
    finally:
        server.kill()


def test_interim_status_from_a_function_is_502(gateway):
    response = exchange(gateway, request("GET", "/prod/pets/1", headers=[("X-Fake", "status"), ("X-Status", "101")]))
    assert response.status == 502


def test_dead_emulator_is_502(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    server = start_gateway(tmp_path, port)
    try:
        response = exchange(server, request("GET", "/prod/pets/1"))
        assert response.status == 502
        assert response.json() == {"message": "Internal server error"}
    finally:
        server.kill()


def test_the_event_carries_the_requests_trace_as_api_gateway_adds_it(gateway):
    # A W3C traceparent: the same trace in X-Ray's form; the traceparent itself passes as sent.
    parent = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
    event = exchange(gateway, request("GET", "/prod/pets/1", headers=[("traceparent", parent)])).json()
    assert event["headers"]["X-Amzn-Trace-Id"] == \
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    assert event["multiValueHeaders"]["X-Amzn-Trace-Id"] == [event["headers"]["X-Amzn-Trace-Id"]]
    assert event["headers"]["traceparent"] == parent
    # A valid X-Amzn-Trace-Id goes as it came, once, whatever its spelling.
    amazon = "Root=1-67891233-abcdef012345678912345678;Parent=463ac35c9f6413ad;Sampled=0"
    event = exchange(gateway, request("GET", "/prod/pets/1", headers=[("x-amzn-trace-id", amazon)])).json()
    trace_headers = {name: value for name, value in event["headers"].items() if name.lower() == "x-amzn-trace-id"}
    assert trace_headers == {"X-Amzn-Trace-Id": amazon}
    # None, or a broken one: a new sampled trace whose first part is the current second.
    for headers in ([], [("X-Amzn-Trace-Id", "Root=nonsense")]):
        event = exchange(gateway, request("GET", "/prod/pets/1", headers=headers)).json()
        trace = event["headers"]["X-Amzn-Trace-Id"]
        assert re.fullmatch(r"Root=1-([0-9a-f]{8})-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1", trace), trace
        assert abs(int(trace[7:15], 16) - time.time()) < 60
        assert [name for name in event["headers"] if name.lower() == "x-amzn-trace-id"] == ["X-Amzn-Trace-Id"]
    # Format 2.0: lowercase, like every 2.0 header.
    event = exchange(gateway, request("GET", "/prod/v2/x", headers=[("traceparent", parent)])).json()
    assert event["headers"]["x-amzn-trace-id"] == \
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


# Payload format 2.0 ------------------------------------------------------------------------------

def test_format_2_event_has_every_field_from_the_request(gateway):
    raw = request("POST", "/prod/v2/a/b%2Fc?x=1&x=2&y=z",
                  headers=[("X-Multi", "one"), ("X-Multi", "two"), ("Cookie", "c1=v1; c2=v2"),
                           ("Content-Type", "application/octet-stream")],
                  body=bytes(range(256)) * 10)
    response = exchange(gateway, raw)
    assert response.status == 200, response.body
    event = response.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /v2/{proxy+}"
    assert event["rawPath"] == "/prod/v2/a/b%2Fc"
    assert event["rawQueryString"] == "x=1&x=2&y=z"
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-multi"] == "one,two"
    assert "cookie" not in event["headers"]
    assert event["queryStringParameters"] == {"x": "1,2", "y": "z"}
    assert event["pathParameters"] == {"proxy": "a/b/c"}  # HTTP APIs decode path parameters
    assert event["stageVariables"] == {"color": "blue", "size": "10"}
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == bytes(range(256)) * 10
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/prod/v2/a/b%2Fc"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["stage"] == "prod"
    assert context["routeKey"] == "ANY /v2/{proxy+}"
    assert context["requestId"] == response.header("x-amzn-RequestId")


def test_format_2_json_body_is_text(gateway):
    body = json.dumps({"name": "rex", "note": "é"}).encode()
    raw = request("PUT", "/prod/v2/pets", headers=[("Content-Type", "application/json; charset=utf-8")], body=body)
    event = exchange(gateway, raw).json()
    assert event["isBase64Encoded"] is False
    assert event["body"] == body.decode()


def test_format_2_answers(gateway):
    response = exchange(gateway, request("GET", "/prod/v2/x", headers=[("X-Fake", "inferred")]))
    assert response.status == 200
    assert response.header("Content-Type") == "application/json"
    assert response.json() == {"hello": "world"}
    response = exchange(gateway, request("GET", "/prod/v2/x", headers=[("X-Fake", "cookies")]))
    assert response.status == 201
    assert [v for k, v in response.headers if k.lower() == "set-cookie"] == ["a=1; Path=/", "b=2"]
    assert response.header("X-One") == "1"
    response = exchange(gateway, request("GET", "/prod/v2/x", headers=[("X-Fake", "base64")]))
    assert response.status == 200
    assert response.body == bytes(range(256))
    response = exchange(gateway, request("GET", "/prod/v2/x", headers=[("X-Fake", "error")]))
    assert response.status == 500
    assert response.json() == {"message": "Internal Server Error"}
    response = exchange(gateway, request("GET", "/prod/v2/x", headers=[("X-Fake", "malformed")]))
    assert response.status == 502
    response = exchange(gateway, request("GET", "/prod/v2/x", headers=[("X-Fake", "garbage")]))
    assert response.status == 502


def test_many_concurrent_invocations_across_two_workers(tmp_path, upstreams):  # noqa: F811
    function = upstreams("lambda")
    server = start_gateway(tmp_path, function.port, workers=2)
    try:
        connections = [server.connect(10) for _ in range(40)]
        for n, connection in enumerate(connections):
            connection.sendall(request("POST", f"/prod/pets/{n}", body=b"x" * 5000))
        for n, connection in enumerate(connections):
            response = read_responses(connection, 1, timeout=20)[0]
            assert response.status == 200
            assert response.json()["body"] == "x" * 5000
            connection.close()
    finally:
        server.kill()


def test_the_event_carries_the_api_key_the_request_was_admitted_with(tmp_path, upstreams):  # noqa: F811
    import hashlib
    function = upstreams("lambda")
    digest = hashlib.sha256(b"k-lambda-1").hexdigest()
    extra = (f'usage_plans:\n  basic: {{stages: ["shop/prod"]}}\n'
             f'api_keys:\n  - {{name: "the \\"key\\"", value_sha256: "{digest}", usage_plans: [basic]}}\n')
    gateway = start_gateway(tmp_path, function.port, extra=extra)
    assert exchange(gateway, request("GET", "/prod/keyed")).status == 403
    response = exchange(gateway, request("GET", "/prod/keyed", headers=[("x-api-key", "k-lambda-1")]))
    assert response.status == 200, response.body
    identity = response.json()["requestContext"]["identity"]
    assert identity["apiKey"] == "k-lambda-1"
    assert identity["apiKeyId"] == 'the "key"'


def test_function_answers_are_kept_by_the_stage_cache(tmp_path, upstreams):  # noqa: F811
    function = upstreams("lambda")
    gateway = start_gateway(tmp_path, function.port, workers=2, stage_extra=", cache: {capacity_mb: 4}")
    # A function error is not kept: the next request invokes the function again.
    assert exchange(gateway, request("GET", "/prod/", headers=[("X-Fake", "error")])).status == 502
    time.sleep(0.1)  # requests pass straight through for 20 ms after a fill is given up
    first = exchange(gateway, request("GET", "/prod/"))
    assert first.status == 200
    invoked = first.json()["requestContext"]["requestId"]
    assert invoked == first.header("x-amzn-RequestId")
    for _ in range(10):
        again = exchange(gateway, request("GET", "/prod/"))
        # The same answer (the event of the first invocation), under a new request id.
        assert again.status == 200 and again.body == first.body
        assert again.header("x-amzn-RequestId") != invoked
        assert again.header("Content-Type") == first.header("Content-Type")
    text = gateway.admin_get("/metrics").body.decode()
    assert 'sluice_cache_requests_total{api="shop",stage="prod",result="hit"} 10' in text
    assert 'sluice_cache_requests_total{api="shop",stage="prod",result="miss"} 2' in text
