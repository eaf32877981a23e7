"""Authorizers end to end: IAM (SigV4, signed by botocore), JWT authorizers of HTTP APIs and
Cognito user pool authorizers of REST APIs (tokens minted by PyJWT, keys served by a local JWKS
endpoint or a file), against the real binary."""

import datetime
import http.server
import json
import threading
import time
from unittest import mock

import botocore.auth
import jwt
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from conftest import SHARED, Sluice, metric_samples, parse_response
from test_proxy import upstreams  # noqa: F401 (fixture)

ISSUER = "https://issuer.example/pool"
POOL_ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
NEXT_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CREDENTIALS = Credentials("AKIDALICE", "alice-secret/key+1")


def jwk(key, kid):
    public = key.public_key()
    text = RSAAlgorithm.to_jwk(public) if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm.to_jwk(public)
    return {**json.loads(text), "kid": kid, "use": "sig"}


def token(key=RSA_KEY, kid="rsa", alg="RS256", issuer=ISSUER, audience="client-a", lifetime=3600, **claims):
    now = int(time.time())
    body = {"iss": issuer, "aud": audience, "exp": now + lifetime, "iat": now - 5, "sub": "user-7",
            "scope": "read", **claims}
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


class KeyServer:
    """A JWKS endpoint whose keys a test can change."""

    def __init__(self, keys):
        self.keys = keys
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *arguments):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


API = """\
openapi: "3.0.1"
info: {{title: auth, version: "1"}}
components:
  securitySchemes:
    sigv4: {{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}}
    jwt-auth:
      type: oauth2
      x-amazon-apigateway-authorizer:
        type: jwt
        identitySource: "$request.header.Authorization"
        jwtConfiguration: {{issuer: "{issuer}", audience: [client-a]}}
    pool:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: cognito_user_pools
      x-amazon-apigateway-authorizer:
        type: cognito_user_pools
        providerARNs: ["arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Test"]
    lambda-auth:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations"
paths:
  /iam:
    x-amazon-apigateway-any-method:
      security: [{{sigv4: []}}]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: "http://127.0.0.1:{port}/iam"
        requestParameters:
          integration.request.header.X-User-Arn: context.identity.userArn
          integration.request.header.X-Caller: context.identity.caller
  /jwt:
    get:
      security: [{{jwt-auth: []}}]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:{port}/jwt"
        requestParameters:
          integration.request.header.X-Sub: context.authorizer.claims.sub
          integration.request.header.X-Email: context.authorizer.claims.email
  /scoped:
    get:
      security: [{{jwt-auth: [admin, write]}}]
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{"application/json": '{{"statusCode": 200}}'}}
        responses: {{default: {{statusCode: "200", responseTemplates: {{"application/json": '{{"scoped":true}}'}}}}}}
  /pool:
    get:
      security: [{{pool: []}}]
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{"application/json": '{{"statusCode": 200}}'}}
        responses: {{default: {{statusCode: "200", responseTemplates: {{"application/json": '{{"pool":true}}'}}}}}}
  /custom:
    get:
      security: [{{lambda-auth: []}}]
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{"application/json": '{{"statusCode": 200}}'}}
        responses: {{default: {{statusCode: "200"}}}}
"""


def start(tmp_path, upstream_port, jwks, pool_jwks=None, extra="", workers=2, access_log=False):
    directory = tmp_path / "gateway"
    directory.mkdir(exist_ok=True)
    (directory / "api.yaml").write_text(API.format(issuer=ISSUER, port=upstream_port))
    (directory / "alice.secret").write_text(CREDENTIALS.secret_key + "\n")
    pool_file = directory / "pool.json"
    pool_file.write_text(json.dumps({"keys": pool_jwks or [jwk(RSA_KEY, "rsa")]}))
    log = ""
    if access_log:
        format_text = ("$context.authorize.status $context.authorize.error $context.authorizer.claims.sub "
                       "$context.identity.userArn $context.status")
        log = f"        access_log: {{path: '{directory / 'access.log'}', format: '{format_text}'}}\n"
    config = f"""\
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
workers:
  count: {workers}
  defaults: {{ring_entries: 256, recv_buffers: 256, recv_buffer_bytes: 16384, max_connections: 256}}
jwt_issuers:
  - {{issuer: "{ISSUER}", jwks: "{jwks}"}}
  - {{issuer: "{POOL_ISSUER}", jwks: pool.json}}
iam:
  credentials:
    - name: alice
      access_key_id: AKIDALICE
      secret_access_key_file: alice.secret
      user_arn: arn:aws:iam::123456789012:user/alice
{extra}apis:
  - name: auth
    definition: api.yaml
    stages:
      prod:
{log}"""
    return Sluice(directory, config_text=config).start()


@pytest.fixture
def keys():
    server = KeyServer([jwk(RSA_KEY, "rsa"), jwk(EC_KEY, "ec")])
    yield server
    server.stop()


@pytest.fixture
def gateway(tmp_path, upstreams, keys):  # noqa: F811
    echo = upstreams("echo")
    return start(tmp_path, echo.port, f"http://127.0.0.1:{keys.port}/.well-known/jwks.json", access_log=True)


def send(server, method, target, headers=(), body=b""):
    raw = f"{method} {target} HTTP/1.1\r\nHost: gateway.test\r\n"
    for name, value in headers:
        raw += f"{name}: {value}\r\n"
    if body or method in ("POST", "PUT"):
        raw += f"Content-Length: {len(body)}\r\n"
    raw += "Connection: close\r\n\r\n"
    return parse_response(server.exchange(raw.encode() + body, timeout=10))


def signed(server, method, target, body=b"", credentials=CREDENTIALS, when=None, extra_headers=()):
    url = f"http://gateway.test{target}"
    request = AWSRequest(method=method, url=url, data=body, headers=dict(extra_headers))
    if when is None:
        SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    else:
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
            SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    return [(name, value) for name, value in request.headers.items() if name.lower() != "host"]


def bearer(value):
    return [("Authorization", f"Bearer {value}")]


# IAM ------------------------------------------------------------------------------------------

def test_iam_requests_signed_by_botocore_pass_with_the_callers_identity(gateway):
    response = send(gateway, "GET", "/prod/iam?b=2&a=1&sp=a%20b", signed(gateway, "GET", "/prod/iam?b=2&a=1&sp=a%20b"))
    assert response.status == 200, response.body
    echoed = {name.lower(): value for name, value in response.json()["headers"]}
    assert echoed["x-user-arn"] == "arn:aws:iam::123456789012:user/alice"
    assert echoed["x-caller"] == "alice"
    body = json.dumps({"order": 7}).encode()
    response = send(gateway, "POST", "/prod/iam", signed(gateway, "POST", "/prod/iam", body), body)
    assert response.status == 200, response.body
    assert response.json()["body_length"] == len(body)


def test_iam_refuses_unsigned_tampered_unknown_and_stale_requests(gateway):
    missing = send(gateway, "GET", "/prod/iam")
    assert missing.status == 403 and missing.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    assert missing.json() == {"message": "Missing Authentication Token"}
    headers = signed(gateway, "GET", "/prod/iam?a=1")
    tampered = send(gateway, "GET", "/prod/iam?a=2", headers)
    assert tampered.status == 403 and tampered.header("x-amzn-ErrorType") == "InvalidSignatureException"
    assert tampered.json()["message"].startswith("The request signature we calculated does not match")
    body_headers = signed(gateway, "POST", "/prod/iam", b"amount=1")
    assert send(gateway, "POST", "/prod/iam", body_headers, b"amount=9").status == 403
    stranger = signed(gateway, "GET", "/prod/iam", credentials=Credentials("AKIDMALLORY", "x"))
    refused = send(gateway, "GET", "/prod/iam", stranger)
    assert refused.status == 403 and refused.header("x-amzn-ErrorType") == "UnrecognizedClientException"
    stale = signed(gateway, "GET", "/prod/iam", when=datetime.datetime.utcnow() - datetime.timedelta(minutes=6))
    expired = send(gateway, "GET", "/prod/iam", stale)
    assert expired.status == 403 and expired.header("x-amzn-ErrorType") == "InvalidSignatureException"
    assert expired.json()["message"].startswith("Signature expired")
    session = signed(gateway, "GET", "/prod/iam", credentials=Credentials("AKIDALICE", CREDENTIALS.secret_key, "token"))
    assert send(gateway, "GET", "/prod/iam", session).header("x-amzn-ErrorType") == "UnrecognizedClientException"
    incomplete = send(gateway, "GET", "/prod/iam", [("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDALICE")])
    assert incomplete.status == 403 and incomplete.header("x-amzn-ErrorType") == "IncompleteSignatureException"
    samples = gateway.metrics()
    assert samples['sluice_rejected_requests_total{api="auth",stage="prod",plan="",reason="auth"}'] >= 7


def test_iam_body_that_arrives_after_the_head_and_after_100_continue(gateway):
    body = b"x" * 9000
    headers = signed(gateway, "PUT", "/prod/iam", body)
    raw = "PUT /prod/iam HTTP/1.1\r\nHost: gateway.test\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    raw += f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    with gateway.connect() as connection:
        connection.sendall(raw.encode())
        interim = connection.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        for offset in range(0, len(body), 1000):
            connection.sendall(body[offset:offset + 1000])
            time.sleep(0.01)
        data = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
    response = parse_response(data)
    assert response.status == 200, response.body
    assert response.json()["body_length"] == len(body)
    assert data.count(b"100 Continue") == 0


def test_iam_bodies_beyond_what_the_gateway_holds_and_chunked_bodies_are_refused(gateway):
    # Beyond the connection's carry slot, the body is held in a body buffer and signed whole.
    big = b"y" * 40_000
    response = send(gateway, "POST", "/prod/iam", signed(gateway, "POST", "/prod/iam", big), big)
    assert response.status == 200, response.raw_head
    # Beyond limits.buffered_body_bytes (1 MiB): 413.
    huge = b"y" * ((1 << 20) + 1)
    response = send(gateway, "POST", "/prod/iam", signed(gateway, "POST", "/prod/iam", huge), huge)
    assert response.status == 413
    raw = ("POST /prod/iam HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           "3\r\nabc\r\n0\r\n\r\n")
    assert parse_response(gateway.exchange(raw.encode())).status == 411


def test_the_shared_iam_example_is_enforced(tmp_path):
    directory = tmp_path / "example"
    directory.mkdir()
    (directory / "api.json").write_text((SHARED / "examples" / "aws" / "api-gateway-swagger-extensions-auth.1.oas30.json").read_text())
    (directory / "alice.secret").write_text(CREDENTIALS.secret_key)
    config = ('listen: "127.0.0.1:0"\nadmin: "127.0.0.1:0"\nworkers: {count: 1}\n'
              "iam:\n  credentials:\n    - {name: alice, access_key_id: AKIDALICE, secret_access_key_file: alice.secret}\n"
              "apis:\n  - name: example\n    definition: api.json\n    stages: {prod: {}}\n")
    server = Sluice(directory, config_text=config).start()
    assert send(server, "GET", "/prod/protected-by-iam").status == 403
    # Signed, it passes authorization and meets the method's missing integration (500).
    assert send(server, "GET", "/prod/protected-by-iam", signed(server, "GET", "/prod/protected-by-iam")).status == 500


# JWT authorizers (HTTP APIs) ---------------------------------------------------------------------

def test_valid_tokens_pass_with_their_claims_mapped(gateway):
    for value in (token(), token(key=EC_KEY, kid="ec", alg="ES256", email="e@example.com")):
        response = send(gateway, "GET", "/prod/jwt", bearer(value))
        assert response.status == 200, response.raw_head
        echoed = {name.lower(): value for name, value in response.json()["headers"]}
        assert echoed["x-sub"] == "user-7"
    assert echoed["x-email"] == "e@example.com"
    # A token is checked again on each request, from the worker's verified tokens.
    value = token()
    for _ in range(20):
        assert send(gateway, "GET", "/prod/jwt", bearer(value)).status == 200


@pytest.mark.parametrize("name,value,description", [
    ("expired", lambda: token(lifetime=-10), "the token has expired"),
    ("future nbf", lambda: token(nbf=int(time.time()) + 600), "the token is not valid yet"),
    ("wrong aud", lambda: token(audience="client-z"), "the token does not have a valid audience"),
    ("wrong iss", lambda: token(issuer=ISSUER + "x"), "the token has an invalid issuer"),
    ("unknown kid", lambda: token(kid="nobody"), "the token's signature is invalid"),
    ("alg none", lambda: jwt.encode({"iss": ISSUER, "aud": "client-a", "exp": int(time.time()) + 60}, None,
                                    algorithm="none", headers={"kid": "rsa"}), "the token's signature is invalid"),
    ("tampered", lambda: tampered(token()), "the token's signature is invalid"),
    ("hs256 with the public key", lambda: hs256_with_public_key(), "the token's signature is invalid"),
    ("garbage", lambda: "not.a.token", "the token is malformed"),
])
def test_bad_tokens_are_401_with_the_reason(gateway, name, value, description):
    response = send(gateway, "GET", "/prod/jwt", bearer(value()))
    assert response.status == 401, name
    assert response.json() == {"message": "Unauthorized"}
    assert response.header("www-authenticate") == \
        f'Bearer error="invalid_token" error_description="{description}"', name


def tampered(value):
    header, payload, signature = value.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["sub"] = "admin"
    return ".".join([header, jwt.utils.base64url_encode(json.dumps(claims).encode()).decode(), signature])


def hs256_with_public_key():
    import base64
    import hashlib
    import hmac
    pem = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing = b64(b'{"alg":"HS256","kid":"rsa"}') + "." + b64(json.dumps(
        {"iss": ISSUER, "aud": "client-a", "exp": int(time.time()) + 60}).encode())
    return signing + "." + b64(hmac.new(pem, signing.encode(), hashlib.sha256).digest())


def test_missing_tokens_and_scopes(gateway):
    missing = send(gateway, "GET", "/prod/jwt")
    assert missing.status == 401 and missing.header("www-authenticate") == "Bearer"
    assert send(gateway, "GET", "/prod/scoped", bearer(token(scope="read"))).status == 403
    forbidden = send(gateway, "GET", "/prod/scoped", bearer(token(scope="read")))
    assert forbidden.json() == {"message": "Forbidden"}
    assert 'error="insufficient_scope"' in forbidden.header("www-authenticate")
    assert send(gateway, "GET", "/prod/scoped", bearer(token(scope="read write"))).status == 200
    assert send(gateway, "GET", "/prod/scoped", bearer(token(scope=None, scp=["admin"]))).status == 200


def test_new_keys_are_fetched_when_a_token_names_one(gateway, keys):
    fresh = token(key=NEXT_KEY, kid="next")
    assert send(gateway, "GET", "/prod/jwt", bearer(fresh)).status == 401
    keys.keys = keys.keys + [jwk(NEXT_KEY, "next")]
    # The coordinator fetches again when asked, at most every 10 s.
    deadline = time.time() + 20
    status = 401
    while time.time() < deadline and status != 200:
        time.sleep(0.5)
        status = send(gateway, "GET", "/prod/jwt", bearer(fresh)).status
    assert status == 200


# Cognito user pool authorizers (REST APIs) --------------------------------------------------------

def test_user_pool_tokens_raw_or_bearer(gateway):
    value = token(issuer=POOL_ISSUER, audience="any-client")
    assert send(gateway, "GET", "/prod/pool", [("Authorization", value)]).status == 200
    assert send(gateway, "GET", "/prod/pool", bearer(value)).status == 200
    expired = send(gateway, "GET", "/prod/pool", [("Authorization", token(issuer=POOL_ISSUER, lifetime=-5))])
    assert expired.status == 401 and expired.json() == {"message": "The incoming token has expired"}
    assert expired.header("www-authenticate") is None
    wrong = send(gateway, "GET", "/prod/pool", [("Authorization", token())])
    assert wrong.status == 401 and wrong.json() == {"message": "Unauthorized"}
    assert wrong.header("x-amzn-ErrorType") == "UnauthorizedException"


def test_lambda_authorizers_are_still_refused(gateway):
    response = send(gateway, "GET", "/prod/custom", [("Authorization", "allow")])
    assert response.status == 500 and response.header("x-amzn-ErrorType") == "AuthorizerConfigurationException"


def test_access_log_records_the_authorization(gateway):
    assert send(gateway, "GET", "/prod/jwt", bearer(token())).status == 200
    assert send(gateway, "GET", "/prod/jwt", bearer(token(lifetime=-10))).status == 401
    assert send(gateway, "GET", "/prod/iam", signed(gateway, "GET", "/prod/iam")).status == 200
    log = gateway.directory / "access.log"
    deadline = time.time() + 5
    lines = []
    while time.time() < deadline and len(lines) < 3:
        time.sleep(0.2)
        lines = log.read_text().splitlines() if log.exists() else []
    assert "200 - user-7 - 200" in lines
    assert "401 Unauthorized - - 401" in lines
    assert "200 - - arn:aws:iam::123456789012:user/alice 200" in lines


def test_a_jwt_authorizer_without_keys_is_refused_and_reported(tmp_path, upstreams):  # noqa: F811
    echo = upstreams("echo")
    directory = tmp_path / "nokeys"
    directory.mkdir()
    (directory / "api.yaml").write_text(API.format(issuer="https://elsewhere.example", port=echo.port))
    config = ('listen: "127.0.0.1:0"\nadmin: "127.0.0.1:0"\nworkers: {count: 1}\n'
              "apis:\n  - name: auth\n    definition: api.yaml\n    stages: {prod: {}}\n")
    server = Sluice(directory, config_text=config).start()
    response = send(server, "GET", "/prod/jwt", bearer(token()))
    assert response.status == 500 and response.header("x-amzn-ErrorType") == "AuthorizerConfigurationException"
    assert any("no jwt_issuers entry" in line for line in server.stderr_lines), server.stderr_lines


def test_the_proxy_event_carries_the_claims(tmp_path, upstreams, keys):  # noqa: F811
    function = upstreams("lambda")
    directory = tmp_path / "events"
    directory.mkdir()
    (directory / "api.yaml").write_text(f"""\
openapi: "3.0.1"
info: {{title: events, version: "1"}}
components:
  securitySchemes:
    jwt-auth:
      type: oauth2
      x-amazon-apigateway-authorizer:
        type: jwt
        jwtConfiguration: {{issuer: "{ISSUER}", audience: [client-a]}}
paths:
  /v1:
    get:
      security: [{{jwt-auth: []}}]
      x-amazon-apigateway-integration: {{type: aws_proxy, httpMethod: POST, uri: "arn:aws:lambda:us-east-1:123456789012:function:fn"}}
  /v2:
    get:
      security: [{{jwt-auth: []}}]
      x-amazon-apigateway-integration: {{type: aws_proxy, httpMethod: POST, payloadFormatVersion: "2.0", uri: "arn:aws:lambda:us-east-1:123456789012:function:fn"}}
""")
    config = (f'listen: "127.0.0.1:0"\nadmin: "127.0.0.1:0"\nworkers: {{count: 1}}\n'
              f'jwt_issuers:\n  - {{issuer: "{ISSUER}", jwks: "http://127.0.0.1:{keys.port}/jwks"}}\n'
              f'lambda_functions: {{fn: "http://127.0.0.1:{function.port}"}}\n'
              "apis:\n  - name: events\n    definition: api.yaml\n    stages: {prod: {}}\n")
    server = Sluice(directory, config_text=config).start()
    value = token(email="a\"b@example.com")
    v1 = send(server, "GET", "/prod/v1", bearer(value))
    assert v1.status == 200, v1.body
    claims = v1.json()["requestContext"]["authorizer"]["claims"]  # the emulator echoes the event
    assert claims["sub"] == "user-7" and claims["email"] == 'a"b@example.com'
    assert claims["exp"] == str(jwt.decode(value, options={"verify_signature": False})["exp"])
    v2 = send(server, "GET", "/prod/v2", bearer(value))
    assert v2.status == 200, v2.body
    authorizer = v2.json()["requestContext"]["authorizer"]
    assert authorizer["jwt"]["claims"]["sub"] == "user-7" and authorizer["jwt"]["scopes"] is None
