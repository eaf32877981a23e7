"""The process tree: names, pinning, one io_uring per worker, respawn of a killed worker, and
the graceful stop on SIGTERM/SIGINT."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BINARY, parse_response, read_responses, read_until_close


def get(path, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()


def process_name(pid):
    return Path(f"/proc/{pid}/comm").read_text().strip()


def holds_io_uring(pid):
    fd_dir = Path(f"/proc/{pid}/fd")
    return any(os.readlink(fd_dir / fd) == "anon_inode:[io_uring]" for fd in os.listdir(fd_dir))


def test_process_names_pinning_and_rings(sluice):
    server = sluice(workers=2)
    assert process_name(server.process.pid) == "sluice-sup"
    names = sorted(server.children().values())
    assert names == ["sluice-coord", "sluice-w0", "sluice-w1"]
    allowed = sorted(os.sched_getaffinity(0))
    workers = server.workers()
    for slot in range(2):
        pid = workers[f"sluice-w{slot}"]
        assert os.sched_getaffinity(pid) == {allowed[slot % len(allowed)]}
        assert holds_io_uring(pid)
        # No threads: one task per worker.
        assert len(os.listdir(f"/proc/{pid}/task")) == 1
    assert len(os.listdir(f"/proc/{server.process.pid}/task")) == 1
    # The supervisor waits for a worker's turn instead of preempting it; every child it forks,
    # workers and coordinator, is scheduled normally.
    assert os.sched_getscheduler(server.process.pid) == os.SCHED_BATCH
    for pid in server.children():
        assert os.sched_getscheduler(pid) == os.SCHED_OTHER


def test_killed_worker_is_back_within_a_second(sluice):
    server = sluice(workers=2)
    old = server.workers()["sluice-w1"]
    os.kill(old, signal.SIGKILL)
    started = time.time()
    while time.time() - started < 1.0:
        pid = server.workers().get("sluice-w1")
        if pid and pid != old and holds_io_uring(pid):
            break
        time.sleep(0.02)
    else:
        pytest.fail("worker 1 was not forked again within a second")
    # Both slots keep serving: many new connections land on both listeners.
    for _ in range(100):
        assert parse_response(server.exchange(get("/prod/pets", "Connection: close\r\n"))).status == 200
    metrics = server.admin_get("/metrics").body.decode()
    assert 'sluice_worker_restarts_total{worker="1"} 1' in metrics
    # A worker forked again is scheduled normally too.
    assert os.sched_getscheduler(server.workers()["sluice-w1"]) == os.SCHED_OTHER


def test_killed_coordinator_is_forked_again(sluice):
    server = sluice(workers=1)
    [old] = server.coordinator()
    os.kill(old, signal.SIGKILL)
    deadline = time.time() + 2
    while time.time() < deadline:
        current = server.coordinator()
        if current and current[0] != old:
            break
        time.sleep(0.02)
    else:
        pytest.fail("the coordinator was not forked again")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_graceful_stop_finishes_in_flight_requests_and_leaves_nothing(sluice, stop_signal):
    server = sluice(workers=2)
    children = list(server.children())
    idle = server.connect()
    idle.sendall(get("/prod/pets"))
    read_responses(idle, 1)
    # A request in flight: half a head sent before the stop.
    busy = server.connect()
    busy.sendall(b"GET /prod/pets HTTP/1.1\r\nHost: t\r\n")
    time.sleep(0.1)
    server.signal(stop_signal)
    # The idle keep-alive connection is closed.
    idle.settimeout(5)
    assert idle.recv(65536) == b""
    # The health check says draining while the in-flight request holds the drain open.
    assert server.admin_get("/healthz").status == 503
    busy.sendall(b"\r\n")
    response = parse_response(read_until_close(busy))
    assert response.status == 200
    assert response.header("Connection") == "close"
    assert server.wait(10) == 0
    time.sleep(0.1)
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_drain_timeout_bounds_the_stop(sluice):
    server = sluice(workers=1, drain_timeout_ms=500)
    stuck = server.connect()
    stuck.sendall(b"GET /prod/pets HTTP/1.1\r\nHost: t\r\n")
    started = time.time()
    server.signal(signal.SIGTERM)
    assert server.wait(10) == 0
    assert time.time() - started < 4


def test_workers_exit_when_the_supervisor_is_killed(sluice):
    server = sluice(workers=2)
    children = list(server.children())
    server.process.kill()
    server.process.wait(5)
    deadline = time.time() + 5
    while time.time() < deadline and any(Path(f"/proc/{pid}").exists() for pid in children):
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)


def test_serve_refuses_an_invalid_configuration(tmp_path):
    config = tmp_path / "sluice.yaml"
    config.write_text('listen: "127.0.0.1:0"\nworkers: {count: 0}\napis: []\n')
    result = subprocess.run([BINARY, "serve", "-c", str(config)], capture_output=True, text=True, timeout=20)
    assert result.returncode == 1
    assert f"{config}:2:" in result.stderr


def ring_sizes(pid):
    """The submission-queue sizes of the io_urings a process holds (from /proc/PID/fdinfo)."""
    sizes = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:[io_uring]":
                continue
            info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        for line in info.splitlines():
            if line.startswith("SqMask:"):
                sizes.append(int(line.split()[1], 16) + 1)
    return sizes


def test_per_cpu_tuning_reaches_the_worker_pinned_there(sluice):
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("needs two CPUs")
    server = sluice(cpus=[allowed[0], allowed[1]], per_cpu={allowed[1]: 1024})
    workers = server.workers()
    assert ring_sizes(workers["sluice-w0"]) == [256]
    assert ring_sizes(workers["sluice-w1"]) == [1024]
    assert os.sched_getaffinity(workers["sluice-w1"]) == {allowed[1]}


def test_max_connections_per_worker_is_enforced(sluice):
    server = sluice(workers=1, max_connections=8)
    held = [server.connect() for _ in range(8)]
    for connection in held:
        connection.sendall(get("/prod/pets"))
        assert read_responses(connection, 1)[0].status == 200
    # The ninth is accepted and closed at once.
    extra = server.connect()
    extra.settimeout(5)
    try:
        assert extra.recv(65536) == b""
    except ConnectionResetError:
        pass
    held.pop().close()
    time.sleep(0.2)
    assert parse_response(server.exchange(get("/prod/pets", "Connection: close\r\n"))).status == 200
    for connection in held:
        connection.close()
    metrics = server.admin_get("/metrics").body.decode()
    assert 'sluice_worker_connections_refused_total{worker="0"} 1' in metrics


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_running_out_of_descriptors_neither_spins_nor_kills_the_worker(sluice):
    server = sluice(workers=1, open_files_max=64)
    assert any("open-file limit (64)" in line for line in server.stderr_lines)
    worker = server.workers()["sluice-w0"]
    held = []
    try:
        for _ in range(100):
            held.append(server.connect())
        time.sleep(0.3)
        before = cpu_seconds(worker)
        time.sleep(1.0)
        # Waiting for a descriptor must not busy-loop on accept.
        assert cpu_seconds(worker) - before < 0.3
    finally:
        for connection in held:
            connection.close()
    time.sleep(0.6)
    assert server.workers()["sluice-w0"] == worker
    assert parse_response(server.exchange(get("/prod/pets", "Connection: close\r\n"))).status == 200


def test_drain_closes_after_the_answer_in_progress_and_refuses_new_connections(sluice):
    server = sluice(workers=1, drain_timeout_ms=6000)
    busy = server.connect()
    busy.sendall(b"POST /prod/pets HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhalf")
    time.sleep(0.1)
    server.signal(signal.SIGTERM)
    time.sleep(0.3)
    import socket as socket_module
    with pytest.raises(ConnectionRefusedError):
        socket_module.create_connection((server.host, server.port), timeout=2)
    busy.sendall(b"-the-rest")
    started = time.time()
    response = parse_response(read_until_close(busy))
    assert response.status == 201
    assert response.header("Connection") == "close"
    assert server.wait(10) == 0
    assert time.time() - started < 4
