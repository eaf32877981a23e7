"""HTTP_PROXY integrations end to end: real upstream processes (upstream.py), the real binary."""

import datetime
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import SHARED, Sluice, parse_response, read_responses, read_until_close

HERE = Path(__file__).resolve().parent


class Upstream:
    """upstream.py KIND [ARGUMENTS…] as a process, on the port it prints."""

    def __init__(self, kind, *arguments):
        self.process = subprocess.Popen([sys.executable, str(HERE / "upstream.py"), kind, *arguments],
                                        stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline().split()[1])

    def stop(self):
        self.process.kill()
        self.process.wait(5)


@pytest.fixture
def upstreams():
    started = []

    def start(kind):
        upstream = Upstream(kind)
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        upstream.stop()


def proxy_api(uri, timeout_ms=29000, parameters=None, extra_paths=""):
    parameters = parameters or {"integration.request.path.proxy": "method.request.path.proxy"}
    mapping = ", ".join(f'"{k}": "{v}"' for k, v in parameters.items())
    return f"""\
openapi: "3.0.1"
info: {{title: proxy, version: "1"}}
paths:
  /{{proxy+}}:
    x-amazon-apigateway-any-method:
      parameters: [{{name: proxy, in: path, required: true}}]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: "{uri}"
        timeoutInMillis: {timeout_ms}
        requestParameters: {{{mapping}}}
  /mock:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{"application/json": '{{"statusCode": 200}}'}}
        responses:
          default: {{statusCode: "200", responseTemplates: {{"application/json": '{{"mock":true}}'}}}}
{extra_paths}"""


def start_gateway(tmp_path, api_text, stages="      prod: {}", workers=1, extra=""):
    directory = tmp_path / "gateway"
    directory.mkdir(exist_ok=True)
    (directory / "api.yaml").write_text(api_text)
    config = (f'listen: "127.0.0.1:0"\nadmin: "127.0.0.1:0"\n'
              f"workers:\n  count: {workers}\n"
              f"  defaults: {{ring_entries: 256, recv_buffers: 256, recv_buffer_bytes: 16384, max_connections: 256}}\n"
              f"{extra}"
              f"apis:\n  - name: proxy\n    definition: api.yaml\n    stages:\n{stages}\n")
    return Sluice(directory, config_text=config).start()


def request(server, method, path, body=b"", headers=""):
    raw = f"{method} {path} HTTP/1.1\r\nHost: gateway.test\r\n{headers}"
    if body or method in ("POST", "PUT", "PATCH"):
        raw += f"Content-Length: {len(body)}\r\n"
    raw += "Connection: close\r\n\r\n"
    return parse_response(server.exchange(raw.encode() + body, timeout=20), head_only=(method == "HEAD"))


def test_aws_example_proxies_every_method_with_path_query_headers_and_a_1_mb_body(tmp_path, upstreams):
    upstream = upstreams("echo")
    example = (SHARED / "examples" / "aws" / "setup-http-integrations.1.oas30.json").read_text()
    server = start_gateway(tmp_path, example, stages="      test: {}",
                           extra=f'upstreams:\n  resolve:\n    petstore-demo-endpoint.execute-api.com: "127.0.0.1:{upstream.port}"\n')
    body = os.urandom(1 << 20)
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"):
        sent = body if method in ("POST", "PUT", "PATCH") else b""
        response = request(server, method, "/test/pets/7?color=brown&size=2", sent,
                           headers="X-Custom: yes\r\nUser-Agent: e2e\r\n")
        assert response.status == 200, (method, response.raw_head)
        assert len(response.header("x-amzn-RequestId")) == 36
        if method == "HEAD":
            continue
        echoed = response.json()
        assert echoed["method"] == method
        assert echoed["target"] == "/petstore/pets/7?color=brown&size=2"
        headers = {name.lower(): value for name, value in echoed["headers"]}
        assert headers["host"] == "petstore-demo-endpoint.execute-api.com"
        assert headers["x-custom"] == "yes"
        assert headers["user-agent"] == "e2e"
        assert headers["x-forwarded-for"] == "127.0.0.1"
        assert headers["x-forwarded-proto"] == "http"
        assert headers["x-forwarded-port"] == str(server.port)
        assert "connection" not in headers or headers["connection"].lower() == "keep-alive"
        assert echoed["body_length"] == len(sent)
        assert echoed["body_sha256"] == hashlib.sha256(sent).hexdigest()


def test_upstream_connections_are_kept_alive_and_reused(tmp_path, upstreams):
    upstream = upstreams("echo")
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}"))
    with server.connect(timeout=10) as connection:
        for number in range(30):
            connection.sendall(f"GET /prod/item/{number} HTTP/1.1\r\nHost: g\r\n\r\n".encode())
            [response] = read_responses(connection, 1)
            assert response.json()["target"] == f"/item/{number}"
    # One worker, one client at a time: one upstream connection served them all.
    assert response.json()["connections"] == 1


def test_pipelined_proxied_and_mock_requests_answer_in_order(tmp_path, upstreams):
    upstream = upstreams("echo")
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}"))
    paths = ["/prod/a", "/prod/mock", "/prod/b", "/prod/mock", "/prod/c"] * 10
    with server.connect(timeout=20) as connection:
        connection.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: g\r\n\r\n".encode() for p in paths))
        responses = read_responses(connection, len(paths), timeout=20)
    assert len(responses) == len(paths)
    for path, response in zip(paths, responses):
        if path == "/prod/mock":
            assert response.body == b'{"mock":true}'
        else:
            assert response.json()["target"] == path[len("/prod"):]


def test_chunked_bodies_both_ways(tmp_path, upstreams):
    upstream = upstreams("chunked")
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}"))
    body = os.urandom(300_000)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 70000]), body[i:i + 70000]) for i in range(0, len(body), 70000))
    with server.connect(timeout=20) as connection:
        connection.sendall(b"POST /prod/up HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
                           + b"GET /prod/mock HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n")
        data = read_until_close(connection)
    head, rest = data.split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding: chunked" in head
    decoded = b""
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        decoded += rest[:size]
        rest = rest[size + 2:]
        if size == 0:
            break
    echoed = json.loads(decoded)
    assert echoed["body_length"] == len(body)
    assert echoed["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert parse_response(rest).body == b'{"mock":true}'


def test_http10_client_gets_a_dechunked_answer(tmp_path, upstreams):
    upstream = upstreams("chunked")
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}"))
    data = server.exchange(b"GET /prod/old HTTP/1.0\r\n\r\n", timeout=10)
    head, body = data.split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding" not in head
    assert json.loads(body)["target"] == "/old"


def test_close_delimited_answer_is_relayed(tmp_path, upstreams):
    upstream = upstreams("close")
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}"))
    data = server.exchange(b"GET /prod/x HTTP/1.1\r\nHost: g\r\n\r\n", timeout=10)
    head, body = data.split(b"\r\n\r\n", 1)
    assert b"Connection: close" in head
    assert json.loads(body)["target"] == "/x"


def test_slow_upstream_times_out_with_504_while_others_keep_flowing(tmp_path, upstreams):
    upstream = upstreams("slow")
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}", timeout_ms=1000))
    slow = server.connect(timeout=10)
    slow.sendall(b"GET /prod/slow HTTP/1.1\r\nHost: g\r\n\r\n")
    started = time.time()
    # The same (only) worker keeps answering others meanwhile.
    for _ in range(20):
        assert request(server, "GET", "/prod/mock").status == 200
    assert time.time() - started < 0.9
    [response] = read_responses(slow, 1, timeout=10)
    elapsed = time.time() - started
    assert response.status == 504
    assert response.body == b'{"message": "Endpoint request timed out"}'
    assert 0.9 <= elapsed < 2.0
    assert wait_for_line(server, ": 504 for an integration: upstream ")
    slow.close()


@pytest.mark.parametrize("kind", ["reset", "garbage"])
def test_broken_upstreams_give_502(tmp_path, upstreams, kind):
    upstream = upstreams(kind)
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}"))
    response = request(server, "GET", "/prod/x")
    assert response.status == 502
    assert response.body == b'{"message": "Internal server error"}'
    # The error log says why.
    cause = "connection closed or reset" if kind == "reset" else "malformed answer head"
    assert wait_for_line(server, f"upstream http://127.0.0.1:{upstream.port}: {cause}")
    assert request(server, "GET", "/prod/mock").status == 200


def test_dead_upstream_gives_502(tmp_path):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{port}/{{proxy}}"))
    response = request(server, "GET", "/prod/x")
    assert response.status == 502
    assert response.body == b'{"message": "Internal server error"}'
    # The error log says when, which upstream and why, with the request id.
    deadline = time.time() + 5
    while time.time() < deadline and not any(" error sluice-w" in line for line in server.stderr_lines):
        time.sleep(0.05)
    [line] = [line for line in server.stderr_lines if " error sluice-w" in line]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z error sluice-w\d: 502 for an integration: upstream "
                    rf"http://127\.0\.0\.1:{port}: cannot connect \(connect: Connection refused\); request ", line), line
    assert response.header("x-amzn-RequestId") in line


def wait_for_line(server, text, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(text in line for line in server.stderr_lines):
            return True
        time.sleep(0.05)
    return False


def test_stage_variables_choose_the_upstream_per_stage(tmp_path, upstreams):
    first, second = upstreams("echo"), upstreams("status")
    api = proxy_api("http://${stageVariables.backend}/{proxy}")
    stages = (f'      one: {{variables: {{backend: "127.0.0.1:{first.port}"}}}}\n'
              f'      two: {{variables: {{backend: "127.0.0.1:{second.port}"}}}}')
    server = start_gateway(tmp_path, api, stages=stages)
    assert request(server, "GET", "/one/x").header("X-Upstream") == "echo"
    assert request(server, "GET", "/two/x").header("X-Upstream") == "status"


def test_request_parameters_map_headers_and_queries(tmp_path, upstreams):
    upstream = upstreams("echo")
    parameters = {
        "integration.request.path.proxy": "method.request.path.proxy",
        "integration.request.header.X-Static": "'fixed'",
        "integration.request.header.X-From-Query": "method.request.querystring.q",
        "integration.request.header.X-Request-Id": "context.requestId",
        "integration.request.header.X-Time": "context.requestTime",
        "integration.request.header.X-Epoch": "context.requestTimeEpoch",
        "integration.request.header.X-Prefix": "context.domainPrefix",
        "integration.request.querystring.from_header": "method.request.header.X-In",
        "integration.request.querystring.at": "context.requestTime",
    }
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}", parameters=parameters))
    sent = time.time()
    response = request(server, "GET", "/prod/p?q=42", headers="X-In: hello\r\n")
    echoed = response.json()
    headers = {name.lower(): value for name, value in echoed["headers"]}
    assert headers["x-static"] == "fixed"
    assert headers["x-from-query"] == "42"
    assert headers["x-request-id"] == response.header("x-amzn-RequestId")
    assert headers["x-prefix"] == "gateway"
    assert abs(int(headers["x-epoch"]) / 1000 - sent) < 5
    # API Gateway's CLF time, the same instant; percent-encoded in the query.
    when = datetime.datetime.strptime(headers["x-time"], "%d/%b/%Y:%H:%M:%S %z")
    assert abs(when.timestamp() - int(headers["x-epoch"]) / 1000) < 1
    encoded = urllib.parse.quote(headers["x-time"], safe="")
    assert echoed["target"] == f"/p?q=42&from_header=hello&at={encoded}"


def test_upstream_status_and_headers_pass_through(tmp_path, upstreams):
    upstream = upstreams("status")
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}"))
    response = request(server, "GET", "/prod/x", headers="X-Status: 418\r\n")
    assert response.status == 418
    assert response.header("X-Upstream") == "status"
    assert response.header("Keep-Alive") is None


def test_http_integration_selects_its_response_by_upstream_status(tmp_path, upstreams):
    upstream = upstreams("status")
    api = f"""\
openapi: "3.0.1"
info: {{title: http, version: "1"}}
paths:
  /thing:
    get:
      parameters: [{{name: X-Status, in: header}}]
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: "http://127.0.0.1:{upstream.port}/thing"
        requestParameters:
          integration.request.header.X-Status: method.request.header.X-Status
        responses:
          "2\\\\d{{2}}": {{statusCode: "200"}}
          "404":
            statusCode: "404"
            responseParameters:
              method.response.header.X-Mapped: integration.response.header.X-Upstream
              method.response.header.X-Static: "'s'"
          default: {{statusCode: "502"}}
"""
    server = start_gateway(tmp_path, api)
    ok = request(server, "GET", "/prod/thing", headers="X-Status: 201\r\n")
    assert ok.status == 200
    assert ok.json()["target"] == "/thing"
    # Non-proxy: upstream headers are not passed through unless mapped.
    assert ok.header("X-Upstream") is None
    missing = request(server, "GET", "/prod/thing", headers="X-Status: 404\r\n")
    assert missing.status == 404
    assert missing.header("X-Mapped") == "status"
    assert missing.header("X-Static") == "s"
    other = request(server, "GET", "/prod/thing", headers="X-Status: 503\r\n")
    assert other.status == 502


def test_a_stale_pooled_connection_is_retried_for_idempotent_requests_only(tmp_path, upstreams):
    upstream = upstreams("oneshot")
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}"))
    for number in range(5):
        # Each answer leaves a pooled connection that fails the next request sent on it.
        response = request(server, "GET", f"/prod/get/{number}")
        assert response.status == 200, number
        assert response.json()["target"] == f"/get/{number}"
        assert response.json()["connections"] == number + 1
    response = request(server, "PUT", "/prod/put", b"idempotent")
    assert response.status == 200
    # POST is not idempotent: the stale connection's failure is the answer.
    response = request(server, "POST", "/prod/post", b"once")
    assert response.status == 502


def test_request_and_integration_latency_histograms(tmp_path, upstreams):
    upstream = upstreams("echo")
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}"))
    for _ in range(7):
        assert request(server, "GET", "/prod/x").status == 200
    for _ in range(3):
        assert request(server, "GET", "/prod/mock").status == 200
    values = server.metrics()
    stage = 'api="proxy",stage="prod"'
    assert values[f"sluice_integration_duration_seconds_count{{{stage}}}"] == 7
    assert values[f'sluice_integration_duration_seconds_bucket{{{stage},le="+Inf"}}'] == 7
    assert values[f"sluice_request_duration_seconds_count{{{stage}}}"] == 10
    assert 0 < values[f"sluice_integration_duration_seconds_sum{{{stage}}}"] \
        <= values[f"sluice_request_duration_seconds_sum{{{stage}}}"]
    assert values[f'sluice_requests_total{{{stage},code="2xx"}}'] == 10


def test_a_slow_reader_of_a_large_answer_gets_it_intact_with_bounded_memory(tmp_path, upstreams):
    upstream = upstreams("big")
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}"))
    worker = server.workers()["sluice-w0"]

    def resident_kib():
        for line in Path(f"/proc/{worker}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    size = 9 << 20  # under the 10 MB payload limit, which answers obey too
    block = bytes(range(256)) * 4096
    expected = hashlib.sha256()
    sent = 0
    while sent < size:
        piece = block[:min(len(block), size - sent)]
        expected.update(piece)
        sent += len(piece)

    def transfer(pause):
        connection = socket.socket()
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        connection.connect((server.host, server.port))
        connection.settimeout(30)
        connection.sendall(f"GET /prod/big HTTP/1.1\r\nHost: g\r\nX-Size: {size}\r\n\r\n".encode())
        before = resident_kib()
        received = b""
        while b"\r\n\r\n" not in received:
            received += connection.recv(65536)
        head, body = received.split(b"\r\n\r\n", 1)
        assert b"Content-Length: %d" % size in head
        digest = hashlib.sha256(body)
        length = len(body)
        peak = before
        time.sleep(pause)  # The client stops reading: the upstream must be paused, not buffered.
        while length < size:
            chunk = connection.recv(1 << 20)
            assert chunk, f"closed after {length} bytes"
            digest.update(chunk)
            length += len(chunk)
            peak = max(peak, resident_kib())
        connection.close()
        assert digest.hexdigest() == expected.hexdigest()
        return peak - before

    # The first transfer touches the worker's preallocated buffers for the first time.
    transfer(pause=0)
    grown = transfer(pause=0.5)
    # 9 MiB went through a worker whose resident memory did not grow with it.
    assert grown < 512, grown


def test_head_to_a_get_integration_gets_the_length_and_no_body(tmp_path, upstreams):
    upstream = upstreams("echo")
    api = proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}").replace("httpMethod: ANY", "httpMethod: GET")
    server = start_gateway(tmp_path, api)
    with server.connect(timeout=10) as connection:
        # The upstream is asked GET and answers with a body; the HEAD client gets none of it, and
        # the next request on the same connection gets its own answer.
        connection.sendall(b"HEAD /prod/h HTTP/1.1\r\nHost: g\r\n\r\nGET /prod/g HTTP/1.1\r\nHost: g\r\n\r\n")
        [head_answer] = read_responses(connection, 1, head_only=True)
        assert head_answer.status == 200
        assert int(head_answer.header("Content-Length")) > 0
        [get_answer] = read_responses_from_rest(connection, head_answer.rest, 1)
    assert get_answer.json()["target"] == "/g"
    assert get_answer.json()["method"] == "GET"


def read_responses_from_rest(connection, data, count):
    from conftest import parse_responses
    while True:
        try:
            responses = parse_responses(data)
            if len(responses) >= count and all(len(r.body) == int(r.header("Content-Length") or 0) for r in responses):
                return responses[:count]
        except ValueError:
            pass
        data += connection.recv(65536)


def test_a_slow_answer_is_not_cut_by_client_timeouts_and_survives_drain_and_half_close(tmp_path, upstreams):
    import signal
    upstream = upstreams("slow")  # answers after 5 s
    directory = tmp_path / "gateway"
    directory.mkdir()
    (directory / "api.yaml").write_text(proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}", timeout_ms=8000))
    (directory / "sluice.yaml").write_text(
        'listen: "127.0.0.1:0"\nadmin: "127.0.0.1:0"\nworkers: {count: 1}\n'
        "limits: {header_timeout_ms: 500, idle_timeout_ms: 1000}\ndrain_timeout_ms: 10000\n"
        "apis:\n  - name: proxy\n    definition: api.yaml\n    stages: {prod: {}}\n")
    server = Sluice(directory, config_text=(directory / "sluice.yaml").read_text()).start()
    try:
        waiting = server.connect(timeout=15)
        waiting.sendall(b"GET /prod/a HTTP/1.1\r\nHost: g\r\n\r\n")
        half_closed = server.connect(timeout=15)
        half_closed.sendall(b"GET /prod/b HTTP/1.1\r\nHost: g\r\n\r\n")
        half_closed.shutdown(socket.SHUT_WR)
        pipelined = server.connect(timeout=15)
        pipelined.sendall(b"GET /prod/c HTTP/1.1\r\nHost: g\r\n\r\n"
                          + b"GET /prod/mock HTTP/1.1\r\nHost: g\r\n\r\n" * 200)
        time.sleep(1.5)  # past the header and idle timeouts
        server.signal(signal.SIGTERM)
        answer = parse_response(read_until_close(waiting))
        assert answer.status == 200 and answer.json()["target"] == "/a"
        assert answer.header("Connection") == "close"
        assert parse_response(read_until_close(half_closed)).json()["target"] == "/b"
        responses = parse_responses_all(read_until_close(pipelined))
        assert responses[0].json()["target"] == "/c"
        assert server.wait(15) == 0
    finally:
        server.kill()


def parse_responses_all(data):
    from conftest import parse_responses
    return parse_responses(data)


def test_mapped_values_are_percent_encoded_into_the_upstream_url(tmp_path, upstreams):
    upstream = upstreams("echo")
    extra = f"""  /items:
    get:
      parameters: [{{name: X-Id, in: header}}]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:{upstream.port}/items/{{id}}"
        requestParameters:
          integration.request.path.id: method.request.header.X-Id
          integration.request.querystring.q: method.request.header.X-Q
"""
    server = start_gateway(tmp_path, proxy_api(f"http://127.0.0.1:{upstream.port}/{{proxy}}", extra_paths=extra))
    response = request(server, "GET", "/prod/items", headers="X-Id: ../admin?x=1# y\r\nX-Q: a&admin=true\r\n")
    target = response.json()["target"]
    assert target.startswith("/items/..%2Fadmin%3Fx%3D1%23%20y?q=a%26admin%3Dtrue"), target
