"""End-to-end harness: starts the real `sluice` binary on ephemeral loopback ports and talks to
it over real sockets. SLUICE_BIN names the binary (tools/test builds release and sets it)."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SLUICE_SHARED", ROOT.parent / "shared"))
BINARY = os.environ.get("SLUICE_BIN", str(ROOT / ".build" / "release" / "sluice"))
LISTENING = re.compile(r"listening (\S+):(\d+) admin (\S+):(\d+) workers (\d+)")

PETSTORE = """\
openapi: "3.0.1"
info: {title: petstore, version: "1"}
paths:
  /pets:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 200}'}
        responses:
          default:
            statusCode: "200"
            responseParameters: {"method.response.header.X-Static": "'static-value'"}
            responseTemplates: {"application/json": '[{"id":1,"type":"dog"}]'}
    post:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 201}'}
        responses:
          "2\\\\d{2}":
            statusCode: "201"
            responseTemplates: {"application/json": '{"created":true}'}
          default:
            statusCode: "500"
  /pets/{petId}:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 200}'}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {"application/json": '{"id":"pet"}'}
  /pets/{petId}/collar:
    delete:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 204}'}
        responses:
          default:
            statusCode: "204"
            responseTemplates: {"application/json": '{"deleted":true}'}
  /big:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 200}'}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {"text/plain": 'BIGBODY'}
  /files/{proxy+}:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": '{"statusCode": 200}'}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {"application/json": '{"files":true}'}
"""

BIG_BODY_BYTES = 100_000


def sluice_yaml(workers=2, limits=None, drain_timeout_ms=None, cpus=None, per_cpu=None, max_connections=1024,
                drain_delay_ms=None, ring_entries=256):
    lines = [
        'listen: "127.0.0.1:0"',
        'admin: "127.0.0.1:0"',
        "workers:",
        f"  cpus: [{', '.join(map(str, cpus))}]" if cpus else f"  count: {workers}",
        f"  defaults: {{ring_entries: {ring_entries}, recv_buffers: 256, recv_buffer_bytes: 4096, "
        f"max_connections: {max_connections}}}",
    ]
    if per_cpu:
        lines.append("  per_cpu: {" + ", ".join(f'"{cpu}": {{ring_entries: {entries}}}'
                                               for cpu, entries in per_cpu.items()) + "}")
    if limits:
        lines.append("limits:")
        lines += [f"  {key}: {value}" for key, value in limits.items()]
    if drain_timeout_ms is not None:
        lines.append(f"drain_timeout_ms: {drain_timeout_ms}")
    if drain_delay_ms is not None:
        lines.append(f"drain_delay_ms: {drain_delay_ms}")
    lines += [
        "apis:",
        "  - name: petstore",
        "    definition: petstore.oas30.yaml",
        "    stages:",
        "      prod: {variables: {backend: 127.0.0.1}}",
    ]
    return "\n".join(lines) + "\n"


# Every server started; `stop_servers` kills those a test started and left running (servers of
# module-scoped fixtures, started before it, are their fixtures' to stop).
RUNNING = []


@pytest.fixture(autouse=True)
def stop_servers():
    before = len(RUNNING)
    yield
    while len(RUNNING) > before:
        RUNNING.pop().kill()


class Sluice:
    """A running `sluice serve` process tree."""

    def __init__(self, directory, config_text=None, open_files_max=None, **options):
        self.open_files_max = open_files_max
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "petstore.oas30.yaml").write_text(
            PETSTORE.replace("BIGBODY", "x" * BIG_BODY_BYTES))
        self.config_path = self.directory / "sluice.yaml"
        self.config_path.write_text(config_text or sluice_yaml(**options))
        self.stderr_lines = []
        self.process = None

    def start(self, timeout=20):
        def limit_open_files():
            import resource
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files_max, self.open_files_max))

        RUNNING.append(self)
        # A test may run it from another folder with a relative -c (`self.cwd`, `self.config_argument`).
        self.process = subprocess.Popen([BINARY, "serve", "-c", getattr(self, "config_argument", str(self.config_path))],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        cwd=getattr(self, "cwd", None),
                                        preexec_fn=limit_open_files if self.open_files_max else None)
        ready = threading.Event()

        def pump():
            for line in self.process.stderr:
                self.stderr_lines.append(line.rstrip("\n"))
                match = LISTENING.search(line)
                if match:
                    self.host, self.port = match.group(1), int(match.group(2))
                    self.admin_port = int(match.group(4))
                    self.worker_count = int(match.group(5))
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout):
            self.kill()
            raise AssertionError("sluice did not start:\n" + "\n".join(self.stderr_lines))
        # Every worker must be accepting before tests start counting on them.
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.workers()) == self.worker_count and self.coordinator():
                break
            time.sleep(0.05)
        return self

    # Process tree -------------------------------------------------------------------------
    def children(self):
        result = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "Z" and int(fields[1]) == self.process.pid:
                result[int(entry.name)] = name
        return result

    def workers(self):
        return {name: pid for pid, name in self.children().items() if name.startswith("sluice-w")}

    def coordinator(self):
        return [pid for pid, name in self.children().items() if name == "sluice-coord"]

    # Clients ------------------------------------------------------------------------------
    def connect(self, timeout=5):
        connection = socket.create_connection((self.host, self.port), timeout=timeout)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def exchange(self, raw, timeout=5):
        """Sends raw bytes on a new connection and reads until the server closes."""
        with self.connect(timeout) as connection:
            connection.sendall(raw)
            return read_until_close(connection)

    def admin_get(self, path, timeout=5):
        return self.admin_request("GET", path, timeout)

    def metrics(self):
        return metric_samples(self.admin_get("/metrics").body.decode())

    def admin_request(self, method, path, timeout=5):
        with socket.create_connection((self.host, self.admin_port), timeout=timeout) as connection:
            connection.sendall(f"{method} {path} HTTP/1.1\r\nHost: admin\r\n\r\n".encode())
            return parse_response(read_until_close(connection))

    # Stopping -----------------------------------------------------------------------------
    def signal(self, number):
        self.process.send_signal(number)

    def wait(self, timeout):
        return self.process.wait(timeout)

    def kill(self):
        if self.process and self.process.poll() is None:
            pids = list(self.children())
            self.process.kill()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.process.wait(5)


def metric_samples(text):
    """A /metrics page as {'name{labels}': value}."""
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def read_until_close(connection):
    chunks = []
    while True:
        try:
            chunk = connection.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


class Response:
    def __init__(self, status, headers, body, raw_head):
        self.status, self.headers, self.body, self.raw_head = status, headers, body, raw_head

    def header(self, name):
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[0] if values else None

    def json(self):
        import json
        return json.loads(self.body)


def parse_response(data, head_only=False):
    """Parses one response from the start of `data`; returns Response (with .rest = what follows)."""
    end = data.index(b"\r\n\r\n")
    head = data[:end].decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
    response = Response(status, headers, b"", head)
    length = int(response.header("Content-Length") or 0)
    body_start = end + 4
    if head_only or status in (100, 204, 304):
        length = 0
    response.body = data[body_start:body_start + length]
    response.rest = data[body_start + length:]
    return response


def parse_responses(data, head_only=False):
    responses = []
    while data:
        response = parse_response(data, head_only=head_only)
        responses.append(response)
        data = response.rest
    return responses


def read_responses(connection, count, head_only=False, timeout=10):
    """Reads exactly `count` responses from a keep-alive connection."""
    data = b""
    deadline = time.time() + timeout
    responses = []
    while len(responses) < count and time.time() < deadline:
        try:
            while True:
                parsed = parse_response(data, head_only=head_only)
                if len(parsed.body) < int(parsed.header("Content-Length") or 0) and not head_only:
                    raise ValueError("partial body")
                responses.append(parsed)
                data = parsed.rest
                if len(responses) == count:
                    return responses
        except ValueError:
            pass
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return responses


@pytest.fixture
def sluice(tmp_path):
    started = []

    def start(**options):
        server = Sluice(tmp_path / f"sluice{len(started)}", **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
