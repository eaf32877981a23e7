"""HTTP/1.1 behaviour of a worker, end to end: routing, MOCK answers, keep-alive, pipelining,
bodies, HTTP/1.0, HEAD, Expect: 100-continue, timeouts."""

import socket
import time

from conftest import (BIG_BODY_BYTES, parse_response, parse_responses, read_responses,
                      read_until_close)


def get(path, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()


def test_mock_route_answers_with_its_integration_response(sluice):
    server = sluice()
    response = parse_response(server.exchange(get("/prod/pets", "Connection: close\r\n")))
    assert response.status == 200
    assert response.body == b'[{"id":1,"type":"dog"}]'
    assert response.header("Content-Type") == "application/json"
    assert response.header("Content-Length") == str(len(response.body))
    assert response.header("X-Static") == "static-value"
    assert response.header("Date").endswith(" GMT")
    assert len(response.header("x-amzn-RequestId")) == 36
    assert response.header("Connection") == "close"


def test_request_template_status_selects_the_integration_response(sluice):
    server = sluice()
    response = parse_response(server.exchange(
        b"POST /prod/pets HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"))
    assert response.status == 201
    assert response.body == b'{"created":true}'


def test_path_parameters_greedy_paths_and_any_method(sluice):
    server = sluice()
    assert parse_response(server.exchange(get("/prod/pets/42", "Connection: close\r\n"))).body == b'{"id":"pet"}'
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS"):
        raw = f"{method} /prod/files/a/b/c.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
        assert parse_response(server.exchange(raw)).body == b'{"files":true}', method


def test_no_route_is_403_missing_authentication_token(sluice):
    server = sluice()
    for path in ("/prod/nothing", "/staging/pets", "/", "/prod/pets/1/2", "/prod//nothing"):
        response = parse_response(server.exchange(get(path, "Connection: close\r\n")))
        assert response.status == 403, path
        assert response.body == b'{"message":"Missing Authentication Token"}'
        assert response.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    # A method the resource does not define.
    response = parse_response(server.exchange(b"DELETE /prod/pets HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
    assert response.status == 403


def test_request_ids_are_unique_across_requests_and_workers(sluice):
    server = sluice()
    ids = set()
    for _ in range(50):
        with server.connect() as connection:
            connection.sendall(get("/prod/pets") * 4)
            for response in read_responses(connection, 4):
                ids.add(response.header("x-amzn-RequestId"))
    assert len(ids) == 200


def test_keep_alive_serves_many_requests_on_one_connection(sluice):
    server = sluice()
    with server.connect() as connection:
        for _ in range(100):
            connection.sendall(get("/prod/pets"))
            [response] = read_responses(connection, 1)
            assert response.status == 200
            assert response.header("Connection") is None


def test_pipelined_requests_are_answered_in_order(sluice):
    server = sluice()
    paths = ["/prod/pets", "/prod/pets/7", "/prod/missing", "/prod/files/x"] * 50
    with server.connect() as connection:
        connection.sendall(b"".join(get(path) for path in paths))
        responses = read_responses(connection, len(paths))
    assert len(responses) == len(paths)
    expected = {"/prod/pets": b'[{"id":1,"type":"dog"}]', "/prod/pets/7": b'{"id":"pet"}',
                "/prod/missing": b'{"message":"Missing Authentication Token"}', "/prod/files/x": b'{"files":true}'}
    for path, response in zip(paths, responses):
        assert response.body == expected[path]


def test_pipelined_requests_split_at_every_byte(sluice):
    server = sluice()
    raw = get("/prod/pets/1") + b"POST /prod/pets HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello" + get("/prod/pets")
    with server.connect() as connection:
        for offset in range(len(raw)):
            connection.sendall(raw[offset:offset + 1])
            time.sleep(0.001)
        responses = read_responses(connection, 3)
    assert [r.status for r in responses] == [200, 201, 200]


def test_large_pipelined_burst_is_answered_completely(sluice):
    server = sluice()
    count = 2000
    with server.connect(timeout=20) as connection:
        connection.sendall(get("/prod/pets/1") * count)
        responses = read_responses(connection, count, timeout=20)
    assert len(responses) == count


def test_large_mock_body_is_streamed_intact(sluice):
    server = sluice()
    with server.connect() as connection:
        connection.sendall(get("/prod/big") * 3)
        responses = read_responses(connection, 3)
    assert [len(r.body) for r in responses] == [BIG_BODY_BYTES] * 3
    assert all(r.body == b"x" * BIG_BODY_BYTES for r in responses)
    assert responses[0].header("Content-Type") == "text/plain"


def test_head_has_length_but_no_body(sluice):
    server = sluice()
    with server.connect() as connection:
        connection.sendall(b"HEAD /prod/pets HTTP/1.1\r\nHost: t\r\n\r\n" + get("/prod/pets/1"))
        first = read_responses(connection, 1, head_only=True)[0]
        # The GET's response must follow the HEAD's head directly.
        assert first.rest.startswith(b"HTTP/1.1 ") or first.rest == b""
        data = first.rest
        while b'{"id":"pet"}' not in data:
            data += connection.recv(65536)
    assert first.status in (200, 403)


def test_http10_closes_unless_keep_alive_is_asked_for(sluice):
    server = sluice()
    response = parse_response(server.exchange(b"GET /prod/pets HTTP/1.0\r\n\r\n"))
    assert response.status == 200
    with server.connect() as connection:
        for _ in range(3):
            connection.sendall(b"GET /prod/pets HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            [response] = read_responses(connection, 1)
            assert response.header("Connection") == "keep-alive"


def test_expect_100_continue(sluice):
    server = sluice()
    with server.connect() as connection:
        connection.sendall(b"POST /prod/pets HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        interim = connection.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        connection.sendall(b"body")
        data = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        [response] = read_responses_from(connection, data, 1)
    assert response.status == 201


def read_responses_from(connection, data, count):
    while True:
        try:
            responses = parse_responses(data)
            if len(responses) >= count and all(len(r.body) == int(r.header("Content-Length")) for r in responses):
                return responses
        except ValueError:
            pass
        chunk = connection.recv(65536)
        assert chunk, "connection closed early"
        data += chunk


def test_chunked_and_content_length_bodies(sluice):
    server = sluice()
    with server.connect() as connection:
        connection.sendall(b"POST /prod/pets HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
                           + get("/prod/pets/1"))
        responses = read_responses(connection, 2)
    assert [r.status for r in responses] == [201, 200]
    body = b"a" * 1_000_000
    with server.connect() as connection:
        connection.sendall(f"POST /prod/pets HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        [response] = read_responses(connection, 1)
    assert response.status == 201


def test_header_timeout_answers_408(sluice):
    server = sluice(limits={"header_timeout_ms": 600})
    with server.connect() as connection:
        connection.sendall(b"GET /prod/pets HTTP/1.1\r\n")
        started = time.time()
        response = parse_response(read_until_close(connection))
    assert response.status == 408
    assert 0.5 <= time.time() - started < 3


def test_idle_keep_alive_connections_are_closed(sluice):
    server = sluice(limits={"idle_timeout_ms": 600})
    with server.connect() as connection:
        connection.sendall(get("/prod/pets"))
        read_responses(connection, 1)
        started = time.time()
        assert connection.recv(65536) == b""
    assert 0.5 <= time.time() - started < 3


def test_half_open_connections_do_not_delay_others(sluice):
    server = sluice()
    idle = []
    try:
        for number in range(200):
            connection = server.connect()
            # Half a request head, then nothing: a slowloris client.
            connection.sendall(b"GET /prod/pets HTTP/1.1\r\nHost: t\r\nX-Slow: " + str(number).encode())
            idle.append(connection)
        started = time.time()
        for _ in range(200):
            response = parse_response(server.exchange(get("/prod/pets", "Connection: close\r\n")))
            assert response.status == 200
        assert time.time() - started < 5
    finally:
        for connection in idle:
            connection.close()


def test_metrics_count_requests_per_worker(sluice):
    server = sluice()
    for _ in range(20):
        server.exchange(get("/prod/pets", "Connection: close\r\n"))
    for _ in range(5):
        server.exchange(get("/prod/none", "Connection: close\r\n"))
    text = server.admin_get("/metrics").body.decode()
    def total(prefix):
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))
    assert total("sluice_worker_requests_total") == 25
    assert total('sluice_worker_responses_total') == 25
    assert sum(float(l.split()[-1]) for l in text.splitlines()
               if l.startswith("sluice_worker_responses_total") and 'code="4xx"' in l) == 5
    assert total("sluice_worker_connections_accepted_total") == 25
    assert server.admin_get("/healthz").status == 200
    assert server.admin_get("/nope").status == 404


def test_stalled_admin_clients_are_cut_off(sluice):
    server = sluice(workers=1)
    stalled = []
    for _ in range(40):
        connection = socket.create_connection((server.host, server.admin_port), timeout=10)
        connection.sendall(b"GET /metrics HTTP/1.1\r\n")
        stalled.append(connection)
    time.sleep(5.5)
    for connection in stalled[:32]:
        assert connection.recv(65536) == b""
    assert server.admin_get("/healthz").status == 200
    for connection in stalled:
        connection.close()


def test_204_has_no_body_and_keeps_the_connection_in_sync(sluice):
    server = sluice()
    with server.connect() as connection:
        connection.sendall(b"DELETE /prod/pets/1/collar HTTP/1.1\r\nHost: t\r\n\r\n" + get("/prod/pets/1"))
        data = b""
        while b'{"id":"pet"}' not in data:
            chunk = connection.recv(65536)
            assert chunk
            data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert b"Content-Length" not in head
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")


def test_requests_sent_before_a_half_close_are_all_answered(sluice):
    server = sluice()
    for count in (10, 100, 1000):
        with server.connect(timeout=20) as connection:
            connection.sendall(get("/prod/pets/1") * count)
            connection.shutdown(socket.SHUT_WR)
            responses = parse_responses(read_until_close(connection))
        assert len(responses) == count


def test_a_client_that_stops_reading_is_closed_even_if_it_trickles(sluice):
    server = sluice(workers=1, limits={"idle_timeout_ms": 1000, "header_timeout_ms": 1000})
    connection = socket.socket()
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    connection.connect((server.host, server.port))
    connection.settimeout(10)
    # Far more response bytes than any socket buffers hold; the client reads none of them.
    connection.sendall(get("/prod/big") * 200)
    started = time.time()
    closed = False
    while time.time() - started < 8:
        try:
            # A byte of a new head every 200 ms must not keep the stalled connection alive.
            connection.sendall(b"G")
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        metrics = server.admin_get("/metrics").body.decode()
        if 'sluice_worker_connections_open{worker="0"} 0' in metrics:
            closed = True
            break
        time.sleep(0.2)
    connection.close()
    assert closed
    assert time.time() - started < 4
