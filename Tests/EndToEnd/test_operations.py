"""Operations: a stop a load balancer can see (/healthz and /readyz answer 503 at once, the
gateway goes on serving for drain_delay_ms, new connections too, then drains without losing a
request that reached it); readiness apart from liveness, both failing when no worker serves;
refusals at start (a port already served, a ring the kernel cannot set up); a restart right after
kill -9; a log line after stderr's reader has gone; what the build is and what it serves."""

import os
import re
import signal
import socket
import subprocess
import threading
import time

from conftest import BINARY, LISTENING, Sluice, parse_response, read_responses, read_until_close


def get(path, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()


def test_health_fails_at_once_while_serving_goes_on_for_the_delay_and_nothing_is_lost(sluice):
    server = sluice(workers=2, drain_delay_ms=1500, drain_timeout_ms=5000)
    assert server.admin_get("/healthz").status == 200
    assert server.admin_get("/readyz").status == 200
    stop = threading.Event()
    results = {"ok": 0, "closing": 0, "lost": 0, "late": 0, "other": []}
    lock = threading.Lock()

    def client():
        # Busy keep-alive connections: a request, its answer, the next a millisecond later (below
        # the account throttle's 10,000 requests a second).
        while not stop.is_set():
            try:
                connection = server.connect(timeout=5)
            except OSError:
                return  # no longer accepting: the drain has begun
            with connection:
                answered_at = time.time()
                while not stop.is_set():
                    time.sleep(0.001)
                    sent_at = time.time()
                    try:
                        connection.sendall(get("/prod/pets"))
                    except OSError:
                        break  # closed before this request was sent: nothing lost
                    answers = read_responses(connection, 1, timeout=5)
                    with lock:
                        if not answers:
                            # A client that stayed idle past the drain's grace (this thread was
                            # not scheduled) sends after the close: its request never reached.
                            results["late" if sent_at - answered_at > 0.4 else "lost"] += 1
                            break
                        answered_at = time.time()
                        answer = answers[0]
                        if answer.status != 200:
                            results["other"].append(answer.status)
                        elif answer.header("Connection") == "close":
                            results["closing"] += 1
                            break
                        else:
                            results["ok"] += 1

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    server.signal(signal.SIGTERM)
    stopped_at = time.time()
    # The health checks fail at once.
    assert server.admin_get("/healthz").status == 503
    assert server.admin_get("/readyz").status == 503
    # During the delay, requests and new connections are still served, without Connection: close.
    time.sleep(0.3)
    served_before = results["ok"]
    time.sleep(0.5)
    assert results["ok"] > served_before
    fresh = server.connect(timeout=5)
    fresh.sendall(get("/prod/pets"))
    answer = read_responses(fresh, 1)[0]
    assert answer.status == 200 and answer.header("Connection") != "close"
    assert time.time() - stopped_at < 1.4
    fresh.close()
    # Then the drain: every connection's last answer says Connection: close; none is lost.
    assert server.wait(10) == 0
    stop.set()
    for thread in threads:
        thread.join(10)
    print("drain:", results)
    assert results["lost"] == 0 and results["other"] == [], results
    assert results["closing"] > 0, results
    # The drain began after the delay.
    assert any("stopping: /healthz and /readyz answer 503" in line for line in server.stderr_lines)


def test_admin_drain_is_a_stop(sluice):
    server = sluice(workers=1, drain_delay_ms=1000)
    answer = server.admin_request("POST", "/admin/drain")
    assert answer.status == 202
    assert server.admin_get("/readyz").status == 503
    assert server.admin_get("/healthz").body == b"draining\n"
    assert server.admin_request("GET", "/admin/drain").status == 405
    # Still serving during the delay.
    assert parse_response(server.exchange(get("/prod/pets", "Connection: close\r\n"))).status == 200
    assert server.wait(10) == 0


def test_a_ring_this_kernel_cannot_set_up_stops_the_start(tmp_path):
    # Rings this large pass `check`, but io_uring_queue_init refuses them here (EINVAL): every
    # worker would die as it starts. The supervisor proves the setting before it forks.
    gateway = Sluice(tmp_path / "gateway", workers=2, ring_entries=32768)
    result = subprocess.run([BINARY, "serve", "-c", str(gateway.config_path)], capture_output=True, text=True,
                            timeout=20)
    assert result.returncode == 1
    assert "workers: ring_entries 32768: this kernel cannot set up such a ring" in result.stderr


def test_readiness_and_liveness_fail_while_no_worker_serves(sluice):
    server = sluice(workers=2)
    assert server.admin_get("/readyz").status == 200

    def kill_workers_twice():
        # Killed once, a worker is forked again at once; killed again within a second of that
        # start, it counts as dying as it starts (a crash loop) until it has lived a second.
        for _ in range(2):
            old = server.workers()
            for pid in old.values():
                os.kill(pid, signal.SIGKILL)
            deadline = time.time() + 2
            while time.time() < deadline:
                now = server.workers()
                if len(now) == 2 and not set(now.values()) & set(old.values()):
                    break
                time.sleep(0.01)

    kill_workers_twice()
    healthz, readyz = server.admin_get("/healthz"), server.admin_get("/readyz")
    assert (healthz.status, healthz.body) == (503, b"no worker serving\n")
    assert (readyz.status, readyz.body) == (503, b"not every worker serving\n")
    # Once they have lived a second, both are back.
    time.sleep(1.3)
    assert server.admin_get("/healthz").status == 200
    assert server.admin_get("/readyz").status == 200


def test_a_request_sent_on_an_idle_connection_as_the_drain_begins_is_answered(sluice):
    server = sluice(workers=1)
    idle = server.connect()
    idle.sendall(get("/prod/pets"))
    assert read_responses(idle, 1)[0].header("Connection") != "close"
    server.signal(signal.SIGTERM)
    # The request was on its way when the drain began: answered, and the connection closes.
    time.sleep(0.2)
    idle.sendall(get("/prod/pets"))
    data = read_until_close(idle)
    assert data, "the idle connection was closed under a request"
    answer = parse_response(data)
    assert answer.status == 200 and answer.header("Connection") == "close"
    assert server.wait(10) == 0


def test_a_second_gateway_on_a_served_port_refuses_to_start(sluice, tmp_path):
    first = sluice(workers=1)
    text = first.config_path.read_text().replace('listen: "127.0.0.1:0"', f'listen: "127.0.0.1:{first.port}"')
    second = Sluice(tmp_path / "second", config_text=text)
    result = subprocess.run([BINARY, "serve", "-c", str(second.config_path)], capture_output=True, text=True,
                            timeout=20)
    assert result.returncode == 1
    assert f"127.0.0.1:{first.port} is already served by another process" in result.stderr
    # The first one never shared its port: every connection is its own.
    for _ in range(20):
        assert parse_response(first.exchange(get("/prod/pets", "Connection: close\r\n"))).status == 200
    assert first.process.poll() is None


def test_a_log_line_after_the_reader_of_stderr_has_gone_is_not_fatal(tmp_path):
    gateway = Sluice(tmp_path / "gateway", workers=1)
    reader, writer = os.pipe()
    process = subprocess.Popen([BINARY, "serve", "-c", str(gateway.config_path)], stdout=subprocess.DEVNULL,
                               stderr=writer)
    os.close(writer)
    try:
        stream = os.fdopen(reader, "r")
        match = None
        deadline = time.time() + 20
        while match is None and time.time() < deadline:
            match = LISTENING.search(stream.readline())
        assert match
        stream.close()  # the log collector is gone
        time.sleep(0.3)
        # SIGHUP writes a line to stderr (and so does every later event).
        process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert process.poll() is None
        with socket.create_connection(("127.0.0.1", int(match.group(2))), timeout=5) as connection:
            connection.sendall(get("/prod/pets", "Connection: close\r\n"))
            assert parse_response(read_until_close(connection)).status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_restart_right_after_kill_9_of_the_supervisor_serves_at_once(sluice, tmp_path):
    first = sluice(workers=2)
    text = (first.config_path.read_text()
            .replace('listen: "127.0.0.1:0"', f'listen: "127.0.0.1:{first.port}"')
            .replace('admin: "127.0.0.1:0"', f'admin: "127.0.0.1:{first.admin_port}"'))
    first.process.kill()  # SIGKILL: no drain, no goodbye
    first.process.wait(5)
    started = time.time()
    second = Sluice(tmp_path / "second", config_text=text).start()
    try:
        assert time.time() - started < 5
        assert second.port == first.port and second.admin_port == first.admin_port
        for _ in range(20):
            assert parse_response(second.exchange(get("/prod/pets", "Connection: close\r\n"))).status == 200
        assert second.admin_get("/readyz").status == 200
    finally:
        second.kill()


def test_the_build_and_what_it_serves_are_told(sluice):
    version = subprocess.run([BINARY, "--version"], capture_output=True, text=True, timeout=10)
    assert version.returncode == 0
    assert re.fullmatch(r"sluice \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}|unknown), Swift [\d.+]+\)\n",
                        version.stdout), version.stdout
    server = sluice(workers=1)
    assert any(line.startswith("sluice: sluice ") for line in server.stderr_lines)
    assert "sluice: api petstore: stages prod; " in "\n".join(server.stderr_lines)
    metrics = server.admin_get("/metrics").body.decode()
    info = [line for line in metrics.splitlines() if line.startswith("sluice_build_info{")]
    assert len(info) == 1 and info[0].endswith(" 1"), info
    assert 'version="' in info[0] and 'commit="' in info[0] and 'swift="6.' in info[0]


def test_a_crash_looping_workers_connections_are_served_by_the_others(sluice):
    server = sluice(workers=2)
    # Worker 0 dies as soon as it starts, again and again: its restarts back off (0.2 s, 0.4 s,
    # 0.8 s, 1.6 s …).
    for _ in range(5):
        deadline = time.time() + 5
        while "sluice-w0" not in server.workers() and time.time() < deadline:
            time.sleep(0.005)
        os.kill(server.workers()["sluice-w0"], signal.SIGKILL)
        time.sleep(0.05)
    assert any("starting it in" in line and "other workers meanwhile" in line for line in server.stderr_lines)
    assert "sluice-w0" not in server.workers()
    # While it backs off, every new connection is answered at once, by worker 1.
    slow = []
    for _ in range(100):
        started = time.time()
        with server.connect(timeout=2) as connection:
            connection.sendall(get("/prod/pets", "Connection: close\r\n"))
            assert parse_response(read_until_close(connection)).status == 200
        if time.time() - started > 0.3:
            slow.append(time.time() - started)
    assert slow == [], slow
    assert server.admin_get("/readyz").status == 503
    assert server.admin_get("/healthz").status == 200
    # It comes back, on its own sockets again: both workers answer.
    deadline = time.time() + 10
    while time.time() < deadline and server.admin_get("/readyz").status != 200:
        time.sleep(0.1)
    assert server.admin_get("/readyz").status == 200
    served = server.metrics()
    before = served['sluice_worker_requests_total{worker="0"}']
    for _ in range(40):
        assert parse_response(server.exchange(get("/prod/pets", "Connection: close\r\n"))).status == 200
    assert server.metrics()['sluice_worker_requests_total{worker="0"}'] > before


STATE_API = """\
usage_plans:
  metered:
    stages: ["petstore/prod"]
    quota: {limit: 100, period: DAY}
api_keys:
  - {name: carol, value_sha256: "0000000000000000000000000000000000000000000000000000000000000000", usage_plans: [metered]}
"""


def serve_result(config, timeout=20):
    return subprocess.run([BINARY, "serve", "-c", str(config)], capture_output=True, text=True, timeout=timeout)


def test_a_state_dir_or_journal_that_cannot_be_written_stops_the_start(tmp_path):
    gateway = Sluice(tmp_path / "gateway", workers=1)
    base = gateway.config_path.read_text() + STATE_API
    # A file where the folder should be.
    (tmp_path / "blocked").write_text("")
    gateway.config_path.write_text(base + f'state_dir: "{tmp_path}/blocked/state"\n')
    result = serve_result(gateway.config_path)
    assert result.returncode == 1 and "state_dir" in result.stderr and "not starting" in result.stderr, result.stderr
    # A folder in the journal's place.
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "quotas.journal").mkdir()
    gateway.config_path.write_text(base + f'state_dir: "{tmp_path}/state"\n')
    result = serve_result(gateway.config_path)
    assert result.returncode == 1 and "cannot write the quota journal" in result.stderr, result.stderr


def test_a_fifo_or_a_corrupt_journal_is_kept_aside_counted_and_the_start_goes_on(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    os.mkfifo(state / "quotas.journal")
    gateway = Sluice(tmp_path / "gateway", workers=1)
    gateway.config_path.write_text(gateway.config_path.read_text() + STATE_API + f'state_dir: "{state}"\n')
    gateway.start(timeout=10)
    assert gateway.metrics()["sluice_quota_journal_unreadable_total"] == 1
    assert any("not a regular file" in line for line in gateway.stderr_lines), gateway.stderr_lines
    assert any(name.startswith("quotas.journal.corrupt-") for name in os.listdir(state))
    assert (state / "quotas.journal").is_file()
    gateway.signal(signal.SIGTERM)
    assert gateway.wait(15) == 0
    (state / "quotas.journal").write_text("sluice-quota-journal 1\ngarbage")
    again = Sluice(tmp_path / "gateway", config_text=gateway.config_path.read_text()).start()
    assert again.metrics()["sluice_quota_journal_unreadable_total"] == 1
    assert any("the quota journal is corrupt" in line for line in again.stderr_lines)


def test_a_second_gateway_on_the_same_state_dir_refuses_to_start(sluice, tmp_path):
    first = Sluice(tmp_path / "first", workers=1)
    first.config_path.write_text(first.config_path.read_text() + f'state_dir: "{tmp_path}/state"\n')
    first.start()
    # Other ports, the same state_dir: the lock says no.
    result = serve_result(first.config_path)
    assert result.returncode == 1 and "is in use by another Sluice" in result.stderr, result.stderr
    first.signal(signal.SIGTERM)
    assert first.wait(15) == 0
    # Released with the supervisor.
    Sluice(tmp_path / "again", config_text=first.config_path.read_text()).start()


def test_log_lines_stderr_refuses_are_counted_and_dropped(tmp_path):
    gateway = Sluice(tmp_path / "gateway", workers=1)
    reader, writer = os.pipe()
    process = subprocess.Popen([BINARY, "serve", "-c", str(gateway.config_path)], stdout=subprocess.DEVNULL,
                               stderr=writer)
    os.close(writer)
    try:
        stream = os.fdopen(reader, "r")
        match = None
        deadline = time.time() + 20
        while match is None and time.time() < deadline:
            match = LISTENING.search(stream.readline())
        assert match
        stream.close()
        time.sleep(0.3)
        for _ in range(3):
            process.send_signal(signal.SIGHUP)  # each reload logs lines that cannot be written
            time.sleep(0.3)
        assert process.poll() is None
        with socket.create_connection(("127.0.0.1", int(match.group(4))), timeout=5) as connection:
            connection.sendall(b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
            page = parse_response(read_until_close(connection)).body.decode()
        failures = [line for line in page.splitlines() if line.startswith("sluice_supervisor_log_write_failures_total")]
        assert failures and float(failures[0].split()[-1]) >= 3, failures
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
