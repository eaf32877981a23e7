"""GET /metrics after a mixed run: exact counts per API and stage (and per method where the stage
enables detailed metrics), accepted by promtool."""

import hashlib
import shutil
import subprocess

import pytest

from conftest import Sluice, metric_samples, read_responses
from test_proxy import Upstream, upstreams  # noqa: F401 (fixture)

API = """\
openapi: "3.0.1"
info: {title: mixed, version: "1"}
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
  /cached:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:UPSTREAM/cached"
  /slow:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:SLOW/slow"
        timeoutInMillis: 300
"""


def start(tmp_path, upstream, slow):
    directory = tmp_path / "gateway"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "api.yaml").write_text(API.replace("UPSTREAM", str(upstream.port)).replace("SLOW", str(slow.port)))
    digest = hashlib.sha256(b"k-metrics").hexdigest()
    config = f"""\
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
workers:
  count: 2
  defaults: {{ring_entries: 256, recv_buffers: 256, recv_buffer_bytes: 4096, max_connections: 512}}
apis:
  - name: mixed
    definition: api.yaml
    stages:
      prod:
        cache: {{capacity_mb: 4}}
        detailed_metrics: true
        method_settings:
          "GET /limited": {{throttling: {{rate_limit: 0.001, burst_limit: 3}}}}
          "GET /slow": {{caching: {{enabled: false}}}}
          "GET /ok": {{detailed_metrics: false}}
      beta: {{}}
usage_plans:
  basic: {{stages: ["mixed/prod"]}}
api_keys:
  - {{name: metrics, value_sha256: "{digest}", usage_plans: [basic]}}
"""
    return Sluice(directory, config_text=config).start()


def send(server, target, count, headers=""):
    """`count` requests, each on its own connection (spread over both workers)."""
    statuses = []
    for _ in range(count):
        with server.connect(timeout=10) as connection:
            connection.sendall(f"GET {target} HTTP/1.1\r\nHost: m\r\n{headers}\r\n".encode())
            statuses.append(read_responses(connection, 1, timeout=10)[0].status)
    return statuses


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus) is not installed")
def test_a_mixed_run_is_counted_exactly_per_api_and_stage_and_passes_promtool(tmp_path, upstreams):  # noqa: F811
    server = start(tmp_path, upstreams("counting"), upstreams("slow"))
    assert send(server, "/prod/ok", 7) == [200] * 7
    assert send(server, "/beta/ok", 4) == [200] * 4
    assert send(server, "/prod/keyed", 3) == [403] * 3
    assert send(server, "/prod/keyed", 2, "x-api-key: k-metrics\r\n") == [200] * 2
    assert send(server, "/prod/limited", 5) == [200, 200, 200, 429, 429]
    assert send(server, "/prod/cached", 6) == [200] * 6
    assert send(server, "/prod/slow", 1) == [504]
    assert send(server, "/nowhere", 2) == [403, 403]
    # Under a stage's URLs but no resource: the stage's 4xx, as CloudWatch counts it.
    assert send(server, "/prod/no-such-resource", 2) == [403, 403]
    text = server.admin_get("/metrics").body.decode()
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    samples = metric_samples(text)
    prod = 'api="mixed",stage="prod"'
    beta = 'api="mixed",stage="beta"'
    assert samples[f'sluice_requests_total{{{prod},code="2xx"}}'] == 7 + 2 + 3 + 6
    assert samples[f'sluice_requests_total{{{prod},code="4xx"}}'] == 3 + 2 + 2
    assert samples[f'sluice_requests_total{{{prod},code="5xx"}}'] == 1
    assert samples[f'sluice_requests_total{{{beta},code="2xx"}}'] == 4
    assert samples[f'sluice_requests_total{{{beta},code="4xx"}}'] == 0
    assert samples['sluice_requests_total{api="",stage="",code="4xx"}'] == 2
    assert samples[f'sluice_rejected_requests_total{{{prod},plan="",reason="key"}}'] == 3
    assert samples[f'sluice_rejected_requests_total{{{prod},plan="",reason="throttle"}}'] == 2
    assert samples[f'sluice_cache_requests_total{{{prod},result="hit"}}'] == 5
    assert samples[f'sluice_cache_requests_total{{{prod},result="miss"}}'] == 1
    assert samples[f"sluice_request_duration_seconds_count{{{prod}}}"] == 7 + 3 + 2 + 5 + 6 + 1 + 2
    assert samples[f"sluice_integration_duration_seconds_count{{{prod}}}"] == 1 + 1
    assert samples[f"sluice_request_duration_seconds_count{{{beta}}}"] == 4
    # Detailed metrics: prod's methods but GET /ok, their own families; none for beta.
    def method(resource):
        return f'{prod},resource="{resource}",method="GET"'
    assert samples[f'sluice_method_requests_total{{{method("/keyed")},code="2xx"}}'] == 2
    assert samples[f'sluice_method_requests_total{{{method("/keyed")},code="4xx"}}'] == 3
    assert samples[f'sluice_method_requests_total{{{method("/limited")},code="2xx"}}'] == 3
    assert samples[f'sluice_method_requests_total{{{method("/limited")},code="4xx"}}'] == 2
    assert samples[f'sluice_method_requests_total{{{method("/cached")},code="2xx"}}'] == 6
    assert samples[f'sluice_method_requests_total{{{method("/slow")},code="5xx"}}'] == 1
    assert samples[f'sluice_method_cache_requests_total{{{method("/cached")},result="hit"}}'] == 5
    assert samples[f'sluice_method_cache_requests_total{{{method("/cached")},result="miss"}}'] == 1
    assert samples[f'sluice_method_request_duration_seconds_count{{{method("/cached")}}}'] == 6
    assert samples[f'sluice_method_integration_duration_seconds_count{{{method("/cached")}}}'] == 1
    assert samples[f'sluice_method_integration_duration_seconds_count{{{method("/slow")}}}'] == 1
    method_series = [name for name in samples if name.startswith("sluice_method_")]
    assert not [name for name in method_series if 'resource="/ok"' in name or 'stage="beta"' in name]
    # Only the methods the cache serves (HTTP and Lambda integrations, not disabled) have cache series.
    cache_series = {name for name in method_series if name.startswith("sluice_method_cache_requests_total")}
    assert cache_series == {f'sluice_method_cache_requests_total{{{method("/cached")},result="{result}"}}'
                            for result in ("hit", "miss")}
    assert sum(value for name, value in samples.items() if name.startswith("sluice_method_requests_total")) == \
        2 + 3 + 3 + 2 + 6 + 1
    # Both workers served.
    per_worker = [value for name, value in samples.items() if name.startswith("sluice_worker_requests_total{")]
    assert len(per_worker) == 2 and all(value > 0 for value in per_worker)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus) is not installed")
def test_detailed_metrics_of_two_thousand_methods_are_served_whole(tmp_path):
    # About 2.7 KB of series per method once it has answered: a page well beyond the admin
    # listener's smallest buffer (4 MB), which the supervisor sizes from the configuration.
    paths = 1000
    mock = ("x-amazon-apigateway-integration: {type: mock, requestTemplates: {application/json: '{\"statusCode\": 200}'}, "
            "responses: {default: {statusCode: \"200\"}}}")
    definition = 'openapi: "3.0.1"\ninfo: {title: big, version: "1"}\npaths:\n' + "".join(
        f"  /resource/{index:04d}:\n    get: {{{mock}}}\n    post: {{{mock}}}\n" for index in range(paths))
    directory = tmp_path / "gateway"
    directory.mkdir()
    (directory / "api.yaml").write_text(definition)
    config = """\
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
workers: {count: 2}
account_throttling: {rate_limit: 100000, burst_limit: 100000}
apis:
  - name: big
    definition: api.yaml
    stages:
      prod: {detailed_metrics: true}
"""
    server = Sluice(directory, config_text=config).start()
    requests = [f"{method} /prod/resource/{index:04d} HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n"
                for index in range(paths) for method in ("GET", "POST")]
    for start in range(0, len(requests), 100):
        with server.connect(timeout=10) as connection:
            connection.sendall("".join(requests[start:start + 100]).encode())
            assert [r.status for r in read_responses(connection, 100, timeout=30)] == [200] * 100
    response = server.admin_request("GET", "/metrics", timeout=30)
    assert response.status == 200
    assert len(response.body) > 5 << 20
    assert int(response.header("Content-Length")) == len(response.body)
    text = response.body.decode()
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0, (check.stdout + check.stderr)[:2000]
    samples = metric_samples(text)
    answered = {name: value for name, value in samples.items()
                if name.startswith("sluice_method_requests_total{") and 'code="2xx"' in name}
    assert len(answered) == 2 * paths and all(value == 1 for value in answered.values())
    assert samples['sluice_method_request_duration_seconds_count{api="big",stage="prod",resource="/resource/0999",'
                   'method="POST"}'] == 1
