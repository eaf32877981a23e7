"""Mapping templates end to end: MOCK routes rendered per request ($input.params, $input.path,
$context, responseOverride, content-type and Accept selection, passthroughBehavior), the AWS
calculator example's MOCK routes, and bodies held whole (in the carry slot or a body buffer)."""

import json
import socket

from conftest import SHARED, parse_responses
from test_proxy import request, start_gateway, upstreams  # noqa: F401 (fixture)

PETS = """\
openapi: "3.0.1"
info: {title: pets, version: "1"}
paths:
  /pets/{petId}:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: |
            #if($input.params('fail') == "yes")
            {"statusCode": 500}
            #else
            {"statusCode": 200}
            #end
        responses:
          "5\\\\d{2}":
            statusCode: "503"
            responseTemplates:
              application/json: '{"error": "failed for $input.params(''petId'')"}'
          default:
            statusCode: "200"
            responseParameters: {"method.response.header.X-Static": "'s'"}
            responseTemplates:
              application/json: |
                #set($context.responseOverride.header.X-Pet = $input.params('petId'))
                {"id": "$input.params('petId')", "q": "$input.params('q')", "stage": "$context.stage", "path": "$context.resourcePath", "method": "$context.httpMethod"}
              text/plain: 'pet $input.params(''petId'')'
  /echo:
    post:
      x-amazon-apigateway-integration:
        type: mock
        passthroughBehavior: never
        requestTemplates:
          application/json: |
            #set($b = $input.path('$'))
            {"statusCode": $b.code}
        responses:
          "4\\\\d{2}":
            statusCode: "400"
            responseTemplates:
              application/json: '{"message": "bad"}'
          default:
            statusCode: "200"
            responseTemplates:
              application/json: |
                #set($context.responseOverride.status = 201)
                {"params": "$input.params()"}
  /passthrough:
    post:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": $input.json(''$.code'')}'
        responses:
          "2\\\\d{2}": {statusCode: "200", responseTemplates: {application/json: '{"ok": true}'}}
          default: {statusCode: "418", responseTemplates: {application/json: '{"ok": false}'}}
  /big:
    post:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: |
            {"statusCode": 200}
        responses:
          default:
            statusCode: "200"
            responseTemplates:
              application/json: '#foreach($i in [1..$input.params(''n'')])0123456789abcdef#end'
  /bare:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: |
            #set($context.responseOverride.header.X-Leak = "from the request template")
            {"statusCode": 200}
        responses:
          default: {statusCode: "200"}
  /size:
    post:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '#set($s = $input.body.length()){"statusCode": #if($s > 100000)200#{else}400#end}'
        responses:
          "2\\\\d{2}": {statusCode: "200", responseTemplates: {application/json: 'long'}}
          default: {statusCode: "400", responseTemplates: {application/json: 'short'}}
"""


def test_mock_templates_render_per_request(tmp_path):
    server = start_gateway(tmp_path, PETS)
    response = request(server, "GET", "/prod/pets/a%20b?q=x%2By")
    assert response.status == 200, response.raw_head
    assert response.header("Content-Type") == "application/json"
    assert response.header("X-Static") == "s"
    assert response.header("X-Pet") == "a b"
    assert response.json() == {"id": "a b", "q": "x+y", "stage": "prod", "path": "/pets/{petId}", "method": "GET"}

    failed = request(server, "GET", "/prod/pets/7?fail=yes")
    assert failed.status == 503
    assert failed.json() == {"error": "failed for 7"}

    # The response template is chosen by Accept.
    plain = request(server, "GET", "/prod/pets/7", headers="Accept: text/plain\r\n")
    assert plain.status == 200 and plain.body == b"pet 7"
    assert plain.header("Content-Type") == "text/plain"

    # An answer without a response template carries no override header: not one a request
    # template set, nor one left from an earlier answer on the connection.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(b"GET /prod/pets/9 HTTP/1.1\r\nHost: gateway.test\r\n\r\n"
                           b"GET /prod/bare HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    first, bare = parse_responses(data)
    assert first.header("X-Pet") == "9"
    assert bare.status == 200 and bare.header("X-Pet") is None and bare.header("X-Leak") is None


def test_request_template_reads_the_body_and_overrides_the_status(tmp_path):
    server = start_gateway(tmp_path, PETS)
    body = json.dumps({"code": 200}).encode()
    response = request(server, "POST", "/prod/echo?a=1", body, headers="Content-Type: application/json\r\n")
    assert response.status == 201, response.raw_head
    params = response.json()["params"]
    assert params.startswith("{path={}, querystring={a=1}, header={Host=gateway.test")
    bad = request(server, "POST", "/prod/echo", json.dumps({"code": 404}).encode(),
                  headers="Content-Type: application/json; charset=utf-8\r\n")
    assert bad.status == 400 and bad.json() == {"message": "bad"}
    # passthroughBehavior NEVER: a content type without a template is 415, as API Gateway answers.
    refused = request(server, "POST", "/prod/echo", b"x", headers="Content-Type: text/plain\r\n")
    assert refused.status == 415
    assert refused.header("x-amzn-ErrorType") == "UnsupportedMediaTypeException"
    assert refused.json() == {"message": "Unsupported Media Type"}


def test_passthrough_body_gives_the_mock_status(tmp_path):
    server = start_gateway(tmp_path, PETS)
    # No Content-Type counts as application/json: the template applies.
    assert request(server, "POST", "/prod/passthrough", b'{"code": 204}').json() == {"ok": True}
    # WHEN_NO_MATCH: a text body passes through; it has no statusCode, so the status is 200.
    through = request(server, "POST", "/prod/passthrough", b'{"statusCode": 404}', headers="Content-Type: text/x\r\n")
    assert through.status == 418 and through.json() == {"ok": False}
    plain = request(server, "POST", "/prod/passthrough", b"hello", headers="Content-Type: text/x\r\n")
    assert plain.status == 200 and plain.json() == {"ok": True}


def test_large_rendered_answers_and_bodies_held_in_a_body_buffer(tmp_path):
    server = start_gateway(tmp_path, PETS)
    # 16 bytes × 1000 iterations (API Gateway's #foreach bound): larger than the output slot.
    response = request(server, "POST", "/prod/big?n=5000", b"{}")
    assert response.status == 200, response.raw_head
    assert response.body == b"0123456789abcdef" * 1000
    # A 300 KB body is read whole (beyond the carry slot: a body buffer), sent slowly.
    body = b'"' + b"x" * 300_000 + b'"'
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as connection:
        head = (f"POST /prod/size HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: {len(body)}\r\n"
                f"Content-Type: application/json\r\n\r\n").encode()
        connection.sendall(head)
        for offset in range(0, len(body), 65536):
            connection.sendall(body[offset:offset + 65536])
        # A pipelined request behind it is answered in order.
        connection.sendall(b"GET /prod/pets/9 HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    first, second = parse_responses(data)
    assert first.status == 200 and first.body == b"long", first.raw_head
    assert second.json()["id"] == "9"
    # Over limits.buffered_body_bytes (1 MiB by default): 413.
    too_big = request(server, "POST", "/prod/size", b"x" * ((1 << 20) + 1), headers="Content-Type: application/json\r\n")
    assert too_big.status == 413


def test_calculator_example_mock_routes_render_their_messages(tmp_path):
    example = (SHARED / "examples" / "aws" / "simple-calc-lambda-api-swagger-definition.1.swagger20.json").read_text()
    server = start_gateway(tmp_path, example, stages="      test: {}")
    response = request(server, "POST", "/test/1/2")
    assert response.status == 404, response.raw_head
    assert response.json() == {"Message": "Can't POST /{a}/{b}"}
    response = request(server, "DELETE", "/test/3")
    assert response.status == 404
    assert response.json() == {"Message": "Can't DELETE /{a}"}


RESHAPE = """\
openapi: "3.0.1"
info: {title: reshape, version: "1"}
paths:
  /orders/{id}:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: PUT
        uri: "http://127.0.0.1:UPSTREAM/backend/orders"
        passthroughBehavior: when_no_templates
        requestParameters: {"integration.request.header.X-Order": "method.request.path.id"}
        requestTemplates:
          application/json: |
            #set($order = $input.path('$'))
            #set($context.requestOverride.header.X-Items = "$order.items.size()")
            {"orderId": "$input.params('id')", "customer": "$util.escapeJavaScript($order.customer.name)", "skus": [#foreach($item in $order.items)"$item.sku"#if($foreach.hasNext),#end#end], "stage": "$context.stage"}
        responses:
          default: {statusCode: "200"}
  /orders/{id}/summary:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: PUT
        uri: "http://127.0.0.1:UPSTREAM/backend/orders"
        requestTemplates:
          application/json: '{"items": $input.json(''$.items'')}'
        responses:
          "4\\\\d{2}":
            statusCode: "400"
            responseParameters: {"method.response.header.X-Static": "'static value'"}
            responseTemplates:
              application/json: json 400 response template
              application/xml: xml 400 response template
          default:
            statusCode: "200"
            responseParameters: {"method.response.header.X-Upstream-Was": "integration.response.header.X-Upstream"}
            responseTemplates:
              application/json: |
                #set($r = $input.path('$'))
                {"upstreamMethod": "$r.method", "sentBytes": $r.body_length, "order": "$input.params('id')", "request": "$context.requestId"}
  /override/{id}:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: "http://127.0.0.1:UPSTREAM/backend/items/{item}?fixed=1&keep=2"
        requestParameters:
          "integration.request.path.item": "method.request.path.id"
          "integration.request.querystring.mapped": "'m'"
          "integration.request.header.X-Mapped": "'mapped'"
        requestTemplates:
          application/json: |
            #set($context.requestOverride.path.item = "first")
            #set($context.requestOverride.path.item = $util.urlDecode('over%00ride'))
            #set($context.requestOverride.querystring.fixed = "first")
            #set($context.requestOverride.querystring.fixed = "new")
            #set($context.requestOverride.header.X-Mapped = "override")
            #set($context.requestOverride.header.Content-Type = "text/x-req")
            #set($context.requestOverride.querystring.mapped = "x&y")
            #set($context.requestOverride.header.Content-Length = "999")
            #set($context.requestOverride.header.Host = "evil.example")
            #set($context.requestOverride.header.X-Set = "a")
            #set($context.requestOverride.header.X-Set = "b")
            {"a": 1}
        responses:
          default:
            statusCode: "200"
            responseParameters: {"method.response.header.X-Static": "'static'"}
            responseTemplates:
              application/json: |
                #set($context.responseOverride.status = 150)
                #set($context.responseOverride.header.X-Static = "replaced")
                #set($context.responseOverride.header.X-Twice = "one")
                #set($context.responseOverride.header.x-twice = "two")
                #set($context.responseOverride.header.Transfer-Encoding = "chunked")
                #set($context.responseOverride.header.Content-Type = "text/x-override")
                {"target": "$input.path('$.target')", "headers": $input.json('$.headers')}
  /raw/{id}:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: "http://127.0.0.1:UPSTREAM/backend/raw"
        responses:
          default: {statusCode: "200"}
"""


def test_http_request_template_reshapes_the_body_the_upstream_gets(tmp_path, upstreams):
    upstream = upstreams("mirror")
    server = start_gateway(tmp_path, RESHAPE.replace("UPSTREAM", str(upstream.port)))
    order = {"customer": {"name": "Ana \"A\" Lee/é"}, "items": [{"sku": "a1", "qty": 2}, {"sku": "b2", "qty": 1}]}
    response = request(server, "POST", "/prod/orders/42", json.dumps(order).encode(),
                       headers="Content-Type: application/json\r\n")
    assert response.status == 200, response.raw_head
    echoed = response.json()
    assert echoed["method"] == "PUT"
    assert echoed["target"] == "/backend/orders"
    headers = {name.lower(): value for name, value in echoed["headers"]}
    assert headers["x-order"] == "42"
    assert headers["x-items"] == "2"
    assert headers["content-type"] == "application/json"
    sent = echoed["body"]
    assert json.loads(sent) == {"orderId": "42", "customer": "Ana \"A\" Lee/é", "skus": ["a1", "b2"], "stage": "prod"}
    # escapeJavaScript as Commons Lang writes it: `"` and `/` escaped, non-ASCII as \uXXXX.
    assert '"customer": "Ana \\"A\\" Lee\\/\\u00E9"' in sent
    assert int(headers["content-length"]) == len(sent.encode())
    # WHEN_NO_TEMPLATES with a template defined: another content type is 415.
    refused = request(server, "POST", "/prod/orders/42", b"x", headers="Content-Type: text/plain\r\n")
    assert refused.status == 415


def test_http_response_templates_render_the_upstream_answer(tmp_path, upstreams):
    upstream = upstreams("mirror")
    server = start_gateway(tmp_path, RESHAPE.replace("UPSTREAM", str(upstream.port)))
    body = json.dumps({"customer": {"name": "x"}, "items": [1, 2]}).encode()
    response = request(server, "POST", "/prod/orders/7/summary", body, headers="Content-Type: application/json\r\n")
    assert response.status == 200, response.raw_head
    assert response.header("Content-Type") == "application/json"
    assert response.header("X-Upstream-Was") == "mirror"
    answer = response.json()
    assert answer["upstreamMethod"] == "PUT" and answer["order"] == "7"
    assert answer["request"] == response.header("x-amzn-RequestId")
    assert answer["sentBytes"] == len(b'{"items": [1,2]}')
    # An answer without templates is relayed as it came.
    raw = request(server, "GET", "/prod/raw/1")
    assert raw.status == 200 and raw.json()["target"] == "/backend/raw"
    # Many in a row on one keep-alive connection, pipelined: each answer rendered, in order.
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as connection:
        for number in range(20):
            connection.sendall((f"POST /prod/orders/{number}/summary HTTP/1.1\r\nHost: gateway.test\r\n"
                                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
        connection.sendall(b"GET /prod/raw/2 HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    answers = parse_responses(data)
    assert [a.json()["order"] for a in answers[:20]] == [str(n) for n in range(20)]
    assert answers[20].json()["target"] == "/backend/raw"


def test_overrides_replace_what_they_name_and_never_frame_the_message(tmp_path, upstreams):
    upstream = upstreams("mirror")
    server = start_gateway(tmp_path, RESHAPE.replace("UPSTREAM", str(upstream.port)))
    response = request(server, "POST", "/prod/override/5", b'{}', headers="Content-Type: application/json\r\n")
    # An interim status cannot be an answer's: the template's 150 is ignored.
    assert response.status == 200, response.raw_head
    head = response.raw_head.lower()
    assert head.count("x-static:") == 1 and response.header("X-Static") == "replaced"
    assert head.count("x-twice:") == 1 and response.header("X-Twice") == "two"
    assert "transfer-encoding" not in head
    assert head.count("content-type:") == 1 and response.header("Content-Type") == "text/x-override"
    answer = json.loads(response.body)
    # The path variable, the URI's query parameter and the mapped one, replaced; the rest kept.
    # (A NUL in the value is a byte of the segment like any other.) Set twice, the last stands.
    assert answer["target"] == "/backend/items/over%00ride?keep=2&fixed=new&mapped=x%26y"
    sent = [(name.lower(), value) for name, value in answer["headers"]]
    assert [value for name, value in sent if name == "x-mapped"] == ["override"]
    assert [value for name, value in sent if name == "content-type"] == ["text/x-req"]
    assert [value for name, value in sent if name == "x-set"] == ["b"]
    assert [value for name, value in sent if name == "content-length"] == ["9"]  # {"a": 1} and its line end
    assert [value for name, value in sent if name == "host"] == [f"127.0.0.1:{upstream.port}"]


def test_exchanges_in_flight_are_not_bounded_by_the_body_buffers(tmp_path, upstreams):
    # The request's head waits in the connection's own slot; a body buffer is taken only while
    # an answer's body is gathered for its template. Twenty exchanges at once with two buffers.
    upstream = upstreams("mirror")
    server = start_gateway(tmp_path, RESHAPE.replace("UPSTREAM", str(upstream.port)),
                           extra="limits: {buffered_bodies: 2}\n")
    body = json.dumps({"customer": {"name": "x"}, "items": [1]}).encode()
    connections = [socket.create_connection(("127.0.0.1", server.port), timeout=20) for _ in range(20)]
    try:
        for number, connection in enumerate(connections):
            connection.sendall((f"POST /prod/orders/{number}/summary HTTP/1.1\r\nHost: gateway.test\r\n"
                                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                                f"Connection: close\r\n\r\n").encode() + body)
        for number, connection in enumerate(connections):
            data = b""
            while chunk := connection.recv(65536):
                data += chunk
            (answer,) = parse_responses(data)
            assert answer.status == 200, answer.raw_head
            assert answer.json()["order"] == str(number)
    finally:
        for connection in connections:
            connection.close()
