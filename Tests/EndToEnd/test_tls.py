"""HTTPS listeners end to end: the real binary with a plain and TLS listeners side by side, Python's
`ssl` and `openssl s_client` as clients, certificates made by `openssl` for each run."""

import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import warnings

import pytest

from conftest import BINARY, PETSTORE, Sluice, metric_samples, parse_response, read_responses, read_until_close
from test_proxy import Upstream

NAME = "gw.example.test"


def openssl(*arguments, cwd):
    subprocess.run(["openssl", *arguments], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A CA, a leaf it signed for NAME and 127.0.0.1 (ECDSA P-256), a self-signed RSA leaf, and a
    leaf that expires in 5 days."""
    directory = tmp_path_factory.mktemp("certificates")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "3650", "-subj", "/CN=Sluice test CA", cwd=directory)
    (directory / "leaf.ext").write_text(f"subjectAltName=DNS:{NAME},IP:127.0.0.1\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key",
            "-out", "leaf.csr", "-subj", f"/CN={NAME}", cwd=directory)
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "leaf.pem", "-days", "3650", "-extfile", "leaf.ext", cwd=directory)
    (directory / "chain.pem").write_text((directory / "leaf.pem").read_text() + (directory / "ca.pem").read_text())
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-out", "rsa.pem",
            "-days", "3650", "-subj", f"/CN={NAME}", "-addext", f"subjectAltName=DNS:{NAME}", cwd=directory)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "soon.key",
            "-out", "soon.pem", "-days", "5", "-subj", f"/CN={NAME}", cwd=directory)
    # Custom domains, each with a certificate from the CA.
    for stem, names in (("a", "DNS:a.example.test"), ("wild", "DNS:*.wild.example.test"),
                        ("secure", "DNS:secure.example.test")):
        signed(directory, stem, names, "ca")
    # Mutual TLS: a client CA, a client it signed, and a client of another CA.
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "client-ca.key",
            "-out", "client-ca.pem", "-days", "3650", "-subj", "/CN=Client CA", cwd=directory)
    signed(directory, "client", "DNS:client.example.test", "client-ca", subject="/O=Sluice tests/CN=client one")
    signed(directory, "stranger", "DNS:stranger.example.test", "ca", subject="/CN=stranger")
    return directory


def signed(directory, stem, names, authority, subject=None):
    (directory / f"{stem}.ext").write_text(f"subjectAltName={names}\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{stem}.key",
            "-out", f"{stem}.csr", "-subj", subject or f"/CN={names.split(':', 1)[1]}", cwd=directory)
    openssl("x509", "-req", "-in", f"{stem}.csr", "-CA", f"{authority}.pem", "-CAkey", f"{authority}.key",
            "-CAcreateserial", "-out", f"{stem}.pem", "-days", "3650", "-extfile", f"{stem}.ext", cwd=directory)


def tls_config(certificates, listeners, limits=None, workers=2, extra="", api="petstore.oas30.yaml"):
    """sluice.yaml with a plain listener first, then `listeners` (TLS settings as YAML flow text)."""
    lines = ['listen:', '  - "127.0.0.1:0"']
    for tls in listeners:
        lines += ['  - address: "127.0.0.1:0"', f"    tls: {tls}"]
    lines += ['admin: "127.0.0.1:0"', "workers:", f"  count: {workers}",
              "  defaults: {ring_entries: 256, recv_buffers: 256, recv_buffer_bytes: 4096, max_connections: 512}"]
    if limits:
        lines.append("limits:")
        lines += [f"  {key}: {value}" for key, value in limits.items()]
    lines += [extra, "apis:", "  - name: petstore", f"    definition: {api}", "    stages:", "      prod: {}"]
    return "\n".join(lines).replace("CERTS", str(certificates)) + "\n"


CHAIN = "{certificate: CERTS/chain.pem, key: CERTS/leaf.key}"


class Gateway:
    def __init__(self, server):
        self.server = server
        self.ports = {}
        for line in server.stderr_lines:
            if line.startswith("sluice: listener "):
                position, rest = line[len("sluice: listener "):].split(": ", 1)
                self.ports[int(position)] = int(rest.rsplit(":", 1)[1])

    def client_context(self, certificates, **settings):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(certificates / "ca.pem")
        for key, value in settings.items():
            setattr(context, key, value)
        return context

    def connect(self, context, listener=1, server_hostname=NAME, timeout=5):
        raw = socket.create_connection(("127.0.0.1", self.ports[listener]), timeout=timeout)
        return context.wrap_socket(raw, server_hostname=server_hostname)


def start(tmp_path, certificates, listeners=(CHAIN,), **options):
    directory = tmp_path / "gateway"
    server = Sluice(directory, config_text=tls_config(certificates, listeners, **options)).start()
    return Gateway(server)


GET = b"GET /prod/pets HTTP/1.1\r\nHost: gw.example.test\r\n\r\n"


def test_https_answers_beside_the_plain_listener_keep_alive_and_pipelined(tmp_path, certificates):
    gateway = start(tmp_path, certificates)
    assert sorted(gateway.ports) == [0, 1]
    context = gateway.client_context(certificates)
    context.set_alpn_protocols(["h2", "http/1.1"])
    with gateway.connect(context) as connection:
        assert connection.version() == "TLSv1.3"
        assert connection.selected_alpn_protocol() == "http/1.1"
        connection.sendall(GET)
        [first] = read_responses(connection, 1)
        assert first.status == 200 and first.body == b'[{"id":1,"type":"dog"}]'
        # Three pipelined requests in one write, then one more on the same connection.
        connection.sendall(GET * 3)
        responses = read_responses(connection, 3)
        assert [response.status for response in responses] == [200, 200, 200]
        connection.sendall(b"GET /prod/pets/7 HTTP/1.1\r\nHost: gw.example.test\r\nConnection: close\r\n\r\n")
        last = parse_response(read_until_close(connection))
        assert last.status == 200 and last.body == b'{"id":"pet"}'
        assert last.header("Connection") == "close"
    # The plain listener serves the same API.
    plain = parse_response(gateway.server.exchange(b"GET /prod/pets HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
    assert plain.status == 200 and plain.body == b'[{"id":1,"type":"dog"}]'


def test_large_answers_and_uploads_cross_tls_in_many_records(tmp_path, certificates):
    gateway = start(tmp_path, certificates)
    context = gateway.client_context(certificates)
    with gateway.connect(context) as connection:
        for _ in range(3):
            connection.sendall(b"GET /prod/big HTTP/1.1\r\nHost: gw.example.test\r\n\r\n")
            [response] = read_responses(connection, 1)
            assert response.status == 200 and response.body == b"x" * 100_000
        # A 3 MB upload that the MOCK answers once all of it has been read.
        body = bytes(range(256)) * (3 * 4096)
        connection.sendall(b"POST /prod/pets HTTP/1.1\r\nHost: gw.example.test\r\nContent-Type: application/json\r\n"
                           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body + GET)
        responses = read_responses(connection, 2)
        assert [response.status for response in responses] == [201, 200]
        assert responses[0].body == b'{"created":true}'


def test_a_client_that_reads_slowly_gets_every_byte(tmp_path, certificates):
    """Output backs up while the client does not read: reading pauses (ciphertext held), and
    resumes when the client drains the answers."""
    gateway = start(tmp_path, certificates)
    context = gateway.client_context(certificates)
    with gateway.connect(context, timeout=20) as connection:
        big = b"GET /prod/big HTTP/1.1\r\nHost: gw.example.test\r\n\r\n"
        connection.sendall(big * 40)
        time.sleep(0.5)
        responses = read_responses(connection, 40, timeout=20)
        assert len(responses) == 40
        assert all(response.body == b"x" * 100_000 for response in responses)


def test_concurrent_tls_clients_on_every_worker(tmp_path, certificates):
    gateway = start(tmp_path, certificates)
    context = gateway.client_context(certificates)
    failures = []

    def client():
        try:
            for _ in range(3):
                with gateway.connect(context) as connection:
                    connection.sendall(GET * 5)
                    responses = read_responses(connection, 5)
                    if [response.status for response in responses] != [200] * 5:
                        failures.append([response.status for response in responses])
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(repr(error))

    threads = [threading.Thread(target=client) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    metrics = gateway.server.metrics()
    full = sum(value for key, value in metrics.items()
               if key.startswith('sluice_worker_tls_handshakes_total{') and 'result="full"' in key)
    assert full == 120
    workers_used = [key for key, value in metrics.items()
                    if key.startswith('sluice_worker_tls_handshakes_total{') and 'result="full"' in key and value > 0]
    assert len(workers_used) == 2


def test_sessions_resume_on_every_worker(tmp_path, certificates):
    """Session tickets are made with keys every worker shares: a session begun on one worker
    resumes on the other, and each resumption gets a new ticket (TLS 1.3 tickets are used once)."""
    gateway = start(tmp_path, certificates)
    for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        context = gateway.client_context(certificates, minimum_version=version, maximum_version=version)
        session = None
        reused = []
        for _ in range(30):
            raw = socket.create_connection(("127.0.0.1", gateway.ports[1]), timeout=5)
            with context.wrap_socket(raw, server_hostname=NAME, session=session) as connection:
                connection.sendall(GET)
                read_responses(connection, 1)
                reused.append(connection.session_reused)
                session = connection.session
        assert reused == [False] + [True] * 29, (version, reused)
    metrics = gateway.server.metrics()
    resumed = {key: value for key, value in metrics.items()
               if key.startswith('sluice_worker_tls_handshakes_total{') and 'result="resumed"' in key}
    assert sum(resumed.values()) == 58
    # The kernel spreads connections over both workers' listeners: each resumed some.
    assert all(value > 0 for value in resumed.values()), resumed


def test_security_policies_and_alpn(tmp_path, certificates):
    gateway = start(tmp_path, certificates, listeners=(
        CHAIN,
        "{certificate: CERTS/chain.pem, key: CERTS/leaf.key, security_policy: SecurityPolicy_TLS13_1_3_2025_09}",
        "{certificate: CERTS/rsa.pem, key: CERTS/rsa.key, security_policy: TLS_1_0}",
    ))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        tls10 = ssl.TLSVersion.TLSv1

    def handshake(listener, version, ciphers=None, alpn=None, ca=True):
        context = gateway.client_context(certificates, minimum_version=version, maximum_version=version)
        if not ca:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if ciphers:
            context.set_ciphers(ciphers)
        if alpn:
            context.set_alpn_protocols(alpn)
        try:
            with gateway.connect(context, listener=listener) as connection:
                connection.sendall(GET)
                [response] = read_responses(connection, 1)
                return connection.version(), response.status
        except ssl.SSLError as error:
            return "refused", str(error).split("] ", 1)[-1].split(" (_ssl")[0]

    # TLS_1_2: 1.2 and 1.3, not 1.0.
    assert handshake(1, ssl.TLSVersion.TLSv1_2) == ("TLSv1.2", 200)
    assert handshake(1, ssl.TLSVersion.TLSv1_3) == ("TLSv1.3", 200)
    assert handshake(1, tls10, ciphers="DEFAULT:@SECLEVEL=0") == ("refused", "tlsv1 alert protocol version")
    # A cipher outside the policy (CBC with SHA-1 is TLS_1_0's only) is refused.
    assert handshake(1, ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-SHA")[0] == "refused"
    # The TLS 1.3 policy refuses 1.2.
    assert handshake(2, ssl.TLSVersion.TLSv1_3) == ("TLSv1.3", 200)
    assert handshake(2, ssl.TLSVersion.TLSv1_2)[0] == "refused"
    # TLS_1_0 with an RSA certificate: TLS 1.0 and its SHA-1 ciphers are served.
    assert handshake(3, tls10, ciphers="AES128-SHA:@SECLEVEL=0", ca=False) == ("TLSv1", 200)
    assert handshake(3, ssl.TLSVersion.TLSv1_3, ca=False) == ("TLSv1.3", 200)
    # ALPN: a client that speaks only h2 is refused; http/1.1 among others is chosen.
    assert handshake(1, ssl.TLSVersion.TLSv1_3, alpn=["h2"]) == ("refused", "tlsv1 alert no application protocol")
    assert handshake(1, ssl.TLSVersion.TLSv1_3, alpn=["h2", "http/1.1"]) == ("TLSv1.3", 200)
    text = gateway.server.admin_get("/metrics").body.decode()
    metrics = metric_samples(text)
    failed = sum(value for key, value in metrics.items()
                 if key.startswith('sluice_worker_tls_handshakes_total{') and 'result="failed"' in key)
    assert failed == 4

    def total(family, label):
        return sum(value for key, value in metrics.items() if key.startswith(family + "{") and label in key)

    # Six handshakes completed: TLS 1.0 once (with AES128-SHA), 1.2 once, 1.3 four times.
    assert total("sluice_worker_tls_versions_total", 'version="TLSv1"') == 1
    assert total("sluice_worker_tls_versions_total", 'version="TLSv1.2"') == 1
    assert total("sluice_worker_tls_versions_total", 'version="TLSv1.3"') == 4
    assert total("sluice_worker_tls_ciphers_total", 'cipher="AES128-SHA"') == 1
    assert total("sluice_worker_tls_ciphers_total", 'cipher="ECDHE-ECDSA-AES128-GCM-SHA256"') == 1
    assert total("sluice_worker_tls_ciphers_total", 'cipher="TLS_AES_256_GCM_SHA384"') == 4
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def raw_connection(gateway, listener=1, timeout=10):
    connection = socket.create_connection(("127.0.0.1", gateway.ports[listener]), timeout=timeout)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def closed_within(connection, seconds):
    """Reads until the server closes; returns (seconds it took, what it sent)."""
    started = time.time()
    connection.settimeout(seconds)
    data = read_until_close(connection)
    return time.time() - started, data


def still_serves(gateway, certificates):
    context = gateway.client_context(certificates)
    with gateway.connect(context) as connection:
        connection.sendall(GET)
        [response] = read_responses(connection, 1)
        return response.status == 200


def test_hostile_handshakes_are_closed_and_the_worker_serves_everyone_else(tmp_path, certificates):
    gateway = start(tmp_path, certificates, limits={"header_timeout_ms": 1000})
    # Plain HTTP on the TLS port: not a ClientHello; closed at once, with an alert at most.
    with raw_connection(gateway) as connection:
        connection.sendall(GET)
        took, data = closed_within(connection, 5)
        assert took < 1 and b"HTTP" not in data and len(data) < 64
    # Garbage that looks like a handshake record.
    with raw_connection(gateway) as connection:
        connection.sendall(b"\x16\x03\x01\x00\x10" + b"\xff" * 16)
        took, data = closed_within(connection, 5)
        assert took < 1 and len(data) < 64
    # A record longer than TLS allows.
    with raw_connection(gateway) as connection:
        connection.sendall(b"\x16\x03\x01\xff\xff" + b"\x00" * 1000)
        took, data = closed_within(connection, 5)
        assert took < 1 and len(data) < 64
    # A handshake that stalls (nothing sent, or half a ClientHello): closed by the header timeout.
    for partial in (b"", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):
        with raw_connection(gateway) as connection:
            connection.sendall(partial)
            took, data = closed_within(connection, 5)
            assert 0.5 < took < 3 and data == b""
    assert still_serves(gateway, certificates)
    metrics = gateway.server.metrics()
    failed = sum(value for key, value in metrics.items()
                 if key.startswith('sluice_worker_tls_handshakes_total{') and 'result="failed"' in key)
    assert failed == 5
    assert still_serves(gateway, certificates)


def test_a_refused_body_gets_its_413_over_tls(tmp_path, certificates):
    """The answer is decided before the body has arrived; what the client goes on sending is
    dropped, as on a plain connection, and the 413 arrives whole (no reset)."""
    gateway = start(tmp_path, certificates, limits={"request_body_bytes": 1024})
    context = gateway.client_context(certificates)
    with gateway.connect(context, timeout=10) as connection:
        body = b"z" * 200_000
        connection.sendall(b"POST /prod/pets HTTP/1.1\r\nHost: gw.example.test\r\n"
                           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        response = parse_response(read_until_close(connection))
    assert response.status == 413 and response.header("Connection") == "close"
    assert still_serves(gateway, certificates)


def test_a_client_that_sends_half_a_record_and_stops_is_closed(tmp_path, certificates):
    """Python's ssl cannot send half a record; `openssl s_client` completes the handshake, and the
    test then writes a record header promising more than it sends, on the same TCP stream."""
    gateway = start(tmp_path, certificates, limits={"header_timeout_ms": 1000, "idle_timeout_ms": 1500})
    context = gateway.client_context(certificates)
    raw = socket.create_connection(("127.0.0.1", gateway.ports[1]), timeout=10)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    session = context.wrap_bio(incoming, outgoing, server_hostname=NAME)
    while True:
        try:
            session.do_handshake()
            break
        except ssl.SSLWantReadError:
            if outgoing.pending:
                raw.sendall(outgoing.read())
            incoming.write(raw.recv(65536))
    if outgoing.pending:
        raw.sendall(outgoing.read())
    # An application-data record header for 100 bytes, then 10 of them.
    raw.sendall(b"\x17\x03\x03\x00\x64" + b"\x00" * 10)
    took, _ = closed_within(raw, 6)
    assert took < 3
    raw.close()
    assert still_serves(gateway, certificates)


def test_renegotiation_is_refused(tmp_path, certificates):
    gateway = start(tmp_path, certificates)
    # s_client reads "R" at the start of a line as "renegotiate" (its stdin must stay open a while:
    # at end of input it closes).
    client = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{gateway.ports[1]}", "-tls1_2", "-servername", NAME,
         "-CAfile", str(certificates / "ca.pem")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    client.stdin.write(b"R\n")
    client.stdin.flush()
    time.sleep(1)
    client.stdin.close()
    output = client.stdout.read()
    client.wait(20)
    assert b"RENEGOTIATING" in output
    # The server refuses with a no_renegotiation alert; the second handshake never happens.
    assert b"no renegotiation" in output, output[-500:]
    assert still_serves(gateway, certificates)


def test_https_to_http_proxy_says_https_to_the_upstream(tmp_path, certificates):
    upstream = Upstream("echo")
    try:
        api = PETSTORE + f"""\
  /proxied:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:{upstream.port}/echo"
"""
        directory = tmp_path / "gateway"
        directory.mkdir()
        (directory / "api.yaml").write_text(api)
        server = Sluice(directory, config_text=tls_config(certificates, [CHAIN], api="api.yaml")).start()
        gateway = Gateway(server)
        context = gateway.client_context(certificates)
        with gateway.connect(context) as connection:
            connection.sendall(b"GET /prod/proxied HTTP/1.1\r\nHost: gw.example.test\r\nX-Forwarded-Proto: ftp\r\n\r\n")
            [response] = read_responses(connection, 1)
        echoed = json.loads(response.body)
        headers = {name.lower(): value for name, value in echoed["headers"]}
        assert headers["x-forwarded-proto"] == "https"
        assert headers["x-forwarded-port"] == str(gateway.ports[1])
        plain = parse_response(server.exchange(b"GET /prod/proxied HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
        headers = {name.lower(): value for name, value in json.loads(plain.body)["headers"]}
        assert headers["x-forwarded-proto"] == "http"
        assert headers["x-forwarded-port"] == str(gateway.ports[0])
    finally:
        upstream.stop()


def check(directory, config_text):
    path = directory / "sluice.yaml"
    path.write_text(config_text)
    (directory / "petstore.oas30.yaml").write_text(PETSTORE)
    result = subprocess.run([BINARY, "check", "-c", str(path)], capture_output=True, text=True, timeout=30)
    return result.returncode, result.stdout


def test_check_reads_and_verifies_every_certificate(tmp_path, certificates):
    # The TLS entry's `tls:` line is line 4; its certificate is named on it.
    status, output = check(tmp_path, tls_config(certificates, ["{certificate: CERTS/missing.pem, key: CERTS/leaf.key}"]))
    assert status == 1
    assert f"sluice.yaml:4: error: cannot read the certificate {certificates}/missing.pem" in output, output
    status, output = check(tmp_path, tls_config(certificates, ["{certificate: CERTS/chain.pem, key: CERTS/rsa.key}"]))
    assert status == 1
    assert "sluice.yaml:4: error: certificate" in output and "the private key does not match the certificate" in output
    status, output = check(tmp_path, tls_config(certificates, ["{certificate: CERTS/leaf.csr, key: CERTS/leaf.key}"]))
    assert status == 1 and "no PEM certificate could be read" in output, output
    status, output = check(tmp_path, tls_config(certificates, ["{certificate: CERTS/soon.pem, key: CERTS/soon.key}"]))
    assert status == 0
    assert f"sluice.yaml:4: warning: certificate {certificates}/soon.pem expires in 4 day(s)" in output, output
    status, output = check(tmp_path, tls_config(certificates, ["{certificate: CERTS/chain.pem, key: CERTS/leaf.key, "
                                                               "security_policy: TLS_1_1}"]))
    assert status == 1 and "is not one of TLS_1_0, TLS_1_2, SecurityPolicy_TLS13_1_3_2025_09" in output, output


DOMAINS = """\
domains:
  - {name: a.example.test, certificate: CERTS/a.pem, key: CERTS/a.key}
  - name: "*.wild.example.test"
    certificate: CERTS/wild.pem
    key: CERTS/wild.key
    security_policy: SecurityPolicy_TLS13_1_3_2025_09
  - name: Secure.Example.Test
    certificate: CERTS/secure.pem
    key: CERTS/secure.key
    mutual_tls: {truststore: CERTS/client-ca.pem}
"""


def start_with_domains(tmp_path, certificates):
    """Listener 1 has a default certificate (NAME); listener 2 serves only the domains. The API
    `secure` is mapped to the mTLS domain; petstore is in the default space."""
    directory = tmp_path / "gateway"
    config = tls_config(certificates, [CHAIN, "{}"], extra=DOMAINS.replace("CERTS", str(certificates)))
    log = tmp_path / "secure.log"
    config += ("  - name: secure\n    definition: petstore.oas30.yaml\n    host: secure.example.test\n"
               "    stages:\n      prod:\n        access_log:\n"
               f"          path: {log}\n"
               "          format: '{\"subject\":\"$context.identity.clientCert.subjectDN\","
               "\"issuer\":\"$context.identity.clientCert.issuerDN\","
               "\"serial\":\"$context.identity.clientCert.serialNumber\","
               "\"notBefore\":\"$context.identity.clientCert.validity.notBefore\","
               "\"notAfter\":\"$context.identity.clientCert.validity.notAfter\","
               "\"pem\":\"$context.identity.clientCert.clientCertPem\","
               "\"tls\":\"$context.tlsVersion $context.tlsCipher\"}'\n")
    gateway = Gateway(Sluice(directory, config_text=config).start())
    gateway.log = log
    return gateway


def fetch(gateway, context, server_hostname, host=None, listener=1, path="/prod/pets", session=None):
    """(status, certificate subject CN, session) of one request, or ("refused", reason, None)."""
    raw = socket.create_connection(("127.0.0.1", gateway.ports[listener]), timeout=5)
    try:
        with context.wrap_socket(raw, server_hostname=server_hostname, session=session) as connection:
            connection.sendall(f"GET {path} HTTP/1.1\r\nHost: {host or server_hostname}\r\n\r\n".encode())
            [response] = read_responses(connection, 1)
            subject = dict(field[0] for field in connection.getpeercert()["subject"]) if context.verify_mode else {}
            return response.status, subject.get("commonName"), connection.session, connection.session_reused
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as error:
        return "refused", str(error), None, False


def test_sni_selects_each_domains_certificate_and_policy(tmp_path, certificates):
    gateway = start_with_domains(tmp_path, certificates)
    context = gateway.client_context(certificates)
    assert fetch(gateway, context, "a.example.test")[:2] == (200, "a.example.test")
    assert fetch(gateway, context, "A.Example.Test")[:2] == (200, "a.example.test")
    assert fetch(gateway, context, "x.wild.example.test")[:2] == (200, "*.wild.example.test")
    # The wildcard covers one label only; an unknown name gets the listener's default certificate.
    loose = gateway.client_context(certificates, check_hostname=False)
    assert fetch(gateway, loose, "a.b.wild.example.test")[:2] == (200, NAME)
    assert fetch(gateway, loose, "unknown.example.test")[:2] == (200, NAME)
    # The wildcard domain's policy is TLS 1.3 only; the default certificate's takes TLS 1.2.
    tls12 = gateway.client_context(certificates, maximum_version=ssl.TLSVersion.TLSv1_2)
    assert fetch(gateway, tls12, "x.wild.example.test")[0] == "refused"
    assert fetch(gateway, tls12, NAME)[:2] == (200, NAME)
    # Listener 2 has no certificate of its own: unknown names and no name are refused.
    assert fetch(gateway, context, "a.example.test", listener=2)[:2] == (200, "a.example.test")
    status, reason, _, _ = fetch(gateway, loose, "unknown.example.test", listener=2)
    assert status == "refused" and "unrecognized name" in reason, reason
    nameless = gateway.client_context(certificates, check_hostname=False)
    raw = socket.create_connection(("127.0.0.1", gateway.ports[2]), timeout=5)
    with pytest.raises(ssl.SSLError, match="unrecognized name"):
        nameless.wrap_socket(raw)


def test_mutual_tls_accepts_the_trusted_client_and_refuses_others(tmp_path, certificates):
    gateway = start_with_domains(tmp_path, certificates)
    anonymous = gateway.client_context(certificates)
    status, reason, _, _ = fetch(gateway, anonymous, "secure.example.test")
    assert status == "refused" and "certificate required" in reason, reason
    stranger = gateway.client_context(certificates)
    stranger.load_cert_chain(certificates / "stranger.pem", certificates / "stranger.key")
    status, reason, _, _ = fetch(gateway, stranger, "secure.example.test")
    assert status == "refused" and "unknown ca" in reason, reason
    client = gateway.client_context(certificates)
    client.load_cert_chain(certificates / "client.pem", certificates / "client.key")
    status, subject, session, _ = fetch(gateway, client, "secure.example.test")
    assert (status, subject) == (200, "secure.example.test")
    # The verified certificate, in $context.identity.clientCert (here, the access log).
    deadline = time.time() + 5
    while time.time() < deadline and not gateway.log.exists():
        time.sleep(0.05)
    time.sleep(0.2)
    [line] = [json.loads(text) for text in gateway.log.read_text().splitlines()]
    certificate = ssl.PEM_cert_to_DER_cert((certificates / "client.pem").read_text())
    details = subprocess.run(["openssl", "x509", "-in", str(certificates / "client.pem"), "-noout", "-serial",
                              "-startdate", "-enddate"], capture_output=True, text=True, check=True).stdout
    fields = dict(line_.split("=", 1) for line_ in details.splitlines())
    assert line["subject"] == "CN=client one,O=Sluice tests"
    assert line["issuer"] == "CN=Client CA"
    assert line["serial"] == ":".join(fields["serial"][i:i + 2] for i in range(0, len(fields["serial"]), 2)).lower()
    assert line["notBefore"] == fields["notBefore"] and line["notAfter"] == fields["notAfter"]
    assert ssl.PEM_cert_to_DER_cert(line["pem"]) == certificate
    assert line["tls"].startswith("TLSv1.3 TLS_")
    # The session resumes on the same domain (the client certificate stays with it)...
    assert fetch(gateway, client, "secure.example.test", session=session)[::3] == (200, True)
    # ...but a session of another domain never resumes here: a full handshake checks the certificate.
    _, _, other, _ = fetch(gateway, client, "a.example.test")
    assert fetch(gateway, client, "secure.example.test", session=other)[::3] == (200, False)
    metrics = gateway.server.metrics()
    failed = sum(value for key, value in metrics.items()
                 if key.startswith('sluice_worker_tls_handshakes_total{') and 'result="failed"' in key)
    assert failed == 2


def test_a_host_of_another_domain_than_the_handshakes_is_misdirected(tmp_path, certificates):
    gateway = start_with_domains(tmp_path, certificates)
    context = gateway.client_context(certificates)
    # The mTLS domain's API, asked for over a handshake that checked no client certificate.
    assert fetch(gateway, context, "a.example.test", host="secure.example.test")[0] == 421
    loose = gateway.client_context(certificates, check_hostname=False)
    assert fetch(gateway, loose, "unknown.example.test", host="secure.example.test:8443")[0] == 421
    # Over plain HTTP, a domain that requires mutual TLS is misdirected; the others are served.
    plain = parse_response(gateway.server.exchange(
        b"GET /prod/pets HTTP/1.1\r\nHost: secure.example.test\r\n\r\n"))
    assert plain.status == 421 and plain.body == b'{"message":"Misdirected Request"}'
    assert plain.header("Connection") == "close"
    plain = parse_response(gateway.server.exchange(
        b"GET /prod/pets HTTP/1.1\r\nHost: a.example.test\r\nConnection: close\r\n\r\n"))
    assert plain.status == 200
    # A Host that names no domain is routed as always, whatever the handshake.
    assert fetch(gateway, context, "a.example.test", host="elsewhere.test")[0] == 200
    client = gateway.client_context(certificates)
    client.load_cert_chain(certificates / "client.pem", certificates / "client.key")
    assert fetch(gateway, client, "secure.example.test", host="a.example.test")[0] == 421
    assert fetch(gateway, client, "secure.example.test", host="SECURE.example.test")[0] == 200


def TLSUpstream(kind, certificates, stem):
    """upstream.py over TLS, with the certificate `stem`.pem of the certificates fixture."""
    return Upstream(kind, "--tls", str(certificates / f"{stem}.pem"), str(certificates / f"{stem}.key"))


@pytest.fixture
def upstream_certificates(certificates):
    """Upstream certificates from the CA: for upstream.example.test and 127.0.0.1, for another
    name, and one already expired; and a self-signed one."""
    directory = certificates
    if not (directory / "up-good.pem").exists():
        signed(directory, "up-good", "DNS:upstream.example.test,IP:127.0.0.1", "ca")
        signed(directory, "up-other", "DNS:other.example.test", "ca")
        (directory / "up-expired.ext").write_text("subjectAltName=DNS:upstream.example.test\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "up-expired.key",
                "-out", "up-expired.csr", "-subj", "/CN=upstream.example.test", cwd=directory)
        openssl("x509", "-req", "-in", "up-expired.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "up-expired.pem", "-days", "0", "-extfile", "up-expired.ext", cwd=directory)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                "up-self.key", "-out", "up-self.pem", "-days", "3650", "-subj", "/CN=upstream.example.test",
                "-addext", "subjectAltName=DNS:upstream.example.test", cwd=directory)
        time.sleep(1.1)  # up-expired's notAfter is its notBefore: past, a second later
    return directory


def test_https_integrations_verify_the_upstream_and_refuse_what_does_not_verify(tmp_path, upstream_certificates):
    certificates = upstream_certificates
    upstreams = {stem: TLSUpstream("echo", certificates, stem) for stem in ("up-good", "up-other", "up-expired", "up-self")}
    try:
        def route(path, stem, host="upstream.example.test", tls_config=""):
            return f"""\
  /{path}/{{proxy+}}:
    x-amazon-apigateway-any-method:
      parameters: [{{name: proxy, in: path, required: true}}]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: "https://{host}:{upstreams[stem].port}/{path}/{{proxy}}"
        requestParameters: {{"integration.request.path.proxy": "method.request.path.proxy"}}
{tls_config}"""
        api = PETSTORE + route("good", "up-good") + route("byip", "up-good", host="127.0.0.1") \
            + route("wrongname", "up-other") \
            + route("named", "up-other", tls_config="        tlsConfig: {serverNameToVerify: other.example.test}\n") \
            + route("expired", "up-expired") + route("selfsigned", "up-self") \
            + route("skip", "up-self", tls_config="        tlsConfig: {insecureSkipVerification: true}\n")
        directory = tmp_path / "gateway"
        directory.mkdir()
        (directory / "api.yaml").write_text(api)
        extra = (f"upstreams:\n  tls: {{ca_file: {certificates}/ca.pem}}\n"
                 "  resolve: {upstream.example.test: 127.0.0.1}\n")
        server = Sluice(directory, config_text=tls_config(certificates, [CHAIN], api="api.yaml", extra=extra)).start()

        def get(path, body=b""):
            method = "POST" if body else "GET"
            raw = (f"{method} /prod/{path} HTTP/1.1\r\nHost: gw.example.test\r\nContent-Length: {len(body)}\r\n"
                   "Connection: close\r\n\r\n").encode() + body
            return parse_response(server.exchange(raw, timeout=10))

        for _ in range(3):
            response = get("good/a/b?x=1", b"y" * 100_000)
            assert response.status == 200, response.raw_head
            echoed = json.loads(response.body)
            assert echoed["target"] == "/good/a/b?x=1" and echoed["method"] == "POST"
            assert echoed["body_length"] == 100_000
            headers = {name.lower(): value for name, value in echoed["headers"]}
            assert headers["host"] == f"upstream.example.test:{upstreams['up-good'].port}"
        assert get("byip/c").status == 200
        assert get("named/c").status == 200
        assert get("skip/c").status == 200
        for path, reason in (("wrongname/c", "hostname mismatch"), ("expired/c", "certificate has expired"),
                             ("selfsigned/c", "self-signed certificate")):
            response = get(path)
            assert response.status == 502 and response.body == b'{"message": "Internal server error"}', response.raw_head
            deadline = time.time() + 5
            while time.time() < deadline and not any(reason in line for line in server.stderr_lines):
                time.sleep(0.05)
            assert any("TLS failed" in line and reason in line for line in server.stderr_lines), \
                (reason, server.stderr_lines[-5:])
    finally:
        for upstream in upstreams.values():
            upstream.stop()


FUNCTION_URI = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                "arn:aws:lambda:us-east-1:123456789012:function:echo/invocations")


def test_lambda_events_carry_the_client_certificate_from_an_https_emulator(tmp_path, upstream_certificates):
    """An mTLS domain's AWS_PROXY routes, to a Lambda emulator reached over https: both event
    formats carry the verified client certificate where API Gateway puts it."""
    certificates = upstream_certificates
    emulator = TLSUpstream("lambda", certificates, "up-good")
    try:
        api = f"""\
openapi: "3.0.1"
info: {{title: fn, version: "1"}}
paths:
  /one:
    get:
      x-amazon-apigateway-integration: {{type: aws_proxy, httpMethod: POST, uri: "{FUNCTION_URI}"}}
  /two:
    get:
      x-amazon-apigateway-integration:
        {{type: aws_proxy, httpMethod: POST, payloadFormatVersion: "2.0", uri: "{FUNCTION_URI}"}}
"""
        directory = tmp_path / "gateway"
        directory.mkdir()
        (directory / "fn.yaml").write_text(api)
        extra = (DOMAINS.replace("CERTS", str(certificates))
                 + f"upstreams:\n  tls: {{ca_file: {certificates}/ca.pem}}\n"
                 + "  resolve: {upstream.example.test: 127.0.0.1}\n"
                 + f'lambda_functions:\n  echo: "https://upstream.example.test:{emulator.port}"\n')
        config = tls_config(certificates, [CHAIN], extra=extra)
        config += ("  - name: fn\n    definition: fn.yaml\n    host: secure.example.test\n"
                   "    stages:\n      prod: {}\n")
        gateway = Gateway(Sluice(directory, config_text=config).start())
        client = gateway.client_context(certificates)
        client.load_cert_chain(certificates / "client.pem", certificates / "client.key")
        raw = socket.create_connection(("127.0.0.1", gateway.ports[1]), timeout=10)
        with client.wrap_socket(raw, server_hostname="secure.example.test") as connection:
            connection.sendall(b"GET /prod/one HTTP/1.1\r\nHost: secure.example.test\r\n\r\n"
                               b"GET /prod/two HTTP/1.1\r\nHost: secure.example.test\r\n\r\n")
            one, two = read_responses(connection, 2)
        assert one.status == 200 and two.status == 200, (one.raw_head, two.raw_head)
        first = json.loads(one.body)["event"] if "event" in json.loads(one.body) else json.loads(one.body)
        second = json.loads(two.body)["event"] if "event" in json.loads(two.body) else json.loads(two.body)
        pem = (certificates / "client.pem").read_text()
        for certificate in (first["requestContext"]["identity"]["clientCert"],
                            second["requestContext"]["authentication"]["clientCert"]):
            assert certificate["subjectDN"] == "CN=client one,O=Sluice tests"
            assert certificate["issuerDN"] == "CN=Client CA"
            assert ssl.PEM_cert_to_DER_cert(certificate["clientCertPem"]) == ssl.PEM_cert_to_DER_cert(pem)
            assert set(certificate["validity"]) == {"notBefore", "notAfter"}
            assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2})*", certificate["serialNumber"])
        # The emulator goes away: its pooled TLS connection closes and is released (an upstream
        # slot, which has no client certificate to forget), and the worker goes on serving.
        emulator.stop()
        time.sleep(0.5)
        plain = parse_response(gateway.server.exchange(
            b"GET /prod/pets HTTP/1.1\r\nHost: gw.example.test\r\nConnection: close\r\n\r\n"))
        assert plain.status == 200
        restarts = {key: value for key, value in gateway.server.metrics().items()
                    if key.startswith("sluice_worker_restarts_total")}
        assert restarts and all(value == 0 for value in restarts.values()), restarts
    finally:
        emulator.stop()
