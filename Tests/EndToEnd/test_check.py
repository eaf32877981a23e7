"""`sluice check`: every real API Gateway export in ../shared/examples/aws loads; broken
configurations are reported as FILE:LINE: message with exit status 1."""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import BINARY, SHARED, ROOT

EXAMPLES = sorted((SHARED / "examples" / "aws").glob("*.json"))


def check(config):
    return subprocess.run([BINARY, "check", "-c", str(config)], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_every_aws_example_passes_check(tmp_path, example):
    config = tmp_path / "sluice.yaml"
    config.write_text(f'apis:\n  - name: example\n    definition: "{example}"\n    stages: {{prod: {{}}}}\n')
    result = check(config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_deploy_example_passes_check():
    result = check(ROOT / "deploy" / "sluice.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_errors_are_reported_with_file_and_line(tmp_path):
    api = tmp_path / "api.yaml"
    api.write_text('openapi: "3.0.1"\ninfo: {title: t, version: "1"}\npaths:\n  /a/{b:\n    get: {}\n')
    config = tmp_path / "sluice.yaml"
    config.write_text('listen: "127.0.0.1:0"\nworkers:\n  count: 2\n  defaults: {ring_entries: 1000}\n'
                      'apis:\n  - name: t\n    definition: api.yaml\n    stages: {prod: {}}\n')
    result = check(config)
    assert result.returncode == 1
    assert f"{config}:4:" in result.stdout, result.stdout
    assert "api.yaml:4:" in result.stdout, result.stdout


def test_missing_definition_file_is_an_error(tmp_path):
    config = tmp_path / "sluice.yaml"
    config.write_text('apis:\n  - name: t\n    definition: nowhere.yaml\n    stages: {prod: {}}\n')
    result = check(config)
    assert result.returncode == 1
    assert f"{config}:3:" in result.stdout


def test_a_1xx_mock_status_is_an_error(tmp_path):
    api = tmp_path / "api.yaml"
    api.write_text('openapi: "3.0.1"\ninfo: {title: t, version: "1"}\npaths:\n  /a:\n    get:\n'
                   '      x-amazon-apigateway-integration:\n        type: mock\n'
                   '        requestTemplates: {"application/json": \'{"statusCode": 200}\'}\n'
                   '        responses:\n          default:\n            statusCode: "100"\n')
    config = tmp_path / "sluice.yaml"
    config.write_text('apis:\n  - name: t\n    definition: api.yaml\n    stages: {prod: {}}\n')
    result = check(config)
    assert result.returncode == 1
    assert "api.yaml:11:" in result.stdout, result.stdout


def test_check_opens_the_access_logs_it_will_write(tmp_path):
    (tmp_path / "api.yaml").write_text('openapi: "3.0.1"\ninfo: {title: a, version: "1"}\npaths: {}\n')
    fifo = tmp_path / "fifo.log"
    os.mkfifo(fifo)

    def config(log):
        path = tmp_path / "sluice.yaml"
        path.write_text(f'listen: "127.0.0.1:0"\nadmin: "127.0.0.1:0"\napis:\n  - name: a\n    definition: api.yaml\n'
                        f"    stages:\n      prod:\n        access_log: {{path: {log}, format: json}}\n")
        return path

    writable = check(config(tmp_path / "access.log"))
    assert writable.returncode == 0, writable.stdout
    for log, reason in ((tmp_path / "missing" / "access.log", "No such file or directory"),
                        (fifo, "No such device or address")):
        result = check(config(log))
        assert result.returncode == 1
        assert f"sluice.yaml: error: access log of stage 'prod' of API 'a': open {log}: {reason}" in result.stdout, \
            result.stdout


def test_check_computes_the_memory_and_refuses_what_the_machine_cannot_hold(tmp_path):
    api = tmp_path / "api.yaml"
    api.write_text('openapi: "3.0.1"\ninfo: {title: t, version: "1"}\npaths:\n  /a:\n    get:\n'
                   '      x-amazon-apigateway-integration: {type: mock, requestTemplates: {"application/json": '
                   '\'{"statusCode": 200}\'}, responses: {default: {statusCode: "200"}}}\n')
    config = tmp_path / "sluice.yaml"
    text = ('listen: "127.0.0.1:0"\nworkers:\n  count: COUNT\n  defaults: {recv_buffers: 1024, recv_buffer_bytes: 16384}\n'
            'apis:\n  - name: t\n    definition: api.yaml\n    stages: {prod: {cache: {capacity_mb: 64}}}\n')
    config.write_text(text.replace("COUNT", "2"))
    result = check(config)
    assert result.returncode == 0, result.stdout
    # 2 × (16 MiB of receive buffers + …) plus the 64 MiB cache (and its index).
    line = next(line for line in result.stdout.splitlines() if "memory:" in line)
    assert "2 worker(s)" in line and "receive buffers 16.0 MiB" in line and "shared zones 65.0 MiB" in line, line  # arena and index
    # 1024 workers: more than this machine has (the supervisor refuses it too, before forking).
    config.write_text(text.replace("COUNT", "1024"))
    result = check(config)
    assert result.returncode == 1
    assert "error: the configuration needs" in result.stdout and "this machine has" in result.stdout
    served = subprocess.run([BINARY, "serve", "-c", str(config)], capture_output=True, text=True, timeout=30)
    assert served.returncode == 1 and "not starting" in served.stderr


def test_a_fifo_in_place_of_a_definition_is_an_error_not_a_hang(tmp_path):
    os.mkfifo(tmp_path / "api.yaml")
    config = tmp_path / "sluice.yaml"
    config.write_text('apis:\n  - name: t\n    definition: api.yaml\n    stages: {prod: {}}\n')
    result = check(config)
    assert result.returncode == 1
    assert "not a regular file" in result.stdout
