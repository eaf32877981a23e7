"""Hostile and malformed requests: each gets its 4xx/5xx and the connection is closed, and the
worker keeps serving everyone else."""

import pytest

from conftest import parse_response

H = b"Host: t\r\n"

HOSTILE = [
    ("content-length and transfer-encoding", b"POST /prod/pets HTTP/1.1\r\n" + H +
     b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("differing content-lengths", b"POST /prod/pets HTTP/1.1\r\n" + H +
     b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    ("content-length list differing", b"POST /prod/pets HTTP/1.1\r\n" + H + b"Content-Length: 5, 6\r\n\r\nhello!", 400),
    ("signed content-length", b"POST /prod/pets HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello", 400),
    ("hex content-length", b"POST /prod/pets HTTP/1.1\r\n" + H + b"Content-Length: 0x5\r\n\r\nhello", 400),
    ("bad chunk size", b"POST /prod/pets HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk size overflow", b"POST /prod/pets HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk without crlf", b"POST /prod/pets HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400),
    ("unknown transfer coding", b"POST /prod/pets HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n", 501),
    ("chunked not last", b"POST /prod/pets HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
    ("obs-fold", b"GET /prod/pets HTTP/1.1\r\n" + H + b"X-A: one\r\n two\r\n\r\n", 400),
    ("bare CR in header", b"GET /prod/pets HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", 400),
    ("bare LF line end", b"GET /prod/pets HTTP/1.1\n" + H + b"\r\n", 400),
    ("NUL in header value", b"GET /prod/pets HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400),
    ("control char in header value", b"GET /prod/pets HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n\r\n", 400),
    ("space before colon", b"GET /prod/pets HTTP/1.1\r\n" + H + b"X-A : b\r\n\r\n", 400),
    ("invalid method", b"G(T /prod/pets HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("control char in target", b"GET /prod/p\x01ets HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("relative target", b"GET prod/pets HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("double space", b"GET  /prod/pets HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("missing host", b"GET /prod/pets HTTP/1.1\r\n\r\n", 400),
    ("two hosts", b"GET /prod/pets HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("http/2.0 request line", b"GET /prod/pets HTTP/2.0\r\n" + H + b"\r\n", 505),
    ("garbage version", b"GET /prod/pets HTTP/1.1x\r\n" + H + b"\r\n", 400),
    ("expectation unknown", b"POST /prod/pets HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nExpect: teapot\r\n\r\nx", 417),
    ("te in http/1.0", b"POST /prod/pets HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("binary garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n", 400),
]


@pytest.mark.parametrize("name,raw,status", HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_request_gets_its_status_and_a_close(sluice_shared, name, raw, status):
    server = sluice_shared
    data = server.exchange(raw + b"GET /prod/pets HTTP/1.1\r\nHost: t\r\n\r\n")
    response = parse_response(data)
    assert response.status == status, data[:300]
    assert response.header("Connection") == "close"
    # The smuggled second request must never be answered.
    assert response.rest == b"", response.rest[:200]
    # And the worker serves everyone else.
    ok = parse_response(server.exchange(b"GET /prod/pets HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
    assert ok.status == 200


def test_head_over_limit_is_431(sluice):
    server = sluice()
    raw = b"GET /prod/pets HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 11000 + b"\r\n\r\n"
    assert parse_response(server.exchange(raw)).status == 431
    too_many = b"GET /prod/pets HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(150)) + b"\r\n"
    assert parse_response(server.exchange(too_many)).status == 431


def test_body_over_limit_is_413_request_too_long(sluice):
    server = sluice(limits={"request_body_bytes": 1000})
    response = parse_response(server.exchange(
        b"POST /prod/pets HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n" + b"a" * 1001))
    assert response.status == 413
    assert response.body == b'{"message":"Request Too Long"}'
    chunked = (b"POST /prod/pets HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               + (b"200\r\n" + b"a" * 512 + b"\r\n") * 2 + b"0\r\n\r\n")
    response = parse_response(server.exchange(chunked))
    assert response.status == 413


def test_default_body_limit_is_10_mb(sluice):
    server = sluice()
    response = parse_response(server.exchange(
        b"POST /prod/pets HTTP/1.1\r\nHost: t\r\nContent-Length: 10485761\r\n\r\n"))
    assert response.status == 413


@pytest.fixture(scope="module")
def sluice_shared(tmp_path_factory):
    from conftest import Sluice
    server = Sluice(tmp_path_factory.mktemp("hostile")).start()
    yield server
    server.kill()


def test_random_and_mutated_requests_never_kill_a_worker(sluice):
    import random
    import socket as socket_module
    server = sluice(limits={"header_timeout_ms": 1000})
    workers_before = server.workers()
    rng = random.Random(20261121)
    seeds = [
        b"GET /prod/pets HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /prod/pets HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
        b"POST /prod/pets HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ]
    for round_number in range(400):
        seed = bytearray(rng.choice(seeds) * rng.randint(1, 3))
        for _ in range(rng.randint(1, 6)):
            action = rng.random()
            position = rng.randrange(len(seed))
            if action < 0.4:
                seed[position] = rng.randrange(256)
            elif action < 0.7:
                del seed[position:position + rng.randint(1, 8)]
            else:
                seed[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
            if not seed:
                seed = bytearray(b"\r\n")
        if round_number % 10 == 0:
            seed = bytearray(rng.randbytes(rng.randint(1, 3000)))
        try:
            with server.connect(timeout=3) as connection:
                # Split the bytes at random points to exercise the incremental paths.
                offset = 0
                while offset < len(seed):
                    step = rng.randint(1, 64)
                    connection.sendall(bytes(seed[offset:offset + step]))
                    offset += step
                connection.shutdown(socket_module.SHUT_WR)
                data = b""
                while True:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except (ConnectionResetError, BrokenPipeError, socket_module.timeout):
            pass
    assert server.workers() == workers_before
    response = parse_response(server.exchange(b"GET /prod/pets HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
    assert response.status == 200
