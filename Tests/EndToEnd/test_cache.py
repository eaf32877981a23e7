"""The stage response cache end to end: 2 workers sharing one cache, a counting upstream."""

import json
import socket
import threading
import time

from conftest import Sluice, read_responses
from test_proxy import Upstream, upstreams  # noqa: F401 (fixture)

CACHED_API = """\
openapi: "3.0.1"
info: {title: cached, version: "1"}
paths:
  /items/{id}:
    get:
      parameters: [{name: id, in: path, required: true}]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:PORT/items/{id}"
        requestParameters: {"integration.request.path.id": "method.request.path.id"}
        cacheKeyParameters: [method.request.path.id, method.request.querystring.color]
    post:
      parameters: [{name: id, in: path, required: true}]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: POST
        uri: "http://127.0.0.1:PORT/items/{id}"
        requestParameters: {"integration.request.path.id": "method.request.path.id"}
  /plain:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:PORT/plain"
"""


def start(tmp_path, upstream_port, ttl=300, extra_cache="", workers=2, extra=""):
    directory = tmp_path / "gateway"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "api.yaml").write_text(CACHED_API.replace("PORT", str(upstream_port)))
    config = (f'listen: "127.0.0.1:0"\nadmin: "127.0.0.1:0"\n'
              f"workers:\n  count: {workers}\n"
              f"  defaults: {{ring_entries: 256, recv_buffers: 256, recv_buffer_bytes: 16384, max_connections: 512}}\n"
              f"apis:\n  - name: shop\n    definition: api.yaml\n    stages:\n"
              f"      prod:\n        cache: {{capacity_mb: 8, ttl_seconds: {ttl}{extra_cache}}}\n"
              f"      dev: {{}}\n{extra}")
    return Sluice(directory, config_text=config).start()


def get(server, target, headers=(), method="GET"):
    lines = [f"{method} {target} HTTP/1.1", "Host: shop"] + [f"{k}: {v}" for k, v in headers]
    with server.connect(timeout=10) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return read_responses(connection, 1, timeout=10)[0]


def upstream_count(upstream):
    with socket.create_connection(("127.0.0.1", upstream.port), timeout=5) as connection:
        connection.sendall(b"GET /__count HTTP/1.1\r\nHost: u\r\n\r\n")
        data = b""
        while b"}" not in data:
            data += connection.recv(4096)
    return json.loads(data.split(b"\r\n\r\n", 1)[1])["count"]


def metrics(server):
    return server.admin_get("/metrics").body.decode()


def test_one_miss_then_hits_on_both_workers_until_the_ttl(tmp_path, upstreams):  # noqa: F811
    upstream = upstreams("counting")
    server = start(tmp_path, upstream.port, ttl=2)
    first = get(server, "/prod/items/1")
    assert first.status == 200 and first.json()["count"] == 1
    # Many connections: SO_REUSEPORT spreads them over both workers.
    bodies = set()
    for _ in range(40):
        response = get(server, "/prod/items/1")
        assert response.status == 200
        assert response.header("X-Upstream") == "counting"
        assert response.header("Content-Type") == "application/json"
        assert response.header("x-amzn-RequestId") != first.header("x-amzn-RequestId")
        bodies.add(response.body)
    assert bodies == {first.body}
    assert upstream_count(upstream) == 1
    text = metrics(server)
    per_worker = [line for line in text.splitlines() if line.startswith("sluice_worker_requests_total{")]
    assert all(int(line.split()[-1]) > 0 for line in per_worker), per_worker
    assert 'sluice_cache_requests_total{api="shop",stage="prod",result="hit"} 40' in text
    assert 'sluice_cache_requests_total{api="shop",stage="prod",result="miss"} 1' in text
    # Declared parameters vary the key; others do not.
    assert get(server, "/prod/items/2").json()["count"] == 2
    assert get(server, "/prod/items/1?color=red").json()["count"] == 3
    assert get(server, "/prod/items/1?size=9").json()["count"] == 1
    # Not cached: POST, and a stage without a cache.
    assert get(server, "/prod/items/1", method="POST").json()["count"] == 4
    assert get(server, "/dev/items/1").json()["count"] == 5
    assert get(server, "/dev/items/1").json()["count"] == 6
    # After the TTL, one more request reaches the upstream, then hits again.
    time.sleep(2.1)
    assert get(server, "/prod/items/1").json()["count"] == 7
    assert get(server, "/prod/items/1").json()["count"] == 7
    assert upstream_count(upstream) == 7


def test_a_hundred_concurrent_misses_reach_the_upstream_once(tmp_path, upstreams):  # noqa: F811
    upstream = upstreams("counting")
    server = start(tmp_path, upstream.port)
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(100)

    def client():
        with server.connect(timeout=10) as connection:
            barrier.wait()
            connection.sendall(b"GET /prod/items/7 HTTP/1.1\r\nHost: shop\r\nX-Delay-Ms: 300\r\n\r\n")
            response = read_responses(connection, 1, timeout=10)[0]
            with lock:
                results.append((response.status, response.body))

    threads = [threading.Thread(target=client) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 100
    assert all(status == 200 for status, _ in results)
    assert len({body for _, body in results}) == 1
    assert upstream_count(upstream) == 1


def test_answers_that_are_not_2xx_are_not_kept(tmp_path, upstreams):  # noqa: F811
    upstream = upstreams("counting")
    server = start(tmp_path, upstream.port)
    assert get(server, "/prod/plain", headers=[("X-Status", "404")]).status == 404
    # For 20 ms after a fill is given up, requests pass straight through; then one fills again.
    time.sleep(0.1)
    assert get(server, "/prod/plain").status == 200
    assert get(server, "/prod/plain").json()["count"] == 2
    assert upstream_count(upstream) == 2


def test_a_stage_flush_empties_the_cache_for_every_worker(tmp_path, upstreams):  # noqa: F811
    upstream = upstreams("counting")
    server = start(tmp_path, upstream.port)
    assert get(server, "/prod/items/1").json()["count"] == 1
    assert get(server, "/prod/items/1").json()["count"] == 1
    flushed = server.admin_request("DELETE", "/admin/cache/shop/prod")
    assert flushed.status == 202
    assert get(server, "/prod/items/1").json()["count"] == 2
    for _ in range(20):
        assert get(server, "/prod/items/1").json()["count"] == 2
    assert server.admin_request("DELETE", "/admin/cache/shop/dev").status == 404
    assert server.admin_request("DELETE", "/admin/cache/nope/prod").status == 404
    assert server.admin_get("/admin/cache/shop/prod").status == 405


def test_large_answers_stream_from_the_cache(tmp_path, upstreams):  # noqa: F811
    upstream = upstreams("counting")
    server = start(tmp_path, upstream.port)
    first = get(server, "/prod/items/big", headers=[("X-Size", "300000")])
    assert first.status == 200 and len(first.body) > 300_000
    again = get(server, "/prod/items/big")
    assert again.body == first.body
    assert upstream_count(upstream) == 1


def test_max_age_0_refreshes_for_keys_of_the_stage_and_follows_the_strategy_for_others(tmp_path, upstreams):  # noqa: F811
    import hashlib
    upstream = upstreams("counting")
    for strategy, expect in (("SUCCEED_WITH_RESPONSE_HEADER", "warn"), ("SUCCEED_WITHOUT_RESPONSE_HEADER", "silent"),
                             ("FAIL_WITH_403", "403")):
        digest = hashlib.sha256(b"k-refresh").hexdigest()
        keys = (f'usage_plans:\n  ops: {{stages: ["shop/prod"]}}\n'
                f'api_keys:\n  - {{name: ops, value_sha256: "{digest}", usage_plans: [ops]}}\n')
        server = start(tmp_path / strategy, upstream.port, extra_cache=f", unauthorized: {strategy}", extra=keys)
        base = upstream_count(upstream)
        assert get(server, "/prod/items/5").json()["count"] == base + 1
        refused = get(server, "/prod/items/5", headers=[("Cache-Control", "no-store, max-age=0")])
        if expect == "403":
            assert refused.status == 403 and refused.json() == {"message": "Forbidden"}
        else:
            assert refused.status == 200 and refused.json()["count"] == base + 1
            assert (refused.header("Warning") is not None) == (expect == "warn")
        # A key of a plan covering the stage may refresh; the refreshed answer is kept.
        fresh = get(server, "/prod/items/5", headers=[("Cache-Control", "max-age=0"), ("x-api-key", "k-refresh")])
        assert fresh.json()["count"] == base + 2
        assert get(server, "/prod/items/5").json()["count"] == base + 2
        server.kill()


def test_without_require_authorization_anyone_may_refresh(tmp_path, upstreams):  # noqa: F811
    upstream = upstreams("counting")
    server = start(tmp_path, upstream.port, extra_cache=", require_authorization: false")
    assert get(server, "/prod/items/1").json()["count"] == 1
    assert get(server, "/prod/items/1", headers=[("Cache-Control", "max-age=0")]).json()["count"] == 2
    assert get(server, "/prod/items/1").json()["count"] == 2


def test_concurrent_misses_of_an_answer_that_is_not_kept_do_not_queue(tmp_path, upstreams):  # noqa: F811
    upstream = upstreams("counting")
    server = start(tmp_path, upstream.port)
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(50)

    def client():
        with server.connect(timeout=20) as connection:
            barrier.wait()
            connection.sendall(b"GET /prod/items/404 HTTP/1.1\r\nHost: shop\r\nX-Status: 404\r\nX-Delay-Ms: 300\r\n\r\n")
            response = read_responses(connection, 1, timeout=20)[0]
            with lock:
                results.append(response.status)

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert results == [404] * 50
    # One fill, given up at once: the others go to the upstream together (about two upstream
    # latencies), not one after another (50 × 0.3 s).
    assert elapsed < 3, elapsed
    assert upstream_count(upstream) == 50


def test_partial_answers_and_range_requests_are_never_cached_and_hits_carry_age(tmp_path, upstreams):  # noqa: F811
    upstream = upstreams("counting")
    server = start(tmp_path, upstream.port, workers=1)
    # A 206 from the upstream is passed on, not kept.
    partial = get(server, "/prod/items/5", headers=[("X-Status", "206")])
    assert partial.status == 206 and partial.json()["count"] == 1
    time.sleep(0.1)  # a fill given up lets the key pass uncached for 20 ms
    whole = get(server, "/prod/items/5")
    assert whole.status == 200 and whole.json()["count"] == 2
    assert whole.header("Age") is None
    # A range request neither reads the cached entry nor fills one.
    ranged = get(server, "/prod/items/5", headers=[("Range", "bytes=0-3")])
    assert ranged.json()["count"] == 3
    assert get(server, "/prod/items/6", headers=[("Range", "bytes=0-3")]).json()["count"] == 4
    assert get(server, "/prod/items/6").json()["count"] == 5
    # Hits carry their age in seconds.
    hit = get(server, "/prod/items/5")
    assert hit.json()["count"] == 2
    assert hit.header("Age") in ("0", "1")
    time.sleep(2.1)
    older = get(server, "/prod/items/5")
    assert older.json()["count"] == 2
    assert int(older.header("Age")) >= 2
    assert upstream_count(upstream) == 5


def test_more_waiting_requests_than_parking_slots_go_on_to_the_integration(tmp_path, upstreams):  # noqa: F811
    # One worker keeps at most 256 waiting requests' heads; the others do not wait for the fill.
    upstream = upstreams("counting")
    server = start(tmp_path, upstream.port, workers=1)
    count = 300
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def client():
        try:
            with server.connect(timeout=20) as connection:
                barrier.wait()
                connection.sendall(b"GET /prod/items/9 HTTP/1.1\r\nHost: shop\r\nX-Delay-Ms: 500\r\n\r\n")
                response = read_responses(connection, 1, timeout=20)[0]
                with lock:
                    results.append(response.status)
        except Exception as error:  # noqa: BLE001
            with lock:
                results.append(repr(error))

    threads = [threading.Thread(target=client) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * count
    # One fill, and at most the requests that found no slot went to the upstream themselves.
    reached = upstream_count(upstream)
    print("upstream requests:", reached)
    assert 1 <= reached <= 1 + count - 256


def test_a_pipelined_request_waiting_for_a_fill_resumes_in_order(tmp_path, upstreams):  # noqa: F811
    upstream = upstreams("counting")
    server = start(tmp_path, upstream.port, workers=1)

    def fill():
        with server.connect(timeout=10) as connection:
            connection.sendall(b"GET /prod/items/3?color=red HTTP/1.1\r\nHost: shop\r\nX-Delay-Ms: 500\r\n\r\n")
            return read_responses(connection, 1, timeout=10)[0]

    filler = threading.Thread(target=fill)
    filler.start()
    time.sleep(0.2)
    with server.connect(timeout=10) as connection:
        # The second request waits for the first connection's fill; the third follows it.
        connection.sendall(b"GET /prod/items/4 HTTP/1.1\r\nHost: shop\r\n\r\n"
                           b"GET /prod/items/3?color=red HTTP/1.1\r\nHost: shop\r\nX-Trace: second\r\n\r\n"
                           b"GET /prod/items/5?color=blue HTTP/1.1\r\nHost: shop\r\n\r\n")
        responses = read_responses(connection, 3, timeout=10)
    filler.join()
    assert [r.status for r in responses] == [200, 200, 200]
    assert [r.json()["target"] for r in responses] == ["/items/4", "/items/3?color=red", "/items/5?color=blue"]
    # The waiting request got the fill's answer, not an answer of its own.
    assert responses[1].header("Age") is not None
    assert upstream_count(upstream) == 3
