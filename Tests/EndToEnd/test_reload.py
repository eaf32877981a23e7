"""Reload (SIGHUP, POST /admin/reload): a new generation of workers on the same listening sockets,
the old one drained; an invalid configuration keeps the old one serving; what a reload cannot
change is refused; cache entries and quota counts survive; and under wrk load, 50 reloads between
two versions lose no request and every answer comes from one version or the other."""

import json
import os
import re
import signal
import subprocess
import time

from conftest import PETSTORE, Sluice, metric_samples, parse_response, read_until_close
from test_cache import get as cache_get, start as start_cached, upstream_count
from test_proxy import upstreams  # noqa: F401 (fixture)
from conftest import read_responses
from test_throttle import KEYS, request, start_keyed, send_many, usage


def get(server, path):
    return parse_response(server.exchange(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()))


def version_b(text):
    """The petstore with another MOCK body on /pets and a route more."""
    return (text.replace("""'[{"id":1,"type":"dog"}]'""", """'[{"id":2,"type":"cat"}]'""")
            + """  /cats:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 200}'}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {"application/json": '{"cats":true}'}
""")


def wait_for(predicate, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sighup_serves_the_new_routes_and_bodies_and_the_old_workers_exit(sluice):
    server = sluice(workers=2)
    assert get(server, "/prod/pets").body == b'[{"id":1,"type":"dog"}]'
    assert get(server, "/prod/cats").status == 403   # API Gateway: Missing Authentication Token
    old_workers = set(server.workers().values())
    definition = server.directory / "petstore.oas30.yaml"
    definition.write_text(version_b(definition.read_text()))
    server.signal(signal.SIGHUP)
    assert wait_for(lambda: get(server, "/prod/pets").body == b'[{"id":2,"type":"cat"}]')
    assert get(server, "/prod/cats").body == b'{"cats":true}'
    # Every connection is now served by the new generation, on both workers.
    for _ in range(20):
        assert get(server, "/prod/pets").body == b'[{"id":2,"type":"cat"}]'
    # The old generation has drained and exited; two workers serve.
    assert wait_for(lambda: not (set(server.workers().values()) & old_workers)
                    and len(server.children()) == 3)
    metrics = server.metrics()
    assert metrics["sluice_config_generation"] == 2
    assert metrics['sluice_config_reloads_total{result="applied"}'] == 1
    assert metrics["sluice_config_last_reload_successful"] == 1
    assert metrics["sluice_generations_draining"] == 0
    # The old workers' rows were cleared as they exited: no connection is counted open.
    assert sum(value for name, value in metrics.items() if name.startswith("sluice_worker_connections_open")) == 0
    # Counters went on rising across the reload (the metrics zones were kept).
    assert metrics['sluice_requests_total{api="petstore",stage="prod",code="2xx"}'] >= 22
    assert any("reloaded: generation 2" in line for line in server.stderr_lines)
    assert server.admin_get("/readyz").status == 200


def test_an_invalid_configuration_is_refused_and_the_old_one_goes_on_serving(sluice):
    server = sluice(workers=2)
    definition = server.directory / "petstore.oas30.yaml"
    good = definition.read_text()
    definition.write_text(good.replace("paths:", "paths:\n  /broken: [1, 2\n"))
    answer = server.admin_request("POST", "/admin/reload")
    assert answer.status == 400
    body = answer.json()
    assert body["reloaded"] is False and body["generation"] == 1
    assert any("petstore.oas30.yaml:" in error for error in body["errors"]), body
    assert get(server, "/prod/pets").body == b'[{"id":1,"type":"dog"}]'
    metrics = server.metrics()
    assert metrics["sluice_config_generation"] == 1
    assert metrics['sluice_config_reloads_total{result="refused"}'] == 1
    assert metrics["sluice_config_last_reload_successful"] == 0
    assert any("reload refused; still serving generation 1" in line for line in server.stderr_lines)
    # Mended, it applies.
    definition.write_text(version_b(good))
    answer = server.admin_request("POST", "/admin/reload")
    assert answer.status == 200, answer.body
    assert answer.json()["generation"] == 2 and re.fullmatch(r"[a-z0-9]{6}", answer.json()["deploymentId"])
    assert get(server, "/prod/cats").status == 200
    assert server.metrics()["sluice_config_last_reload_successful"] == 1
    assert server.admin_get("/admin/reload").status == 405


def test_what_only_a_restart_can_change_is_refused_with_the_reason(sluice):
    server = sluice(workers=2)
    text = server.config_path.read_text()
    for changed, reason in [(text.replace("count: 2", "count: 1"), "workers: 1 instead of 2"),
                            (text.replace('admin: "127.0.0.1:0"', 'admin: "127.0.0.1:1"'), "admin address changed"),
                            (text.replace('listen: "127.0.0.1:0"', 'listen: "127.0.0.2:0"'), "listeners changed")]:
        server.config_path.write_text(changed)
        answer = server.admin_request("POST", "/admin/reload")
        assert answer.status == 400 and reason in answer.json()["errors"][0], answer.body
    server.config_path.write_text(text)
    assert get(server, "/prod/pets").status == 200
    assert server.metrics()['sluice_config_reloads_total{result="refused"}'] == 3


def test_cache_entries_survive_a_reload(tmp_path, upstreams):  # noqa: F811
    upstream = upstreams("counting")
    server = start_cached(tmp_path, upstream.port)
    first = cache_get(server, "/prod/items/1")
    assert first.status == 200 and upstream_count(upstream) == 1
    # Another stage: the prod stage's cache (same definition, variables and settings) is kept.
    config = server.config_path.read_text().replace("      dev: {}\n", "      dev: {}\n      qa: {}\n")
    server.config_path.write_text(config)
    assert server.admin_request("POST", "/admin/reload").status == 200
    for _ in range(10):
        again = cache_get(server, "/prod/items/1")
        assert again.status == 200 and again.body == first.body
    assert upstream_count(upstream) == 1
    assert cache_get(server, "/qa/items/1").status == 200   # the new stage serves
    # A resized cache starts empty, as API Gateway's does.
    server.config_path.write_text(config.replace("capacity_mb: 8", "capacity_mb: 16"))
    assert server.admin_request("POST", "/admin/reload").status == 200
    assert cache_get(server, "/prod/items/1").status == 200
    assert upstream_count(upstream) == 3
    assert cache_get(server, "/prod/items/1").status == 200
    assert upstream_count(upstream) == 3
    # A changed definition (its answers may differ) starts it empty too.
    definition = server.directory / "api.yaml"
    definition.write_text(definition.read_text().replace("cacheKeyParameters: [method.request.path.id, "
                                                         "method.request.querystring.color]",
                                                         "cacheKeyParameters: [method.request.path.id]"))
    assert server.admin_request("POST", "/admin/reload").status == 200
    assert cache_get(server, "/prod/items/1").status == 200
    assert upstream_count(upstream) == 4


def test_quota_counts_survive_reloads_whether_the_throttle_plan_changes_or_not(tmp_path):
    server = start_keyed(tmp_path / "s", quota=1000)
    results = send_many(server, 120, "/keyed", KEYS["carol"], stage="qa", connections=4)
    assert all(status == 200 for status, _, _ in results)
    # Unchanged plan: the counters' zone is kept.
    server.config_path.write_text(server.config_path.read_text().replace("slow:", "slower:"))
    assert server.admin_request("POST", "/admin/reload").status == 200
    assert usage(server, "metered", "carol")["items"] == {"carol": [[120, 880]]}
    # Another throttle plan (a plan more, a key more): the counts are carried over by name.
    text = server.config_path.read_text()
    text = text.replace("api_keys:", "  extra:\n    stages: [\"keyed/qa\"]\n    quota: {limit: 5, period: DAY}\n"
                                     "api_keys:")
    server.config_path.write_text(text)
    assert server.admin_request("POST", "/admin/reload").status == 200
    assert usage(server, "metered", "carol")["items"] == {"carol": [[120, 880]]}
    results = send_many(server, 30, "/keyed", KEYS["carol"], stage="qa", connections=2)
    assert all(status == 200 for status, _, _ in results)
    assert usage(server, "metered", "carol")["items"] == {"carol": [[150, 850]]}
    # A request the old generation answers after its counts were carried over (on a keep-alive
    # connection it had) is added to the new counts when it has exited.
    old = server.connect()
    old.sendall(request("/keyed", KEYS["carol"], "qa"))
    assert read_responses(old, 1)[0].status == 200
    server.config_path.write_text(server.config_path.read_text().replace("limit: 5,", "limit: 6,"))
    assert server.admin_request("POST", "/admin/reload").status == 200
    old.sendall(request("/keyed", KEYS["carol"], "qa"))
    last = read_responses(old, 1)[0]
    assert last.status == 200 and last.header("Connection") == "close"
    old.close()
    assert wait_for(lambda: usage(server, "metered", "carol")["items"] == {"carol": [[152, 848]]}), \
        usage(server, "metered", "carol")


WRK_SCRIPT = """
local counts = {a = 0, b = 0, other = 0}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) a = 0; b = 0; other = 0; samples = "" end
function response(status, headers, body)
  if status == 200 and body == '[{"id":1,"type":"dog"}]' then a = a + 1
  elseif status == 200 and body == '[{"id":2,"type":"cat"}]' then b = b + 1
  else
    other = other + 1
    if #samples < 400 then samples = samples .. status .. ":" .. body .. ";" end
  end
end
function done(summary, latency, requests)
  local ta, tb, tother, all = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    ta = ta + thread:get("a"); tb = tb + thread:get("b"); tother = tother + thread:get("other")
    all = all .. thread:get("samples")
  end
  io.write(string.format("VERSIONS a=%d b=%d other=%d\\n", ta, tb, tother))
  io.write("SAMPLES " .. all .. "\\n")
end
"""


def test_fifty_reloads_under_wrk_lose_nothing_and_every_answer_is_one_version_or_the_other(sluice, tmp_path):
    # The account throttle stays far above what wrk can send here.
    server = Sluice(tmp_path / "wrk", workers=2, drain_timeout_ms=5000)
    server.config_path.write_text(server.config_path.read_text()
                                  + "account_throttling: {rate_limit: 10000000, burst_limit: 10000000}\n")
    server.start()
    definition = server.directory / "petstore.oas30.yaml"
    versions = [definition.read_text(), version_b(definition.read_text())]
    script = tmp_path / "versions.lua"
    script.write_text(WRK_SCRIPT)
    wrk = subprocess.Popen(["wrk", "-t", "2", "-c", "32", "-d", "22s", "--latency", "-s", str(script),
                            f"http://127.0.0.1:{server.port}/prod/pets"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1)
    reloads = 0
    started = time.time()
    for index in range(50):
        definition.write_text(versions[(index + 1) % 2])
        server.signal(signal.SIGHUP)
        reloads += 1
        time.sleep(max(0, started + (index + 1) * 0.4 - time.time()))
    output, _ = wrk.communicate(timeout=60)
    elapsed = time.time() - started
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    versions_line = re.search(r"VERSIONS a=(\d+) b=(\d+) other=(\d+)", output)
    a, b, other = (int(value) for value in versions_line.groups())
    socket_errors = re.search(r"Socket errors: (.*)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    metrics = server.metrics()
    applied = metrics['sluice_config_reloads_total{result="applied"}']
    report = (f"wrk: {requests} requests, {reloads} SIGHUPs in {elapsed:.1f} s; versions a={a} b={b} other={other}; "
              f"applied {applied:.0f}, generation {metrics['sluice_config_generation']:.0f}")
    print(report)
    with open(os.environ.get("SLUICE_RELOAD_REPORT", os.devnull), "a") as sink:
        sink.write(report + "\n" + output + "\n")
    assert socket_errors is None, output
    assert non_2xx is None, output
    assert other == 0, output
    assert a > 0 and b > 0 and a + b == requests, output
    assert requests > 10_000, output
    # None refused; every SIGHUP applied, or (when two arrived during one handover, which a
    # loaded machine may see) folded into the next reload.
    time.sleep(1)
    metrics = server.metrics()
    applied = metrics['sluice_config_reloads_total{result="applied"}']
    assert metrics['sluice_config_reloads_total{result="refused"}'] == 0
    assert applied >= 45, server.stderr_lines[-20:]
    assert metrics["sluice_config_generation"] == 1 + applied
    # The old generations have all exited.
    assert wait_for(lambda: len(server.children()) == 3, timeout=15), server.children()


def test_a_stop_during_a_reload_leaves_nothing_behind(sluice):
    server = sluice(workers=2)
    connection = server.connect()
    connection.sendall(b"GET /prod/pets HTTP/1.1\r\nHost: t\r\n\r\n")
    assert read_responses(connection, 1)[0].status == 200
    server.signal(signal.SIGHUP)
    time.sleep(0.05)
    server.signal(signal.SIGTERM)
    assert server.wait(15) == 0
    assert server.children() == {}


def deployments(server):
    answer = server.admin_get("/admin/deployments")
    assert answer.status == 200, answer.body
    return answer.json()


def stage_of(listing, name="prod"):
    return next(stage for stage in listing["stages"] if stage["stage"] == name)


def test_deployments_are_recorded_and_a_stage_rolls_back_without_editing_files(tmp_path):
    server = Sluice(tmp_path / "gateway", workers=2)
    text = server.config_path.read_text() + f'state_dir: "{tmp_path}/state"\n'
    server.config_path.write_text(text)
    server.start()
    first = deployments(server)
    assert [item["description"] for item in first["items"]] == ["start"]
    first_id = first["current"]
    assert re.fullmatch(r"[a-z0-9]{6}", first_id) and re.fullmatch(r"[0-9a-f]{64}", first["items"][0]["sha256"])
    assert stage_of(first)["deploymentId"] == first_id
    definition = server.directory / "petstore.oas30.yaml"
    original = definition.read_text()
    definition.write_text(version_b(original))
    assert server.admin_request("POST", "/admin/reload").status == 200
    second = deployments(server)
    second_id = second["current"]
    assert [item["id"] for item in second["items"]] == [second_id, first_id]
    assert second["items"][0]["description"] == "POST /admin/reload"
    assert get(server, "/prod/pets").body == b'[{"id":2,"type":"cat"}]'
    # Rolled back to the deployment before: the first definition, though the files say B.
    answer = server.admin_request("POST", "/admin/stages/petstore/prod/rollback")
    assert answer.status == 200, answer.body
    assert get(server, "/prod/pets").body == b'[{"id":1,"type":"dog"}]'
    assert get(server, "/prod/cats").status == 403
    assert stage_of(deployments(server))["deploymentId"] == first_id
    # It survives a restart (same files, same state_dir).
    server.signal(signal.SIGTERM)
    assert server.wait(15) == 0
    again = Sluice(tmp_path / "gateway", config_text=text)
    definition.write_text(version_b(original))
    again.start()
    assert any("admin changes to 1 stage(s) apply again" in line for line in again.stderr_lines), again.stderr_lines
    assert get(again, "/prod/pets").body == b'[{"id":1,"type":"dog"}]'
    assert len(deployments(again)["items"]) == 2
    # Forward again by id, then new files replace the rollback.
    assert again.admin_request("POST", f"/admin/stages/petstore/prod/rollback?deploymentId={second_id}").status == 200
    assert get(again, "/prod/pets").body == b'[{"id":2,"type":"cat"}]'
    assert again.admin_request("POST", "/admin/stages/petstore/prod/rollback?deploymentId=zzzzzz").status == 404
    assert again.admin_request("POST", "/admin/stages/petstore/nope/rollback").status == 404
    assert again.admin_request("GET", "/admin/stages/petstore/prod/rollback").status == 405
    assert again.admin_request("POST", "/admin/stages/petstore/prod/rollback").status == 200  # back to the first
    definition.write_text(original.replace("dog", "fox"))
    assert again.admin_request("POST", "/admin/reload").status == 200
    assert get(again, "/prod/pets").body == b'[{"id":1,"type":"fox"}]'
    assert stage_of(deployments(again))["deploymentId"] == deployments(again)["current"]


def test_a_canary_from_a_recorded_deployment_is_set_promoted_and_removed(tmp_path):
    server = Sluice(tmp_path / "gateway", workers=2)
    server.config_path.write_text(server.config_path.read_text()
                                  + "account_throttling: {rate_limit: 10000000, burst_limit: 10000000}\n")
    server.start()
    first_id = deployments(server)["current"]
    definition = server.directory / "petstore.oas30.yaml"
    original = definition.read_text()
    definition.write_text(version_b(original))
    assert server.admin_request("POST", "/admin/reload").status == 200
    second_id = deployments(server)["current"]
    # The stage back on A; B as its canary for half the requests.
    assert server.admin_request("POST", f"/admin/stages/petstore/prod/rollback?deploymentId={first_id}").status == 200
    answer = server.admin_request("POST", f"/admin/stages/petstore/prod/canary?deploymentId={second_id}"
                                          "&percentTraffic=50&variable.color=green")
    assert answer.status == 200, answer.body
    canary = stage_of(deployments(server))["canary"]
    assert canary == {"deploymentId": second_id, "percentTraffic": 50.0, "useStageCache": False,
                      "stageVariableOverrides": {"color": "green"}}
    bodies = [get(server, "/prod/pets").body for _ in range(400)]
    assert 140 <= bodies.count(b'[{"id":2,"type":"cat"}]') <= 260
    assert bodies.count(b'[{"id":1,"type":"dog"}]') + bodies.count(b'[{"id":2,"type":"cat"}]') == 400
    # Another share, the same canary.
    assert server.admin_request("POST", "/admin/stages/petstore/prod/canary?percentTraffic=100").status == 200
    assert {get(server, "/prod/pets").body for _ in range(20)} == {b'[{"id":2,"type":"cat"}]'}
    # Promoted: the stage serves B, no canary.
    assert server.admin_request("POST", "/admin/stages/petstore/prod/canary/promote").status == 200
    listing = deployments(server)
    assert "canary" not in stage_of(listing) and stage_of(listing)["deploymentId"] == second_id
    assert {get(server, "/prod/pets").body for _ in range(20)} == {b'[{"id":2,"type":"cat"}]'}
    assert server.admin_request("DELETE", "/admin/stages/petstore/prod/canary").status == 404
    assert server.admin_request("POST", "/admin/stages/petstore/prod/canary?percentTraffic=5").status == 400
    assert server.admin_request("POST", f"/admin/stages/petstore/prod/canary?deploymentId={first_id}"
                                        "&percentTraffic=101").status == 400
    # Set again, then removed.
    assert server.admin_request("POST", f"/admin/stages/petstore/prod/canary?deploymentId={first_id}"
                                        "&percentTraffic=100").status == 200
    assert get(server, "/prod/pets").body == b'[{"id":1,"type":"dog"}]'
    assert server.admin_request("DELETE", "/admin/stages/petstore/prod/canary").status == 200
    assert {get(server, "/prod/pets").body for _ in range(20)} == {b'[{"id":2,"type":"cat"}]'}
