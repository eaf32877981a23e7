"""Payload compression end to end, as API Gateway does it: answers of at least
x-amazon-apigateway-minimum-compression-size bytes compressed with gzip or deflate when the
request's Accept-Encoding ranks one first (MOCK, HTTP, HTTP_PROXY, Lambda proxy and cache hits),
never when the integration encoded its answer itself; compressed request bodies decoded before
validation and mapping templates."""

import gzip
import json
import os
import zlib

from conftest import Sluice, parse_responses
from test_lambda import FUNCTION_URI, exchange
from test_lambda import request as lambda_request
from test_proxy import request, upstreams  # noqa: F401 (fixture)

BIG = "x" * 400

API = f"""\
openapi: "3.0.1"
info: {{title: compressed, version: "1"}}
x-amazon-apigateway-minimum-compression-size: 100
x-amazon-apigateway-request-validators:
  body: {{validateRequestBody: true, validateRequestParameters: false}}
x-amazon-apigateway-api-key-source: HEADER
paths:
  /mock:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {{application/json: '{{"padding": "{BIG}", "q": "$input.params(''q'')"}}'}}
  /small:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {{application/json: '{{"small": true}}'}}
  /static:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
        responses:
          default:
            statusCode: "200"
            responseParameters: {{method.response.header.X-Static: "'yes'"}}
            responseTemplates: {{application/json: '{{"padding": "{BIG}"}}'}}
  /proxy:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration: {{type: http_proxy, httpMethod: ANY, uri: "http://127.0.0.1:MIRROR/proxy"}}
  /reflect:
    post:
      x-amazon-apigateway-integration: {{type: http_proxy, httpMethod: POST, uri: "http://127.0.0.1:REFLECT/reflect"}}
  /encoded:
    get:
      x-amazon-apigateway-integration: {{type: http_proxy, httpMethod: GET, uri: "http://127.0.0.1:ENCODED/encoded"}}
  /chunked:
    get:
      x-amazon-apigateway-integration: {{type: http_proxy, httpMethod: GET, uri: "http://127.0.0.1:CHUNKED/chunked"}}
  /big:
    get:
      x-amazon-apigateway-integration: {{type: http_proxy, httpMethod: GET, uri: "http://127.0.0.1:BIGPORT/big"}}
  /reshaped:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: "http://127.0.0.1:MIRROR/reshaped"
        requestTemplates:
          application/json: '{{"name": $input.json(''$.name''), "padding": "{BIG}"}}'
        responses:
          default:
            statusCode: "200"
            responseTemplates: {{application/json: '{{"upstream saw": $input.json(''$.body'')}}'}}
  /validated:
    post:
      x-amazon-apigateway-request-validator: body
      requestBody:
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties: {{name: {{type: string, maxLength: 20}}}}
      x-amazon-apigateway-integration: {{type: http_proxy, httpMethod: POST, uri: "http://127.0.0.1:MIRROR/validated"}}
  /keyed:
    get:
      x-amazon-apigateway-api-key-required: true
      x-amazon-apigateway-integration: {{type: http_proxy, httpMethod: GET, uri: "http://127.0.0.1:MIRROR/keyed"}}
  /pets:
    get:
      x-amazon-apigateway-integration: {{type: aws_proxy, httpMethod: POST, uri: "{FUNCTION_URI}"}}
  /cached:
    get:
      x-amazon-apigateway-integration: {{type: http_proxy, httpMethod: GET, uri: "http://127.0.0.1:MIRROR/cached"}}
"""


def start(tmp_path, upstreams, api=API, extra=""):  # noqa: F811
    ports = {name: upstreams(kind).port for name, kind in
             (("MIRROR", "mirror"), ("ENCODED", "encoded"), ("CHUNKED", "chunked"), ("BIGPORT", "big"),
              ("REFLECT", "reflect"))}
    function = upstreams("lambda")
    text = api
    for name, port in ports.items():
        text = text.replace(name, str(port))
    directory = tmp_path / "gateway"
    directory.mkdir(exist_ok=True)
    (directory / "api.yaml").write_text(text)
    config = (f'listen: "127.0.0.1:0"\nadmin: "127.0.0.1:0"\nworkers: {{count: 1}}\n'
              f'lambda_functions:\n  pets: "http://127.0.0.1:{function.port}"\n{extra}'
              f"apis:\n  - name: shop\n    definition: api.yaml\n    stages:\n"
              f"      prod:\n        cache: {{capacity_mb: 8, ttl_seconds: 300}}\n      dev: {{}}\n")
    return Sluice(directory, config_text=config).start()


def decoded(response):
    coding = response.header("Content-Encoding")
    assert int(response.header("Content-Length")) == len(response.body)
    if coding == "gzip":
        return gzip.decompress(response.body)
    if coding == "deflate":
        return zlib.decompress(response.body)
    assert coding is None, coding
    return response.body


def test_answers_are_compressed_by_accept_encoding_and_size(tmp_path, upstreams):  # noqa: F811
    server = start(tmp_path, upstreams)
    plain = request(server, "GET", "/dev/mock?q=1")
    assert plain.status == 200 and plain.header("Content-Encoding") is None
    assert json.loads(plain.body) == {"padding": BIG, "q": "1"}
    for accept, coding in (("gzip", "gzip"), ("deflate", "deflate"), ("gzip, deflate, br", "gzip"),
                           ("deflate;q=0.5, gzip;q=1.0", "gzip"), ("x-gzip", "gzip"),
                           ("br, gzip;q=0.5", None), ("*", None), ("identity", None), ("gzip;q=0", None)):
        response = request(server, "GET", "/dev/mock?q=1", headers=f"Accept-Encoding: {accept}\r\n")
        assert response.status == 200
        assert response.header("Content-Encoding") == coding, accept
        assert decoded(response) == plain.body
        if coding:
            assert response.header("Vary") == "Accept-Encoding"
            assert len(response.body) < len(plain.body) / 4
    # A static MOCK's answer, compressed once at start.
    static = request(server, "GET", "/dev/static")
    assert static.header("Content-Encoding") is None and static.header("X-Static") == "yes"
    for coding in ("gzip", "deflate"):
        response = request(server, "GET", "/dev/static", headers=f"Accept-Encoding: {coding}\r\n")
        assert response.header("Content-Encoding") == coding and response.header("Vary") == "Accept-Encoding"
        assert response.header("X-Static") == "yes" and decoded(response) == static.body
        assert response.header("x-amzn-RequestId")
    # Under the minimum, and HEAD: as they are.
    small = request(server, "GET", "/dev/small", headers="Accept-Encoding: gzip\r\n")
    assert small.header("Content-Encoding") is None and small.body == b'{"small": true}'
    head = request(server, "HEAD", "/dev/proxy?pad=" + "y" * 300, headers="Accept-Encoding: gzip\r\n")
    assert head.status == 200 and head.header("Content-Encoding") is None
    assert int(head.header("Content-Length")) > 300
    # Gateway responses are not integration answers: never compressed.
    refused = request(server, "GET", "/dev/keyed", headers="Accept-Encoding: gzip\r\n")
    assert refused.status == 403 and refused.header("Content-Encoding") is None
    missing = request(server, "GET", "/dev/nowhere" + "x" * 200, headers="Accept-Encoding: gzip\r\n")
    assert missing.status in (403, 404) and missing.header("Content-Encoding") is None


def test_upstream_answers_are_compressed_unless_encoded_already(tmp_path, upstreams):  # noqa: F811
    server = start(tmp_path, upstreams)
    response = request(server, "GET", "/dev/proxy?pad=" + "y" * 300, headers="Accept-Encoding: gzip\r\n")
    assert response.status == 200 and response.header("Content-Encoding") == "gzip"
    assert response.header("X-Upstream") == "mirror"
    seen = json.loads(decoded(response))
    assert seen["target"].startswith("/proxy?pad=yyy")
    # The upstream's own Content-Encoding: passed through untouched, not compressed again.
    encoded = request(server, "GET", "/dev/encoded", headers="Accept-Encoding: gzip\r\n")
    assert encoded.header("Content-Encoding") == "gzip" and encoded.header("Vary") is None
    assert json.loads(gzip.decompress(encoded.body))["target"] == "/encoded"
    # A chunked answer is relayed as it comes (docs/compression.md).
    raw = server.exchange(b"GET /dev/chunked?pad=" + b"y" * 300 + b" HTTP/1.1\r\nHost: gateway.test\r\n"
                          b"Accept-Encoding: gzip\r\nConnection: close\r\n\r\n", timeout=20)
    head, chunks = raw.split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding: chunked" in head and b"Content-Encoding" not in head
    body = b""
    while True:
        size_line, chunks = chunks.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            break
        body, chunks = body + chunks[:size], chunks[size + 2:]
    assert json.loads(body)["target"].startswith("/chunked")
    # An answer larger than a body buffer holds goes uncompressed, intact.
    big = request(server, "GET", "/dev/big", headers="Accept-Encoding: gzip\r\nX-Size: 1600000\r\n")
    assert big.status == 200 and big.header("Content-Encoding") is None and len(big.body) == 1600000
    # One that fits is compressed.
    fits = request(server, "GET", "/dev/big", headers="Accept-Encoding: deflate\r\nX-Size: 300000\r\n")
    assert fits.header("Content-Encoding") == "deflate"
    assert decoded(fits) == (bytes(range(256)) * 4096)[:300000]
    # An HTTP integration's response template renders, then the result is compressed.
    body = json.dumps({"name": "rex"}).encode()
    reshaped = request(server, "POST", "/dev/reshaped", body,
                       headers="Content-Type: application/json\r\nAccept-Encoding: gzip\r\n")
    assert reshaped.status == 200 and reshaped.header("Content-Encoding") == "gzip", reshaped.raw_head
    assert json.loads(json.loads(gzip.decompress(reshaped.body))["upstream saw"]) == {"name": "rex", "padding": BIG}


def test_pipelined_answers_each_take_their_own_coding(tmp_path, upstreams):  # noqa: F811
    server = start(tmp_path, upstreams)
    raw = b""
    codings = ["gzip", None, "deflate", None, "gzip"]
    for position, coding in enumerate(codings):
        path = "/dev/proxy?pad=" + "z" * 300 if position % 2 else "/dev/mock?q=2"
        accept = f"Accept-Encoding: {coding}\r\n" if coding else ""
        raw += f"GET {path} HTTP/1.1\r\nHost: gateway.test\r\n{accept}\r\n".encode()
    raw += b"GET /dev/small HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n"
    responses = parse_responses(server.exchange(raw, timeout=20))
    assert [response.status for response in responses] == [200] * 6
    assert [response.header("Content-Encoding") for response in responses] == codings + [None]
    for position, response in enumerate(responses[:5]):
        body = decoded(response)
        if position % 2 == 0:
            assert json.loads(body)["q"] == "2"
        else:
            assert json.loads(body)["target"].startswith("/proxy?pad=zzz")


def test_cache_keeps_the_answer_and_each_hit_takes_the_requests_coding(tmp_path, upstreams):  # noqa: F811
    server = start(tmp_path, upstreams)
    target = "/prod/cached?pad=" + "w" * 300
    first = request(server, "GET", target, headers="Accept-Encoding: gzip\r\n")
    assert first.header("Content-Encoding") == "gzip"
    original = decoded(first)
    plain_hit = request(server, "GET", target)
    assert plain_hit.header("Content-Encoding") is None and plain_hit.header("Age") is not None
    assert plain_hit.body == original
    gzip_hit = request(server, "GET", target, headers="Accept-Encoding: deflate\r\n")
    assert gzip_hit.header("Content-Encoding") == "deflate" and gzip_hit.header("Age") is not None
    assert decoded(gzip_hit) == original
    text = server.admin_get("/metrics").body.decode()
    assert 'sluice_cache_requests_total{api="shop",stage="prod",result="hit"} 2' in text


def test_lambda_proxy_answers_are_compressed(tmp_path, upstreams):  # noqa: F811
    server = start(tmp_path, upstreams)
    plain = exchange(server, lambda_request("GET", "/dev/pets"))
    assert plain.status == 200 and plain.header("Content-Encoding") is None
    answer = exchange(server, lambda_request("GET", "/dev/pets", headers=[("Accept-Encoding", "gzip")]))
    assert answer.status == 200 and answer.header("Content-Encoding") == "gzip"
    assert answer.header("X-Function") == "pets"
    event = json.loads(decoded(answer))
    assert event["httpMethod"] == "GET" and event["headers"]["Accept-Encoding"] == "gzip"


def test_compressed_request_bodies_are_decoded_before_validation_and_templates(tmp_path, upstreams):  # noqa: F811
    server = start(tmp_path, upstreams)
    json_type = "Content-Type: application/json\r\n"
    valid = gzip.compress(json.dumps({"name": "rex"}).encode())
    response = request(server, "POST", "/dev/validated", valid, headers=json_type + "Content-Encoding: gzip\r\n")
    assert response.status == 200, response.body
    # The upstream gets it decoded, without a Content-Encoding, as from API Gateway.
    seen = json.loads(response.body)
    assert seen["body"] == '{"name": "rex"}'
    assert not [name for name, _ in seen["headers"] if name.lower() == "content-encoding"]
    assert ["Content-Length", "15"] in seen["headers"]
    invalid = zlib.compress(json.dumps({"name": "a name far too long for the model"}).encode())
    response = request(server, "POST", "/dev/validated", invalid, headers=json_type + "Content-Encoding: deflate\r\n")
    assert response.status == 400 and response.json() == {"message": "Invalid request body"}
    # Bare deflate, as some clients send it.
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    bare = compressor.compress(json.dumps({"name": "rex"}).encode()) + compressor.flush()
    assert request(server, "POST", "/dev/validated", bare, headers=json_type + "Content-Encoding: deflate\r\n").status == 200
    # Two Content-Encoding fields are two codings: 415, even when the first says identity.
    response = request(server, "POST", "/dev/validated", valid,
                       headers=json_type + "Content-Encoding: identity\r\nContent-Encoding: gzip\r\n")
    assert response.status == 415
    # Not what the coding says, or a coding the gateway does not decode: 415.
    for coding, body in (("gzip", json.dumps({"name": "rex"}).encode()), ("br", valid), ("gzip, gzip", valid)):
        response = request(server, "POST", "/dev/validated", body, headers=json_type + f"Content-Encoding: {coding}\r\n")
        assert response.status == 415, coding
        assert response.header("x-amzn-ErrorType") == "UnsupportedMediaTypeException"
    # A small body that decodes past buffered_body_bytes: 413, not a worker's memory.
    bomb = gzip.compress(b" " * (2 << 20))
    assert len(bomb) < 4096
    assert request(server, "POST", "/dev/validated", bomb, headers=json_type + "Content-Encoding: gzip\r\n").status == 413
    # A mapping template reads the decoded body; the upstream gets what it rendered.
    body = gzip.compress(json.dumps({"name": "fido"}).encode())
    response = request(server, "POST", "/dev/reshaped", body, headers=json_type + "Content-Encoding: gzip\r\n")
    assert response.status == 200
    assert json.loads(response.json()["upstream saw"]) == {"name": "fido", "padding": BIG}
    # The worker is still there.
    assert request(server, "GET", "/dev/small").status == 200


def test_an_api_without_the_setting_never_compresses(tmp_path, upstreams):  # noqa: F811
    server = start(tmp_path, upstreams, api=API.replace("x-amazon-apigateway-minimum-compression-size: 100\n", ""))
    response = request(server, "GET", "/dev/mock?q=1", headers="Accept-Encoding: gzip\r\n")
    assert response.status == 200 and response.header("Content-Encoding") is None
    response = request(server, "GET", "/dev/proxy?pad=" + "y" * 300, headers="Accept-Encoding: gzip\r\n")
    assert response.header("Content-Encoding") is None
    # Request bodies are decoded all the same (API Gateway does so by default).
    valid = gzip.compress(json.dumps({"name": "rex"}).encode())
    assert request(server, "POST", "/dev/validated", valid,
                   headers="Content-Type: application/json\r\nContent-Encoding: gzip\r\n").status == 200


def test_a_gathered_answer_needs_no_second_body_buffer(tmp_path, upstreams):  # noqa: F811
    # One body buffer: the answer is gathered in it, and when its compressed form does not fit
    # the output at once, the rest waits in that same buffer (not a 503 for want of another).
    server = start(tmp_path, upstreams, extra="limits:\n  buffered_bodies: 1\n")
    noise = os.urandom(200_000)
    for coding in ("gzip", "deflate", None):
        accept = f"Accept-Encoding: {coding}\r\n" if coding else ""
        response = request(server, "POST", "/dev/reflect", noise,
                           headers="Content-Type: application/octet-stream\r\n" + accept)
        assert response.status == 200, response.raw_head
        assert response.header("Content-Encoding") == coding
        assert decoded(response) == noise
    # And the buffer is free again afterwards: a validated body still gets it.
    valid = json.dumps({"name": "rex"}).encode()
    assert request(server, "POST", "/dev/validated", valid, headers="Content-Type: application/json\r\n").status == 200


def test_each_request_on_a_keep_alive_connection_decodes_its_own_body(tmp_path, upstreams):  # noqa: F811
    server = start(tmp_path, upstreams)
    json_type = "Content-Type: application/json\r\n"

    def post(path, body, coding="gzip"):
        return (f"POST {path} HTTP/1.1\r\nHost: gateway.test\r\n{json_type}Content-Encoding: {coding}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    valid = gzip.compress(json.dumps({"name": "rex"}).encode())
    invalid = gzip.compress(json.dumps({"name": "a name far too long for the model"}).encode())
    raw = (post("/dev/validated", valid) + post("/dev/validated", invalid) + post("/dev/validated", b"not gzip")
           + post("/dev/reshaped", gzip.compress(json.dumps({"name": "one"}).encode()))
           + post("/dev/reshaped", gzip.compress(json.dumps({"name": "two"}).encode()))
           + b"GET /dev/small HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n")
    responses = parse_responses(server.exchange(raw, timeout=20))
    assert [response.status for response in responses] == [200, 400, 415, 200, 200, 200]
    assert json.loads(responses[3].json()["upstream saw"])["name"] == "one"
    assert json.loads(responses[4].json()["upstream saw"])["name"] == "two"


def test_two_content_encodings_are_refused_on_a_proxy_route_too(tmp_path, upstreams):  # noqa: F811
    server = start(tmp_path, upstreams)
    body = gzip.compress(b"abc" * 100)
    response = request(server, "POST", "/dev/reflect", body,
                       headers="Content-Encoding: identity\r\nContent-Encoding: gzip\r\n")
    assert response.status == 415
    # One identity field: the body goes as it is, streamed.
    response = request(server, "POST", "/dev/reflect", b"plain", headers="Content-Encoding: identity\r\n")
    assert response.status == 200 and response.body == b"plain"
