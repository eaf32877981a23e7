"""API keys, throttles and quotas end to end: the real binary with 2 workers, real clients."""

import hashlib
import os
import signal
import threading
import time

from conftest import Sluice, parse_response, read_responses

KEYED_API = """\
openapi: "3.0.1"
info: {title: keyed, version: "1"}
components:
  securitySchemes:
    api_key: {type: apiKey, name: x-api-key, in: header}
    sigv4: {type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}
paths:
  /free:
    get:
      x-amazon-apigateway-integration: &ok
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 200}'}
        responses: {default: {statusCode: "200", responseTemplates: {"application/json": '{"ok":true}'}}}
  /keyed:
    get:
      security: [{api_key: []}]
      x-amazon-apigateway-integration: *ok
  /extension:
    get:
      x-amazon-apigateway-api-key-required: true
      x-amazon-apigateway-integration: *ok
  /iam:
    get:
      security: [{sigv4: []}]
      x-amazon-apigateway-integration: *ok
  /limited:
    get:
      security: [{api_key: []}]
      x-amazon-apigateway-integration: *ok
  /stagemethod:
    get:
      x-amazon-apigateway-integration: *ok
"""

KEYS = {"alice": "k-alice-0001", "carol": "k-carol-0002", "dave": "k-dave-0003", "eve": "k-eve-0004",
        "mallory": "k-mallory-0005"}


def digest(name):
    return hashlib.sha256(KEYS[name].encode()).hexdigest()


def keyed_yaml(state_dir, fast_rate=200, fast_burst=50, quota=100, account="{rate_limit: 100000, burst_limit: 50000}"):
    return f"""\
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
state_dir: "{state_dir}"
workers:
  count: 2
  defaults: {{ring_entries: 256, recv_buffers: 256, recv_buffer_bytes: 4096, max_connections: 1024}}
account_throttling: {account}
apis:
  - name: keyed
    definition: keyed.oas30.yaml
    stages:
      prod:
        method_settings:
          "GET /stagemethod": {{throttling: {{rate_limit: 1, burst_limit: 2}}}}
      qa: {{}}
      slow:
        throttling: {{rate_limit: 1, burst_limit: 3}}
usage_plans:
  fast:
    stages:
      - {{stage: "keyed/prod", throttle: {{"GET /limited": {{rate_limit: 1, burst_limit: 2}}}}}}
    throttle: {{rate_limit: {fast_rate}, burst_limit: {fast_burst}}}
  metered:
    stages: ["keyed/qa"]
    throttle: {{rate_limit: 100000, burst_limit: 100000}}
    quota: {{limit: {quota}, period: DAY}}
api_keys:
  - {{name: alice, value_sha256: "{digest('alice')}", usage_plans: [fast]}}
  - {{name: carol, value_sha256: "{digest('carol')}", usage_plans: [metered]}}
  - {{name: dave, value_sha256: "{digest('dave')}", usage_plans: [fast], enabled: false}}
  - {{name: eve, value_sha256: "{digest('eve')}", usage_plans: [metered]}}
  - {{name: mallory, value_sha256: "{digest('mallory')}"}}
"""


def start_keyed(directory, **options):
    directory.mkdir(parents=True, exist_ok=True)
    state = directory / "state"
    server = Sluice(directory, config_text=keyed_yaml(state, **options))
    (directory / "keyed.oas30.yaml").write_text(KEYED_API)
    server.state = state
    return server.start()


def request(path, key=None, stage="prod"):
    header = f"x-api-key: {key}\r\n" if key is not None else ""
    return f"GET /{stage}{path} HTTP/1.1\r\nHost: t\r\n{header}\r\n".encode()


def get(server, path, key=None, stage="prod"):
    with server.connect() as connection:
        connection.sendall(request(path, key, stage))
        return read_responses(connection, 1)[0]


def send_many(server, count, path, key=None, stage="prod", connections=8):
    """Sends `count` requests over `connections` keep-alive connections (spread over both
    workers by SO_REUSEPORT); returns the statuses and bodies."""
    results = []
    lock = threading.Lock()

    def client(share):
        with server.connect(timeout=10) as connection:
            raw = request(path, key, stage)
            connection.sendall(raw * share)
            got = read_responses(connection, share)
            with lock:
                results.extend((r.status, r.body, r.header("x-amzn-ErrorType")) for r in got)

    shares = [count // connections + (1 if index < count % connections else 0) for index in range(connections)]
    threads = [threading.Thread(target=client, args=(share,)) for share in shares if share]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == count
    return results


def usage(server, plan, key=None):
    path = f"/admin/usage?plan={plan}" + (f"&key={key}" if key else "")
    response = server.admin_get(path)
    assert response.status == 200, response.body
    return response.json()


def test_keys_are_required_where_the_definition_says(tmp_path):
    server = start_keyed(tmp_path / "s")
    assert get(server, "/free").status == 200
    for path in ("/keyed", "/extension"):
        refused = get(server, path)
        assert refused.status == 403
        assert refused.json() == {"message": "Forbidden"}
        assert refused.header("x-amzn-ErrorType") == "ForbiddenException"
        assert refused.header("x-amzn-RequestId")
        assert get(server, path, KEYS["alice"]).status == 200
    # A scheme with x-amazon-apigateway-authtype is IAM, not a key: an unsigned request is refused
    # before any key is looked at, even with a valid key.
    iam = get(server, "/iam", KEYS["alice"])
    assert iam.status == 403
    assert iam.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    # Unknown, disabled, in no plan, in a plan for another stage, empty, too long: all 403.
    for key in ("k-unknown", KEYS["dave"], KEYS["mallory"], KEYS["carol"], "", "k" * 129,
                KEYS["alice"] + " trailing", KEYS["alice"].upper()):
        assert get(server, "/keyed", key).status == 403, key
    # The header name is case-insensitive; the key is matched by its SHA-256 only.
    with server.connect() as connection:
        connection.sendall(f"GET /prod/keyed HTTP/1.1\r\nHost: t\r\nX-API-KEY: {KEYS['alice']}\r\n\r\n".encode())
        assert read_responses(connection, 1)[0].status == 200
    # The key is never logged.
    assert not any(KEYS["alice"] in line for line in server.stderr_lines)


def test_rate_200_burst_50_at_five_times_the_rate_over_two_workers(tmp_path):
    server = start_keyed(tmp_path / "s", fast_rate=200, fast_burst=50)
    duration, rate, connections = 5.0, 1000, 10
    per_connection = int(duration * rate / connections)
    counts = {"ok": 0, "throttled": 0, "other": 0}
    times = []
    lock = threading.Lock()
    start = time.monotonic() + 0.3

    def client(offset):
        ok = throttled = other = 0
        raw = request("/keyed", KEYS["alice"])
        with server.connect(timeout=10) as connection:
            for index in range(per_connection):
                due = start + (index + offset / connections) / (rate / connections)
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                connection.sendall(raw)
                response = read_responses(connection, 1)[0]
                if response.status == 200:
                    ok += 1
                elif response.status == 429 and response.json() == {"message": "Too Many Requests"} \
                        and response.header("x-amzn-ErrorType") == "TooManyRequestsException":
                    throttled += 1
                else:
                    other += 1
        with lock:
            counts["ok"] += ok
            counts["throttled"] += throttled
            counts["other"] += other
            times.append(time.monotonic())

    threads = [threading.Thread(target=client, args=(offset,)) for offset in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = max(times) - start
    expected = 200 * 5 + 50
    print(f"admitted {counts['ok']} of {per_connection * connections} in {elapsed:.3f} s; "
          f"throttled {counts['throttled']}; expected {expected}")
    assert counts["other"] == 0
    assert counts["ok"] + counts["throttled"] == per_connection * connections
    # The client kept its schedule: the 5,000 requests took 5 s (give or take one interval).
    assert 4.95 <= elapsed <= 5.1, elapsed
    assert abs(counts["ok"] - expected) <= 0.02 * expected, counts
    # Both workers took part.
    metrics = server.admin_get("/metrics").body.decode()
    per_worker = [line for line in metrics.splitlines() if line.startswith("sluice_worker_requests_total{")]
    assert len(per_worker) == 2 and all(int(line.split()[-1]) > 0 for line in per_worker), per_worker
    assert f'sluice_rejected_requests_total{{api="keyed",stage="prod",plan="fast",reason="throttle"}} ' \
           f'{counts["throttled"]}' in metrics


def test_throttles_apply_in_order_per_key_method_stage_method_and_stage(tmp_path):
    server = start_keyed(tmp_path / "s")
    # The plan's per-method throttle on GET /limited: burst 2, then 429.
    statuses = [status for status, _, _ in send_many(server, 5, "/limited", KEYS["alice"], connections=1)]
    assert statuses == [200, 200, 429, 429, 429]
    # Other methods of the same key are not held back by it.
    assert get(server, "/keyed", KEYS["alice"]).status == 200
    # The stage's method_settings throttle (no key involved).
    statuses = [status for status, _, _ in send_many(server, 4, "/stagemethod", connections=1)]
    assert statuses == [200, 200, 429, 429]
    # The stage's own throttle: burst 3 on stage slow.
    statuses = [status for status, _, _ in send_many(server, 5, "/free", stage="slow", connections=1)]
    assert statuses == [200, 200, 200, 429, 429]
    metrics = server.admin_get("/metrics").body.decode()
    assert 'sluice_rejected_requests_total{api="keyed",stage="slow",plan="",reason="throttle"} 2' in metrics
    assert 'sluice_rejected_requests_total{api="keyed",stage="prod",plan="",reason="throttle"} 2' in metrics
    assert 'sluice_rejected_requests_total{api="keyed",stage="prod",plan="fast",reason="throttle"} 3' in metrics


def test_account_throttle_applies_to_every_api(tmp_path):
    server = start_keyed(tmp_path / "s", account="{rate_limit: 1, burst_limit: 4}")
    statuses = [status for status, _, _ in send_many(server, 6, "/free", connections=2)]
    assert sorted(statuses) == [200] * 4 + [429] * 2


def test_quota_is_exact_across_workers_then_limit_exceeded(tmp_path):
    server = start_keyed(tmp_path / "s", quota=100)
    results = send_many(server, 160, "/keyed", KEYS["carol"], stage="qa", connections=16)
    ok = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] == 429]
    assert len(ok) == 100 and len(refused) == 60
    assert all(body == b'{"message":"Limit Exceeded"}' and kind == "LimitExceededException"
               for _, body, kind in refused)
    report = usage(server, "metered")
    assert report["items"]["carol"] == [[100, 0]]
    assert report["items"]["eve"] == [[0, 100]]
    assert report["period"] == "DAY" and report["limit"] == 100
    assert report["startDate"] == report["endDate"] == time.strftime("%Y-%m-%d", time.gmtime())
    assert usage(server, "metered", "eve") == {**report, "items": {"eve": [[0, 100]]}}
    # Another key of the plan has its own quota.
    assert get(server, "/keyed", KEYS["eve"], stage="qa").status == 200
    # Reset one key: it is admitted again; the other keeps its count.
    reset = server.admin_request("POST", "/admin/usage/reset?plan=metered&key=carol")
    assert reset.status == 200 and reset.json()["items"] == {"carol": [[0, 100]]}
    assert get(server, "/keyed", KEYS["carol"], stage="qa").status == 200
    assert usage(server, "metered", "eve")["items"] == {"eve": [[1, 99]]}
    metrics = server.admin_get("/metrics").body.decode()
    assert 'sluice_rejected_requests_total{api="keyed",stage="qa",plan="metered",reason="quota"} 60' in metrics


def test_admin_usage_errors(tmp_path):
    server = start_keyed(tmp_path / "s")
    assert server.admin_get("/admin/usage").status == 400
    assert server.admin_get("/admin/usage?plan=nope").status == 404
    assert server.admin_get("/admin/usage?plan=fast").status == 400   # no quota
    assert server.admin_get("/admin/usage?plan=metered&key=alice").status == 404
    assert server.admin_request("POST", "/admin/usage?plan=metered").status == 405
    assert server.admin_get("/admin/usage/reset?plan=metered&key=carol").status == 405
    assert server.admin_request("POST", "/admin/usage/reset?plan=metered").status == 400


def wait_exit(server):
    server.signal(signal.SIGTERM)
    assert server.wait(20) == 0


def test_quota_counts_survive_a_graceful_restart_exactly(tmp_path):
    server = start_keyed(tmp_path / "s", quota=1000)
    results = send_many(server, 237, "/keyed", KEYS["carol"], stage="qa", connections=8)
    assert all(status == 200 for status, _, _ in results)
    # Stopped at once: the last counts reach the journal after the workers stop, not on a tick.
    wait_exit(server)
    again = start_keyed(tmp_path / "s", quota=1000)
    assert usage(again, "metered", "carol")["items"] == {"carol": [[237, 763]]}
    assert any("restored the quota counts of 1 key(s)" in line for line in again.stderr_lines)


def test_quota_counts_survive_kill_9_of_every_process_with_at_most_one_second_lost(tmp_path):
    server = start_keyed(tmp_path / "s", quota=100000)
    send_many(server, 300, "/keyed", KEYS["carol"], stage="qa")
    time.sleep(1.2)
    # Requests in the last second before the kill may be lost; those before it may not.
    send_many(server, 40, "/keyed", KEYS["carol"], stage="qa")
    pids = [server.process.pid] + list(server.children())
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    server.process.wait(5)
    again = start_keyed(tmp_path / "s", quota=100000)
    used = usage(again, "metered", "carol")["items"]["carol"][0][0]
    assert 300 <= used <= 340, used


def test_a_corrupt_or_truncated_journal_is_reported_and_set_aside(tmp_path):
    server = start_keyed(tmp_path / "s", quota=1000)
    send_many(server, 12, "/keyed", KEYS["carol"], stage="qa")
    wait_exit(server)
    journal = server.state / "quotas.journal"
    good = journal.read_bytes()
    assert good.startswith(b"sluice-quota-journal 1\n") and b"metered\tcarol\tDAY\t0\t" in good
    for broken in (good[:-5], good.replace(b"\t12\n", b"\t99\n"), b"\x00\xff garbage", b""):
        journal.write_bytes(broken)
        again = start_keyed(tmp_path / "s", quota=1000)
        assert any("quota journal is corrupt" in line for line in again.stderr_lines), again.stderr_lines
        kept = sorted(server.state.glob("quotas.journal.corrupt-*"), key=lambda path: path.stat().st_mtime_ns)
        assert kept and kept[-1].read_bytes() == broken
        assert usage(again, "metered", "carol")["items"]["carol"] == [[0, 1000]]
        assert get(again, "/keyed", KEYS["carol"], stage="qa").status == 200
        wait_exit(again)


def test_a_coordinator_started_again_writes_what_its_predecessor_had_not(tmp_path):
    server = start_keyed(tmp_path / "s", quota=100000)
    # Counts arrive while the coordinator cannot write them; then it dies.
    first = server.coordinator()[0]
    os.kill(first, signal.SIGSTOP)
    send_many(server, 120, "/keyed", KEYS["carol"], stage="qa")
    os.kill(first, signal.SIGKILL)
    deadline = time.time() + 5
    while time.time() < deadline and server.coordinator() in ([], [first]):
        time.sleep(0.05)
    assert server.coordinator() and server.coordinator() != [first]
    # No further request: the new coordinator writes on its own first tick.
    time.sleep(1.2)
    for pid in [server.process.pid] + list(server.children()):
        os.kill(pid, signal.SIGKILL)
    server.process.wait(5)
    again = start_keyed(tmp_path / "s", quota=100000)
    assert usage(again, "metered", "carol")["items"]["carol"] == [[120, 99880]]
