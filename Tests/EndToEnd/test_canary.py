"""Canary releases (API Gateway's canarySettings): a stage's canary serves percentTraffic of its
requests from another definition, with its own stage variables, metric series and access-log
field; the split holds within ±2 % over 10,000 requests."""

import json
import re
import time

from conftest import PETSTORE, Sluice, read_responses, read_until_close, parse_response

CANARY = PETSTORE.replace("""'[{"id":1,"type":"dog"}]'""", """'[{"id":2,"type":"cat","stage":"$stageVariables.color"}]'""") \
    .replace("responseParameters: {\"method.response.header.X-Static\": \"'static-value'\"}",
             "responseParameters: {\"method.response.header.X-Static\": \"'canary-value'\"}")


def canary_config(tmp_path, percent=30.0, extra_stage="", log=True):
    directory = tmp_path / "gateway"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "petstore-v2.oas30.yaml").write_text(CANARY)
    access_log = (f'        access_log: {{path: "{directory}/access.log", format: '
                  '\'$context.stage $context.isCanaryRequest $context.deploymentId $context.status\'}\n') if log else ""
    config = f"""listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
workers:
  count: 2
  defaults: {{ring_entries: 256, recv_buffers: 256, recv_buffer_bytes: 4096, max_connections: 1024}}
account_throttling: {{rate_limit: 10000000, burst_limit: 10000000}}
apis:
  - name: petstore
    definition: petstore.oas30.yaml
    stages:
      prod:
        variables: {{color: blue}}
{access_log}        canary:
          definition: petstore-v2.oas30.yaml
          percent_traffic: {percent}
          stage_variable_overrides: {{color: green}}
{extra_stage}"""
    return Sluice(directory, config_text=config)


def send(server, count, path="/prod/pets", connections=8):
    """`count` GETs over keep-alive connections, pipelined; returns the answers."""
    answers = []
    per = count // connections
    for _ in range(connections):
        with server.connect(timeout=30) as connection:
            connection.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode() * per)
            answers += read_responses(connection, per, timeout=30)
    return answers


def test_the_canary_serves_its_share_with_its_own_variables_series_and_log_field(tmp_path):
    server = canary_config(tmp_path).start()
    answers = send(server, 10_000)
    assert len(answers) == 10_000 and all(answer.status == 200 for answer in answers)
    canary = [answer for answer in answers if answer.header("X-Static") == "canary-value"]
    base = [answer for answer in answers if answer.header("X-Static") == "static-value"]
    assert len(canary) + len(base) == 10_000
    assert abs(len(canary) - 3_000) <= 200, len(canary)
    # The canary's stage variables: the stage's, with its overrides on top.
    assert {answer.body for answer in canary} == {b'[{"id":2,"type":"cat","stage":"green"}]'}
    assert {answer.body for answer in base} == {b'[{"id":1,"type":"dog"}]'}
    # Its own series.
    metrics = server.metrics()
    canary_count = metrics['sluice_requests_total{api="petstore",stage="prod",canary="true",code="2xx"}']
    base_count = metrics['sluice_requests_total{api="petstore",stage="prod",code="2xx"}']
    assert (canary_count, base_count) == (len(canary), len(base))
    # Its access-log field.
    time.sleep(1.2)
    lines = (server.directory / "access.log").read_text().splitlines()
    assert len(lines) == 10_000
    flags = [line.split()[1] for line in lines]
    assert flags.count("true") == len(canary) and flags.count("false") == len(base)
    assert all(re.fullmatch(r"prod (true|false) [a-z0-9]{6} 200", line) for line in lines), lines[:3]


def test_a_route_only_the_canary_has_answers_for_its_share_and_403_for_the_rest(tmp_path):
    server = canary_config(tmp_path, percent=50.0, log=False)
    (server.directory / "petstore-v2.oas30.yaml").write_text(CANARY + """  /cats:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 200}'}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {"application/json": '{"cats":true}'}
""")
    server.start()
    answers = send(server, 1_000, "/prod/cats")
    statuses = [answer.status for answer in answers]
    assert set(statuses) == {200, 403}
    assert 400 <= statuses.count(200) <= 600


def test_0_and_100_percent_and_a_bad_setting(tmp_path):
    server = canary_config(tmp_path / "none", percent=0.0, log=False).start()
    assert {answer.header("X-Static") for answer in send(server, 400)} == {"static-value"}
    every = canary_config(tmp_path / "all", percent=100.0, log=False).start()
    assert {answer.header("X-Static") for answer in send(every, 400)} == {"canary-value"}
    import subprocess
    from conftest import BINARY
    bad = canary_config(tmp_path / "bad", percent=101, log=False)
    result = subprocess.run([BINARY, "check", "-c", str(bad.config_path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "stages.prod.canary.percent_traffic must be a number from 0.0 to 100.0, not '101'" in result.stdout


def test_the_canary_counts_against_its_stages_throttle(tmp_path):
    server = canary_config(tmp_path, percent=50.0, log=False)
    server.config_path.write_text(server.config_path.read_text().replace(
        "        variables: {color: blue}\n", "        variables: {color: blue}\n"
        "        throttling: {rate_limit: 1, burst_limit: 10}\n"))
    server.start()
    answers = send(server, 40, connections=1)
    admitted = [answer for answer in answers if answer.status == 200]
    # One bucket of 10 for the stage and its canary (two buckets would admit about 20).
    assert 10 <= len(admitted) <= 11, [answer.status for answer in answers]
    assert {answer.status for answer in answers} == {200, 429}


def test_a_canary_written_in_sluice_yaml_changes_share_from_a_relative_config_path(tmp_path):
    server = canary_config(tmp_path, percent=0.0, log=False)
    server.cwd = str(tmp_path)
    server.config_argument = "gateway/sluice.yaml"
    server.start()
    assert {answer.header("X-Static") for answer in send(server, 40)} == {"static-value"}
    answer = server.admin_request("POST", "/admin/stages/petstore/prod/canary?percentTraffic=100")
    assert answer.status == 200, answer.body
    assert {answer.header("X-Static") for answer in send(server, 40)} == {"canary-value"}
    assert server.admin_request("POST", "/admin/stages/petstore/prod/canary?percentTraffic=5&deploymentId=%zz").status == 400
    # Promoted: the stage serves the canary's definition with its variables, no canary.
    assert server.admin_request("POST", "/admin/stages/petstore/prod/canary/promote").status == 200
    bodies = {answer.body for answer in send(server, 40)}
    assert bodies == {b'[{"id":2,"type":"cat","stage":"green"}]'}
    # A stage change on files edited since the last reload is refused: reload first.
    definition = server.directory / "petstore.oas30.yaml"
    definition.write_text(definition.read_text().replace("dog", "fox"))
    answer = server.admin_request("DELETE", "/admin/stages/petstore/prod/canary")
    assert answer.status == 404   # promoted: no canary any more
    current = server.admin_get("/admin/deployments").json()["current"]
    answer = server.admin_request("POST", f"/admin/stages/petstore/prod/rollback?deploymentId={current}")
    assert answer.status == 400 and "reload them first" in answer.body.decode(), answer.body
