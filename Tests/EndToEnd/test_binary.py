"""Binary media types and contentHandling end to end, by API Gateway's conversion tables: HTTP
integrations' request bodies and answers converted to and from base64, answers decoded for a
request whose first Accept type is binary, MOCK answers, and Lambda proxy events and answers
(isBase64Encoded)."""

import base64
import json

from conftest import Sluice
from test_lambda import FUNCTION_URI, exchange
from test_lambda import request as lambda_request
from test_proxy import request, start_gateway, upstreams  # noqa: F401 (fixture)

BYTES = bytes(range(256))
ENCODED = base64.b64encode(BYTES)

API = """\
openapi: "3.0.1"
info: {title: binary, version: "1"}
x-amazon-apigateway-binary-media-types: ["image/png", "application/octet-stream"]
paths:
  /totext:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: "http://127.0.0.1:UPSTREAM/reflect"
        contentHandling: CONVERT_TO_TEXT
        requestParameters: {"integration.request.header.X-Answer-Type": "'text/plain'"}
        responses:
          default: {statusCode: "200"}
  /tobinary:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: "http://127.0.0.1:UPSTREAM/reflect"
        contentHandling: CONVERT_TO_BINARY
        requestParameters: {"integration.request.header.X-Answer-Type": "'application/octet-stream'"}
        responses:
          default: {statusCode: "200"}
  /answertext:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: "http://127.0.0.1:UPSTREAM/reflect"
        requestParameters: {"integration.request.header.X-Answer-Type": "'application/octet-stream'"}
        responses:
          default:
            statusCode: "200"
            contentHandling: CONVERT_TO_TEXT
            responseTemplates:
              text/plain: 'encoded: $input.body'
  /mock:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {application/json: '{"statusCode": 200}'}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {application/json: aGVsbG8=}
"""


def start(tmp_path, upstreams):  # noqa: F811
    upstream = upstreams("reflect")
    return start_gateway(tmp_path, API.replace("UPSTREAM", str(upstream.port)))


def test_request_bodies_are_converted_by_content_handling(tmp_path, upstreams):  # noqa: F811
    server = start(tmp_path, upstreams)
    # CONVERT_TO_TEXT: a binary body goes base64-encoded; the text answer comes back as text.
    response = request(server, "POST", "/prod/totext", BYTES, headers="Content-Type: image/png\r\n")
    assert response.status == 200, response.raw_head
    assert response.body == ENCODED
    assert response.header("Content-Type") == "text/plain"
    # A text body passes as it is.
    response = request(server, "POST", "/prod/totext", b"plain", headers="Content-Type: text/plain\r\n")
    assert response.body == b"plain"
    # CONVERT_TO_BINARY: a text body is base64-decoded; the binary answer, to a request that does
    # not want binary, goes back base64-encoded (API Gateway's table).
    response = request(server, "POST", "/prod/tobinary", b"aGVsbG8=", headers="Content-Type: text/plain\r\n")
    assert response.status == 200 and response.body == b"aGVsbG8="
    # ... and as bytes to one whose first Accept type is binary.
    response = request(server, "POST", "/prod/tobinary", b"aGVsbG8=",
                       headers="Content-Type: text/plain\r\nAccept: application/octet-stream, text/plain\r\n")
    assert response.body == b"hello"
    # A body that is not base64 cannot be decoded.
    assert request(server, "POST", "/prod/tobinary", b"not base64!", headers="Content-Type: text/plain\r\n").status == 500


def test_answers_are_decoded_for_a_binary_accept_and_converted_by_content_handling(tmp_path, upstreams):  # noqa: F811
    server = start(tmp_path, upstreams)
    # A text answer to a request whose first Accept type is binary is base64-decoded.
    response = request(server, "POST", "/prod/totext", BYTES,
                       headers="Content-Type: image/png\r\nAccept: image/png\r\n")
    assert response.status == 200 and response.body == BYTES
    # Only the first Accept type counts.
    response = request(server, "POST", "/prod/totext", BYTES,
                       headers="Content-Type: image/png\r\nAccept: text/html, image/png\r\n")
    assert response.body == ENCODED
    # CONVERT_TO_TEXT on the integration response: the binary answer is base64 text, which the
    # response template reads.
    response = request(server, "POST", "/prod/answertext", b"hello",
                       headers="Content-Type: text/plain\r\nAccept: text/plain\r\n")
    assert response.status == 200 and response.body == b"encoded: aGVsbG8="
    # A MOCK's text answer too.
    assert request(server, "GET", "/prod/mock").body == b"aGVsbG8="
    assert request(server, "GET", "/prod/mock", headers="Accept: image/png\r\n").body == b"hello"


LAMBDA_API = f"""\
openapi: "3.0.1"
info: {{title: lambda, version: "1"}}
x-amazon-apigateway-binary-media-types: ["application/octet-stream", "image/*"]
paths:
  /pets/{{petId}}:
    x-amazon-apigateway-any-method:
      parameters: [{{name: petId, in: path, required: true}}]
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "{FUNCTION_URI}"
"""


def test_lambda_proxy_events_and_answers_by_binary_media_types(tmp_path, upstreams):  # noqa: F811
    function = upstreams("lambda")
    directory = tmp_path / "gateway"
    directory.mkdir()
    (directory / "api.yaml").write_text(LAMBDA_API)
    server = Sluice(directory, config_text=(
        f'listen: "127.0.0.1:0"\nadmin: "127.0.0.1:0"\nworkers: {{count: 1}}\n'
        f'lambda_functions:\n  pets: "http://127.0.0.1:{function.port}"\n'
        f"apis:\n  - name: shop\n    definition: api.yaml\n    stages: {{prod: {{}}}}\n")).start()
    # A body of a binary media type arrives base64-encoded, isBase64Encoded true; others as text.
    event = exchange(server, lambda_request("PUT", "/prod/pets/1", headers=[("Content-Type", "image/png")],
                                            body=BYTES)).json()
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == BYTES
    event = exchange(server, lambda_request("PUT", "/prod/pets/1", headers=[("Content-Type", "text/plain")],
                                            body=b"text")).json()
    assert event["isBase64Encoded"] is False and event["body"] == "text"
    # A base64 answer is decoded when the first Accept type is binary, else sent as written.
    answer = exchange(server, lambda_request("GET", "/prod/pets/1", headers=[("X-Fake", "base64"),
                                                                            ("Accept", "image/webp,*/*")]))
    assert answer.status == 200 and answer.body == BYTES
    answer = exchange(server, lambda_request("GET", "/prod/pets/1", headers=[("X-Fake", "base64"),
                                                                            ("Accept", "application/json")]))
    assert answer.body == ENCODED
    assert json.loads(exchange(server, lambda_request("GET", "/prod/pets/1")).body)["isBase64Encoded"] is False


def test_a_large_body_base64_encoded_still_fits(tmp_path, upstreams):  # noqa: F811
    # 900 KB of binary, encoded on the way (a third longer than the body buffers' body bound),
    # reflected back as text: intact, and the worker goes on serving.
    server = start(tmp_path, upstreams)
    big = bytes(range(256)) * 3600
    response = request(server, "POST", "/prod/totext", big, headers="Content-Type: image/png\r\n")
    assert response.status == 200, response.raw_head
    assert response.body == base64.b64encode(big)
    response = request(server, "POST", "/prod/totext", big, headers="Content-Type: image/png\r\nAccept: image/png\r\n")
    assert response.body == big
    assert request(server, "GET", "/prod/mock").status == 200
