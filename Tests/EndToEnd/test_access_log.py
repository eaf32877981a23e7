"""Access logs per stage and trace propagation, against the real binary with 2 workers."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import Sluice, read_responses
from test_proxy import Upstream, upstreams  # noqa: F401 (fixture)

API = """\
openapi: "3.0.1"
info: {title: logged, version: "1"}
paths:
  /ok:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 200}'}
        responses: {default: {statusCode: "200", responseTemplates: {"application/json": '{"ok":true}'}}}
  /keyed:
    get:
      x-amazon-apigateway-api-key-required: true
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 200}'}
        responses: {default: {statusCode: "200"}}
  /limited:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 200}'}
        responses: {default: {statusCode: "200"}}
  /pets/{petId}:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:UPSTREAM/pets/{petId}"
        requestParameters: {"integration.request.path.petId": "method.request.path.petId"}
  /slow:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:SLOW/slow"
        timeoutInMillis: 300
"""

TEXT_FORMAT = ('$context.requestId "$context.identity.userAgent" $context.path $context.status '
               '$context.error.responseType $context.xrayTraceId')


def start(tmp_path, upstream, slow, prod_log, beta_log="", workers=2):
    directory = tmp_path / "gateway"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "api.yaml").write_text(API.replace("UPSTREAM", str(upstream.port)).replace("SLOW", str(slow.port)))
    digest = hashlib.sha256(b"k-logged").hexdigest()
    config = f"""\
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
workers:
  count: {workers}
  defaults: {{ring_entries: 256, recv_buffers: 256, recv_buffer_bytes: 4096, max_connections: 512}}
apis:
  - name: logged
    definition: api.yaml
    stages:
      prod:
        access_log: {prod_log}
        method_settings:
          "GET /limited": {{throttling: {{rate_limit: 0.001, burst_limit: 2}}}}
      beta:
        {beta_log}
account_throttling: {{rate_limit: 1000000, burst_limit: 100000}}
usage_plans:
  basic: {{stages: ["logged/prod"]}}
api_keys:
  - {{name: alice, value_sha256: "{digest}", usage_plans: [basic]}}
"""
    return Sluice(directory, config_text=config).start()


def get(server, target, headers=""):
    with server.connect(timeout=10) as connection:
        connection.sendall(f"GET {target} HTTP/1.1\r\nHost: gw.example\r\n{headers}\r\n".encode())
        return read_responses(connection, 1, timeout=10)[0]


def lines_of(path, count, timeout=5):
    """The file's lines once it has `count` of them (writes complete in the background)."""
    deadline = time.time() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        lines = text.splitlines()
        if len(lines) >= count or time.time() > deadline:
            assert text == "" or text.endswith("\n"), "a line was cut"
            return lines
        time.sleep(0.05)


def test_every_request_of_a_logged_stage_writes_one_json_line_with_its_values(tmp_path, upstreams):  # noqa: F811
    log = tmp_path / "prod.log"
    echo = upstreams("echo")
    server = start(tmp_path, echo, upstreams("slow"), f"{{path: {log}, format: json}}")
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    sent = [
        ("/prod/ok", "", 200),
        ("/prod/keyed", "", 403),
        ("/prod/keyed", "x-api-key: k-logged\r\n", 200),
        ("/prod/limited", "", 200),
        ("/prod/limited", "", 200),
        ("/prod/limited", "", 429),
        ("/prod/pets/7?color=red", f"traceparent: {parent}\r\nUser-Agent: probe/1.0\r\n", 200),
        ("/prod/pets/8", "", 200),
        ("/prod/slow", "", 504),
        ("/beta/ok", "", 200),        # another stage, without a log
        ("/nowhere", "", 403),        # no stage at all
    ]
    responses = []
    for target, headers, status in sent:
        response = get(server, target, headers)
        assert response.status == status, target
        responses.append(response)
    lines = lines_of(log, 9)
    time.sleep(0.3)
    assert len(lines_of(log, 9)) == 9
    records = [json.loads(line) for line in lines]
    by_id = {record["requestId"]: record for record in records}
    logged = [(target, response) for (target, _, _), response in zip(sent, responses) if target.startswith("/prod")]
    assert len(by_id) == 9
    for target, response in logged:
        record = by_id[response.header("x-amzn-RequestId")]
        assert record["status"] == str(response.status)
        assert record["path"] == target.split("?")[0]
        assert record["httpMethod"] == "GET"
        assert record["protocol"] == "HTTP/1.1"
        assert record["ip"] == "127.0.0.1"
        assert int(record["responseLength"]) == len(response.body)
        assert int(record["responseLatency"]) >= 0
        assert len(record["traceId"]) == 32
        time.strptime(record["requestTime"], "%d/%b/%Y:%H:%M:%S +0000")

    def record_of(index):
        return by_id[responses[index].header("x-amzn-RequestId")]

    assert record_of(0)["resourcePath"] == "/ok"
    assert record_of(0)["errorMessage"] == "-" and record_of(0)["integrationStatus"] == "-"
    assert record_of(1)["errorMessage"] == "Forbidden" and record_of(1)["apiKeyId"] == "-"
    assert record_of(2)["apiKeyId"] == "alice"
    assert record_of(5)["errorMessage"] == "Too Many Requests"
    proxied = record_of(6)
    assert proxied["resourcePath"] == "/pets/{petId}"
    assert proxied["integrationStatus"] == "200"
    assert int(proxied["integrationLatency"]) >= 0
    assert proxied["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert record_of(8)["status"] == "504"
    assert record_of(8)["errorMessage"] == "Endpoint request timed out"
    assert int(record_of(8)["integrationLatency"]) >= 300  # until the timeout

    # The integration got the client's trace, and the same trace in X-Ray's form.
    echoed = {name.lower(): value for name, value in responses[6].json()["headers"]}
    assert echoed["traceparent"] == parent
    assert echoed["x-amzn-trace-id"] == "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"
    # Without one, a new trace: the same id in both headers and in the log.
    echoed = {name.lower(): value for name, value in responses[7].json()["headers"]}
    trace = record_of(7)["traceId"]
    assert echoed["traceparent"].startswith(f"00-{trace}-")
    assert echoed["x-amzn-trace-id"].startswith(f"Root=1-{trace[:8]}-{trace[8:]};Parent=")
    assert abs(int(trace[:8], 16) - time.time()) < 60

    samples = server.metrics()
    assert sum(value for name, value in samples.items() if name.startswith("sluice_access_log_lines_total")) == 9
    assert sum(value for name, value in samples.items()
               if name.startswith("sluice_access_log_dropped_lines_total")) == 0


def test_an_x_ray_trace_id_alone_is_propagated_as_it_came(tmp_path, upstreams):  # noqa: F811
    log = tmp_path / "prod.log"
    server = start(tmp_path, upstreams("echo"), upstreams("slow"), f"{{path: {log}, format: clf}}")
    amazon = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Lineage=a87bd80c:1"
    response = get(server, "/prod/pets/1", f"X-Amzn-Trace-Id: {amazon}\r\n")
    echoed = {name.lower(): value for name, value in response.json()["headers"]}
    assert echoed["x-amzn-trace-id"] == amazon
    assert echoed["traceparent"].startswith("00-5759e988bd862e3fe1be46a994272793-")
    assert echoed["traceparent"].endswith("-01")
    [line] = lines_of(log, 1)
    # CLF: host ident user [time] "request" status bytes, then the request id.
    assert line.startswith('127.0.0.1 - - [')
    assert f'] "GET /prod/pets/1 HTTP/1.1" 200 {len(response.body)} {response.header("x-amzn-RequestId")}' in line


def test_stages_sharing_a_file_write_each_in_its_own_format(tmp_path, upstreams):  # noqa: F811
    log = tmp_path / "shared.log"
    server = start(tmp_path, upstreams("echo"), upstreams("slow"), f"{{path: {log}, format: json}}",
                   beta_log=f"access_log: {{path: {log}, format: clf}}")
    assert get(server, "/prod/ok").status == 200
    assert get(server, "/beta/ok").status == 200
    lines = lines_of(log, 2)
    json_lines = [line for line in lines if line.startswith("{")]
    clf_lines = [line for line in lines if not line.startswith("{")]
    assert len(json_lines) == 1 and json.loads(json_lines[0])["path"] == "/prod/ok"
    assert len(clf_lines) == 1 and '"GET /beta/ok HTTP/1.1" 200' in clf_lines[0]


def test_values_from_the_request_cannot_break_a_line(tmp_path, upstreams):  # noqa: F811
    log = tmp_path / "prod.log"
    server = start(tmp_path, upstreams("echo"), upstreams("slow"), f"{{path: {log}, format: '{TEXT_FORMAT}'}}")
    agent = 'evil" 200 \\ \u00e9forged'
    response = get(server, "/prod/limited", f"User-Agent: {agent}\r\n")
    assert response.status == 200
    [line] = lines_of(log, 1)
    request_id = response.header("x-amzn-RequestId")
    assert line.startswith(f'{request_id} "evil\\x22 200 \\x5C \\xC3\\xA9forged" /prod/limited 200 - Root=1-')
    answers = [get(server, "/prod/limited") for _ in range(2)]
    assert [answer.status for answer in answers] == [200, 429]
    # Two workers write the lines: the file's order need not be the requests' order, so find the line by its id.
    throttled_id = answers[-1].header("x-amzn-RequestId")
    [throttled] = [line for line in lines_of(log, 3) if line.startswith(throttled_id + " ")]
    assert throttled.split(" ")[-2] == "THROTTLED"


def test_every_request_under_wrk_load_writes_its_line(tmp_path, upstreams):  # noqa: F811
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    log = tmp_path / "prod.log"
    server = start(tmp_path, upstreams("echo"), upstreams("slow"), f"{{path: {log}, format: json}}")
    url = f"http://{server.host}:{server.port}/prod/ok"
    run = subprocess.run(["wrk", "-t2", "-c32", "-d3s", url], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    completed = int(run.stdout.split(" requests in ")[0].split()[-1])
    assert completed > 1000
    # Every request answered is counted by the metrics and has its line, however many wrk saw.
    samples = server.metrics()
    answered = sum(value for name, value in samples.items()
                   if name.startswith('sluice_requests_total{api="logged",stage="prod",'))
    assert answered >= completed
    lines = lines_of(log, int(answered), timeout=10)
    dropped = sum(value for name, value in server.metrics().items()
                  if name.startswith("sluice_access_log_dropped_lines_total"))
    assert (len(lines), dropped) == (answered, 0)
    for line in lines[:: max(1, len(lines) // 200)]:
        record = json.loads(line)
        assert record["status"] == "200" and record["path"] == "/prod/ok"
    assert len({json.loads(line)["requestId"] for line in lines}) == len(lines)


def test_sigusr1_reopens_the_files_after_a_rotation(tmp_path, upstreams):  # noqa: F811
    log = tmp_path / "prod.log"
    server = start(tmp_path, upstreams("echo"), upstreams("slow"), f"{{path: {log}, format: json}}")
    for _ in range(4):
        assert get(server, "/prod/ok").status == 200
    assert len(lines_of(log, 4)) == 4
    rotated = tmp_path / "prod.log.1"
    os.rename(log, rotated)
    server.signal(signal.SIGUSR1)
    time.sleep(0.3)
    assert server.process.poll() is None
    assert len(server.workers()) == 2 and server.coordinator()
    for _ in range(6):
        assert get(server, "/prod/ok").status == 200
    assert len(lines_of(log, 6)) == 6
    assert len(lines_of(rotated, 4)) == 4


def test_a_full_disk_drops_lines_and_counts_them_and_traffic_goes_on(tmp_path, upstreams):  # noqa: F811
    # /dev/full: every write fails with ENOSPC, as on a full disk.
    server = start(tmp_path, upstreams("echo"), upstreams("slow"), "{path: /dev/full, format: clf}")
    for _ in range(10):
        assert get(server, "/prod/ok").status == 200
    deadline = time.time() + 5
    while time.time() < deadline:
        samples = server.metrics()
        dropped = sum(value for name, value in samples.items()
                      if name.startswith("sluice_access_log_dropped_lines_total"))
        if dropped == 10:
            break
        time.sleep(0.05)
    assert dropped == 10
    assert any("access log /dev/full" in line and "No space left on device" in line for line in server.stderr_lines)


def test_an_access_log_that_cannot_be_opened_stops_the_start_with_a_clear_error(tmp_path, upstreams):  # noqa: F811
    with pytest.raises(AssertionError) as failure:
        start(tmp_path, upstreams("echo"), upstreams("slow"), f"{{path: {tmp_path}/missing/folder/prod.log}}")
    assert "access log of stage 'prod' of API 'logged': open " in str(failure.value)
    assert "No such file or directory" in str(failure.value)
