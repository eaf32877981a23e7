"""Issue 13's rules of fidelity to API Gateway, against the real binary and a real upstream."""

from conftest import parse_response, parse_responses, read_responses
from test_proxy import request, start_gateway, upstreams  # noqa: F401 (fixture)
from upstream import RESERVED_HEADERS


def tenants_api(port):
    return f"""\
openapi: "3.0.1"
info: {{title: tenants, version: "1"}}
paths:
  /tenanta/{{proxy+}}:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:{port}/tenant-a/{{proxy}}"
        requestParameters: {{"integration.request.path.proxy": "method.request.path.proxy"}}
  /files:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:{port}/files/{{name}}"
        requestParameters: {{"integration.request.path.name": "method.request.querystring.p"}}
"""


def test_no_path_climbs_out_of_its_integrations_prefix(tmp_path, upstreams):
    upstream = upstreams("echo")
    server = start_gateway(tmp_path, tenants_api(upstream.port))
    ok = request(server, "GET", "/prod/tenanta/reports/q1")
    assert ok.status == 200 and ok.json()["target"] == "/tenant-a/reports/q1"
    # Dot-segments, literal or percent-encoded, are resolved before routing: what climbs out of
    # /tenanta/ is no longer under it, and no upstream sees tenant-b.
    for path in ("/prod/tenanta/../tenant-b/secret", "/prod/tenanta/%2e%2e/tenant-b/secret",
                 "/prod/tenanta/.%2E/tenant-b/secret", "/prod/tenanta/x/../../tenant-b/secret"):
        response = request(server, "GET", path)
        assert response.status == 403, path
        assert response.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException", path
    # Resolved paths that stay inside are served as their resolution.
    inside = request(server, "GET", "/prod/tenanta/a/./b/../c")
    assert inside.status == 200 and inside.json()["target"] == "/tenant-a/a/c"
    # A path that would rise above the root is refused.
    for path in ("/../prod/tenanta/x", "/prod/../../x", "/%2e%2e/x"):
        assert request(server, "GET", path).status == 400, path
    # Empty segments collapse for matching; the greedy value keeps them as sent.
    doubled = request(server, "GET", "/prod//tenanta/a//b")
    assert doubled.status == 200 and doubled.json()["target"] == "/tenant-a/a//b"
    # The fragment never reaches an upstream.
    fragment = request(server, "GET", "/prod/tenanta/page#section")
    assert fragment.status == 200 and fragment.json()["target"] == "/tenant-a/page"


def test_a_query_value_mapped_into_a_path_cannot_change_the_target(tmp_path, upstreams):
    upstream = upstreams("echo")
    server = start_gateway(tmp_path, tenants_api(upstream.port))
    for value, expected in (("../../admin", "/files/..%2F..%2Fadmin"), ("a?x=1", "/files/a%3Fx%3D1"),
                            ("..", "/files/%2E%2E"), ("%2e%2e", "/files/%2E%2E"), ("a%2Fb", "/files/a%2Fb"),
                            ("report.pdf", "/files/report.pdf")):
        response = request(server, "GET", f"/prod/files?p={value}")
        assert response.status == 200, value
        # HTTP_PROXY passes the client's query on after the path.
        assert response.json()["target"] == f"{expected}?p={value}", value


FUNCTION_URI = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                "arn:aws:lambda:us-east-1:123456789012:function:reserved/invocations")


def reserved_api(port, methods=("get",)):
    mapped = ", ".join(f'"method.response.header.{name}": "\'{value}\'"' for name, value in RESERVED_HEADERS)
    from_upstream = ", ".join(f'"method.response.header.{name}": "integration.response.header.{name}"'
                              for name, _ in RESERVED_HEADERS if name not in ("Content-Length", "Transfer-Encoding"))
    integrations = {
        "proxy": f"""\
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:{port}/proxy"
""",
        "http": f"""\
        type: http
        httpMethod: GET
        uri: "http://127.0.0.1:{port}/http"
        responses:
          default:
            statusCode: "200"
            responseParameters: {{{from_upstream}}}
""",
        "mock": f"""\
        type: mock
        requestTemplates: {{"application/json": '{{"statusCode": 200}}'}}
        responses:
          default:
            statusCode: "200"
            responseParameters: {{{mapped}}}
            responseTemplates: {{"application/json": '{{"mock":true}}'}}
""",
        "function": f"""\
        type: aws_proxy
        httpMethod: POST
        uri: "{FUNCTION_URI}"
""",
    }
    paths = "".join(f"  /{path}:\n" + "".join(f"    {method}:\n      x-amazon-apigateway-integration:\n{integration}"
                                              for method in methods)
                    for path, integration in integrations.items())
    return f'openapi: "3.0.1"\ninfo: {{title: reserved, version: "1"}}\npaths:\n{paths}'


RESERVED_PATHS = ("/prod/proxy", "/prod/http", "/prod/function", "/prod/mock")


def remapped_for(path, body_length):
    """What each integration of `reserved_api` answers remapped: every reserved name the upstream
    or mapping sent; the upstream's Content-Length is its body's (HTTP has no mapping for it)."""
    expected = dict(RESERVED_HEADERS[:15])
    if path == "/prod/proxy":
        expected["Content-Length"] = str(body_length)
    if path == "/prod/http":
        del expected["Content-Length"]
    return expected


def assert_remapped(response, path, body_length):
    for name, value in remapped_for(path, body_length).items():
        assert response.header(f"x-amzn-Remapped-{name}") == value, (path, name, response.headers)


def assert_framed_by_the_gateway(response, connection="close", body_length=None):
    """The reserved names came back remapped (`assert_remapped`) or not at all, and the response's
    framing, Date, request id and Connection are the gateway's own, once each. `connection` is the
    Connection header expected (None: none); `body_length` the Content-Length when the response
    has no body (HEAD)."""
    names = [name.lower() for name, _ in response.headers]
    for name in ("content-length", "date", "x-amzn-requestid", "x-amz-apigw-id"):
        assert names.count(name) == 1, (name, response.headers)
    assert names.count("connection") == (0 if connection is None else 1), response.headers
    assert response.header("Connection") == connection
    assert response.header("x-amzn-RequestId") != "upstream-id"
    assert int(response.header("Content-Length")) == (len(response.body) if body_length is None else body_length)
    for name in ("authorization", "content-md5", "expect", "host", "max-forwards", "proxy-authenticate", "server",
                 "trailer", "upgrade", "user-agent", "www-authenticate", "transfer-encoding", "keep-alive",
                 "proxy-connection", "te"):
        assert name not in names, (name, response.headers)
    for name in ("transfer-encoding", "keep-alive", "proxy-connection", "te"):
        assert f"x-amzn-remapped-{name}" not in names, name


def test_reserved_response_headers_are_remapped_or_dropped_for_every_integration(tmp_path, upstreams):
    upstream = upstreams("reserved")
    function = upstreams("lambda")
    server = start_gateway(tmp_path, reserved_api(upstream.port),
                           extra=f'lambda_functions:\n  reserved: "http://127.0.0.1:{function.port}"\n')
    proxied = request(server, "GET", "/prod/proxy")
    assert proxied.status == 200 and proxied.json()["target"] == "/proxy"
    # The upstream's own Content-Length is remapped too (its value is the body's length).
    assert_remapped(proxied, "/prod/proxy", len(proxied.body))
    assert_framed_by_the_gateway(proxied)
    mock = request(server, "GET", "/prod/mock")
    assert mock.status == 200 and mock.json() == {"mock": True}
    assert_remapped(mock, "/prod/mock", len(mock.body))
    assert_framed_by_the_gateway(mock)
    function_answer = request(server, "GET", "/prod/function", headers="X-Fake: reserved\r\n")
    assert function_answer.status == 200 and function_answer.body == b"reserved"
    assert_remapped(function_answer, "/prod/function", len(function_answer.body))
    assert_framed_by_the_gateway(function_answer)
    http = request(server, "GET", "/prod/http")
    assert http.status == 200
    assert_remapped(http, "/prod/http", len(http.body))
    assert_framed_by_the_gateway(http)


def test_reserved_headers_on_cache_hits_head_pipelines_and_http_1_0(tmp_path, upstreams):
    upstream = upstreams("reserved")
    function = upstreams("lambda")
    server = start_gateway(tmp_path, reserved_api(upstream.port, methods=("get", "head")),
                           stages="      prod:\n        cache: {capacity_mb: 8, ttl_seconds: 300}",
                           extra=f'lambda_functions:\n  reserved: "http://127.0.0.1:{function.port}"\n')
    # Every path twice, pipelined in one write on a keep-alive connection: the second GET of each
    # cached integration is a hit, and the mock (never cached) answers again.
    one = "GET {} HTTP/1.1\r\nHost: g\r\nX-Fake: reserved\r\n\r\n"
    traced = "GET {} HTTP/1.1\r\nHost: g\r\nX-Fake: reserved\r\nX-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a99427279{}\r\n\r\n"
    with server.connect(timeout=10) as connection:
        connection.sendall("".join(traced.format(path, index) for index, path in enumerate(RESERVED_PATHS * 2)).encode())
        responses = read_responses(connection, 8)
    assert len(responses) == 8
    lengths = {}
    for index, (path, response) in enumerate(zip(RESERVED_PATHS * 2, responses)):
        assert response.status == 200, (path, response.body)
        lengths[path] = len(response.body)
        assert_remapped(response, path, len(response.body))
        assert_framed_by_the_gateway(response, connection=None)
        traces = [value for name, value in response.headers if name.lower() == "x-amzn-trace-id"]
        if path != "/prod/mock":
            # Hits carry this request's trace (the client's, continued), as the integration's answers do.
            assert len(traces) == 1 and traces[0].startswith(f"Root=1-5759e988-bd862e3fe1be46a99427279{index};")
        else:
            assert traces == [], path
        if index >= 4 and path != "/prod/mock":
            assert response.header("Age") is not None, (path, "not a cache hit")
    assert len({response.header("x-amz-apigw-id") for response in responses}) == 8
    assert len({response.header("x-amzn-RequestId") for response in responses}) == 8
    # HEAD: the length a GET would have, no body, the same headers; the next answer follows the head.
    with server.connect(timeout=10) as connection:
        connection.sendall("".join(one.replace("GET", "HEAD").format(path) for path in RESERVED_PATHS).encode()
                           + one.format("/prod/mock").encode())
        data = b""
        while data.count(b"HTTP/1.1 ") < 5 or not data.endswith(b'{"mock":true}'):
            chunk = connection.recv(65536)
            assert chunk, data
            data += chunk
    heads = parse_responses(data[:data.rindex(b"HTTP/1.1 ")], head_only=True)
    for path, head in zip(RESERVED_PATHS, heads):
        assert head.status == 200 and head.body == b"", path
        # An echo's length varies with the request; the mock's and the function's do not.
        length = lengths[path] if path in ("/prod/mock", "/prod/function") else int(head.header("Content-Length"))
        assert length > 0, path
        assert_remapped(head, path, length)
        assert_framed_by_the_gateway(head, connection=None, body_length=length)
    # HTTP/1.0: closed after the answer unless it asks to be kept; cache hits and misses alike.
    for path in RESERVED_PATHS:
        closed = parse_response(server.exchange(f"GET {path} HTTP/1.0\r\nX-Fake: reserved\r\n\r\n".encode()))
        assert closed.status == 200, path
        assert_remapped(closed, path, len(closed.body))
        assert_framed_by_the_gateway(closed, connection="close")
        with server.connect(timeout=10) as connection:
            connection.sendall(f"GET {path} HTTP/1.0\r\nConnection: keep-alive\r\nX-Fake: reserved\r\n\r\n"
                               .encode())
            [kept] = read_responses(connection, 1)
        assert_remapped(kept, path, len(kept.body))
        assert_framed_by_the_gateway(kept, connection="keep-alive")


def mapped_api(port):
    return f"""\
openapi: "3.0.1"
info: {{title: mapped, version: "1"}}
paths:
  /framing:
    post:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: POST
        uri: "http://127.0.0.1:{port}/framing"
        requestParameters:
          integration.request.header.Content-Length: "'5'"
  /chunking:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:{port}/chunking"
        requestParameters:
          integration.request.header.transfer-encoding: "'chunked'"
  /host:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:{port}/host"
        requestParameters:
          integration.request.header.Host: method.request.header.X-Tenant
          integration.request.header.X-Mapped: method.request.header.X-Absent
          integration.request.header.X-Deployment: context.deploymentId
          integration.request.querystring.absent: method.request.querystring.nothing
          integration.request.querystring.present: method.request.querystring.here
"""


def test_reserved_request_headers_and_absent_sources(tmp_path, upstreams):
    upstream = upstreams("echo")
    server = start_gateway(tmp_path, mapped_api(upstream.port))
    # Mapping a header that frames the request is refused as API Gateway refuses it.
    for method, path in (("POST", "/prod/framing"), ("GET", "/prod/chunking")):
        refused = request(server, method, path, body=b"hello" if method == "POST" else b"")
        assert refused.status == 500, path
        assert refused.json() == {"message": "Internal server error"}
        assert refused.header("x-amzn-ErrorType") == "InternalServerErrorException"
    # A mapped Host replaces the URI's: exactly one Host reaches the upstream.
    mapped = request(server, "GET", "/prod/host?here=1", headers="X-Tenant: tenant-a.internal\r\n")
    hosts = [value for name, value in mapped.json()["headers"] if name.lower() == "host"]
    assert hosts == ["tenant-a.internal"]
    # Sources the request does not have send nothing: no empty header, no `absent=`.
    assert "x-mapped" not in [name.lower() for name, _ in mapped.json()["headers"]]
    assert mapped.json()["target"] == "/host?here=1&present=1"
    deployment = [value for name, value in mapped.json()["headers"] if name.lower() == "x-deployment"]
    assert len(deployment) == 1 and len(deployment[0]) == 6 and deployment[0].isalnum()
    unmapped = request(server, "GET", "/prod/host")
    hosts = [value for name, value in unmapped.json()["headers"] if name.lower() == "host"]
    assert hosts == [f"127.0.0.1:{upstream.port}"]
    assert unmapped.json()["target"] == "/host"


def test_gateway_identity_headers(tmp_path, upstreams):
    upstream = upstreams("reserved")
    function = upstreams("lambda")
    server = start_gateway(tmp_path, reserved_api(upstream.port),
                           extra=f'lambda_functions:\n  reserved: "http://127.0.0.1:{function.port}"\n')
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    for path, integration in (("/prod/mock", False), ("/prod/proxy", True), ("/prod/function", True),
                              ("/prod/http", True), ("/prod/nowhere", False)):
        response = request(server, "GET", path, headers=f"X-Amzn-Trace-Id: {trace}\r\n")
        extended = response.header("x-amz-apigw-id")
        assert extended is not None and len(extended) == 16 and extended.endswith("="), path
        traces = [value for name, value in response.headers if name.lower() == "x-amzn-trace-id"]
        if integration:
            # The client's trace, continued: its root, the gateway's span as the parent.
            assert len(traces) == 1 and traces[0].startswith("Root=1-5759e988-bd862e3fe1be46a994272793;"), path
        else:
            assert traces == [], path


def sized_api(ports):
    paths = "".join(f"""\
  /{kind}:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:{port}/{kind}"
""" for kind, port in ports.items())
    return f'openapi: "3.0.1"\ninfo: {{title: sized, version: "1"}}\npaths:\n{paths}'


def data_bytes(body, chunked):
    """The data in a (possibly cut) body: a chunked one's chunks, as far as they go."""
    if not chunked:
        return len(body)
    total = 0
    while body:
        size_line, separator, rest = body.partition(b"\r\n")
        if not separator:
            break
        size = int(size_line, 16)
        total += min(size, len(rest))
        body = rest[size + 2:]
    return total


def test_answers_are_held_to_their_own_limit_whatever_their_framing(tmp_path, upstreams):
    ports = {kind: upstreams(kind).port for kind in ("big", "chunked", "close", "echo")}
    server = start_gateway(tmp_path, sized_api(ports), extra="limits: {response_body_bytes: 2000}\n")
    # Within the limit, every framing passes; a request body limit of 10 MB does not matter here.
    assert request(server, "GET", "/prod/big", headers="X-Size: 2000\r\n").status == 200
    # Over it with a Content-Length: 502 before anything is sent.
    over = request(server, "GET", "/prod/big", headers="X-Size: 2001\r\n")
    assert over.status == 502 and over.json() == {"message": "Internal server error"}
    # Over it while streaming (the echoed request is padded past 2000 bytes): the connection ends
    # without the answer's end.
    pad = "x" * 3000
    for kind in ("chunked", "close"):
        raw = f"GET /prod/{kind} HTTP/1.1\r\nHost: g\r\nX-Pad: {pad}\r\nConnection: close\r\n\r\n".encode()
        data = server.exchange(raw, timeout=10)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), kind
        assert data_bytes(body, chunked=kind == "chunked") <= 2000, kind
        assert not body.endswith(b"0\r\n\r\n"), kind
    # Framing names spelled with underscores never reach an upstream.
    echoed = request(server, "GET", "/prod/echo", headers="Content_Length: 5\r\nTransfer_Encoding: chunked\r\n")
    names = [name.lower() for name, _ in echoed.json()["headers"]]
    assert "content_length" not in names and "transfer_encoding" not in names


def forwarded_api(port):
    return f"""\
openapi: "3.0.1"
info: {{title: forwarded, version: "1"}}
paths:
  /proxy:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: "http://127.0.0.1:{port}/proxy"
  /http:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: "http://127.0.0.1:{port}/http"
        requestParameters: {{"integration.request.header.X-Mapped": "method.request.header.X-Client"}}
        responses: {{default: {{statusCode: "200"}}}}
"""


CLIENT_HEADERS = ("X-Client: one\r\nContent-MD5: Q2hlY2s=\r\nMax-Forwards: 3\r\nServer: client\r\n"
                  "WWW-Authenticate: Basic\r\nContent-Encoding: identity\r\nAccept: text/html\r\n"
                  "User-Agent: curl/8\r\nContent-Type: text/plain\r\n")


def test_what_reaches_the_upstream(tmp_path, upstreams):
    upstream = upstreams("echo")
    server = start_gateway(tmp_path, forwarded_api(upstream.port))
    proxied = request(server, "POST", "/prod/proxy", body=b"hello", headers=CLIENT_HEADERS).json()
    names = {name.lower(): value for name, value in proxied["headers"]}
    # HTTP_PROXY: the client's headers less hop-by-hop ones and those API Gateway strips, plus
    # the API's id.
    for stripped in ("content-md5", "max-forwards", "server", "www-authenticate", "content-encoding"):
        assert stripped not in names, stripped
    assert names["x-client"] == "one" and names["accept"] == "text/html" and names["user-agent"] == "curl/8"
    assert names["x-amzn-apigateway-api-id"] == "proxy"
    assert names["content-length"] == "5"
    # A bodyless request says Content-Length: 0, whatever its method.
    bodyless = {name.lower(): value for name, value in request(server, "GET", "/prod/proxy").json()["headers"]}
    assert bodyless["content-length"] == "0"
    # So does a chunked body that turns out empty (here all in one write, with a trailer field),
    # and the request after it on the connection is read from where that body ends.
    empty = "POST {} HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: t\r\n\r\n"
    with server.connect(timeout=10) as connection:
        connection.sendall((empty.format("/prod/proxy") + empty.format("/prod/http")).encode()
                           + b"GET /prod/proxy?after=1 HTTP/1.1\r\nHost: g\r\n\r\n")
        answers = read_responses(connection, 3)
    assert [answer.status for answer in answers] == [200, 200, 200]
    for answer in answers[:2]:
        sent = {name.lower(): value for name, value in answer.json()["headers"]}
        assert sent["content-length"] == "0" and "transfer-encoding" not in sent, sent
        assert answer.json()["method"] == "POST"
    assert answers[2].json()["target"] == "/proxy?after=1"
    # HTTP (non-proxy): what API Gateway sends, and of the client's only the body's type and the
    # mapped values.
    http = request(server, "POST", "/prod/http", body=b"hello", headers=CLIENT_HEADERS)
    assert http.status == 200
    sent = {name.lower(): value for name, value in http.json()["headers"]}
    assert sent["accept"] == "application/json"
    assert sent["user-agent"] == "AmazonAPIGateway_proxy"
    assert sent["content-type"] == "text/plain"
    assert sent["x-amzn-apigateway-api-id"] == "proxy"
    assert sent["x-mapped"] == "one"
    for absent in ("x-client", "content-md5", "max-forwards", "server", "x-forwarded-for", "x-forwarded-proto",
                   "x-forwarded-port"):
        assert absent not in sent, absent


def test_placeholders_in_an_integration_uris_query(tmp_path, upstreams):
    upstream = upstreams("echo")
    api = f"""\
openapi: "3.0.1"
info: {{title: queried, version: "1"}}
paths:
  /items/{{id}}:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://127.0.0.1:{upstream.port}/items?id={{id}}&fixed=1&tag={{tag}}"
        requestParameters:
          integration.request.path.tag: method.request.header.X-Tag
          integration.request.querystring.mapped: "'yes'"
"""
    server = start_gateway(tmp_path, api)
    # The URI's own query first, its placeholders filled, then the client's, then the mapped.
    tagged = request(server, "GET", "/prod/items/7?client=1", headers="X-Tag: a b\r\n")
    assert tagged.json()["target"] == "/items?id=7&fixed=1&tag=a%20b&client=1&mapped=yes"
    # A placeholder the request has no value for: its parameter is not sent.
    untagged = request(server, "GET", "/prod/items/7")
    assert untagged.json()["target"] == "/items?id=7&fixed=1&mapped=yes"


def lambda_api(method="POST"):
    return f"""\
openapi: "3.0.1"
info: {{title: events, version: "1"}}
paths:
  /v1:
    post:
      x-amazon-apigateway-integration: {{type: aws_proxy, httpMethod: POST, uri: "{FUNCTION_URI}"}}
  /v2:
    post:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        payloadFormatVersion: "2.0"
        uri: "{FUNCTION_URI}"
  /get:
    get:
      x-amazon-apigateway-integration: {{type: aws_proxy, httpMethod: {method}, uri: "{FUNCTION_URI}"}}
"""


OMITTED = ("Max-Forwards: 3\r\nServer: s\r\nContent-MD5: Q2hlY2s=\r\nWWW-Authenticate: Basic\r\n"
           "Proxy-Authenticate: Basic\r\nTrailer: X-T\r\nUpgrade: h2c\r\nTE: trailers\r\nX-Kept: yes\r\n")


def test_lambda_events_and_answers_as_api_gateway_makes_them(tmp_path, upstreams):
    function = upstreams("lambda")
    server = start_gateway(tmp_path, lambda_api("GET"),
                           extra=f'lambda_functions:\n  reserved: "http://127.0.0.1:{function.port}"\n')
    deployments = set()
    for path in ("/prod/v1", "/prod/v2"):
        answer = request(server, "POST", path, body=b"payload", headers=OMITTED)
        event = answer.json()
        context = event["requestContext"]
        if path == "/prod/v1":
            # AWS's key set: a deployment id; the extended id is the x-amz-apigw-id the client got;
            # no apiKey / apiKeyId when no key was used.
            assert len(context["deploymentId"]) == 6 and context["deploymentId"].isalnum()
            deployments.add(context["deploymentId"])
            assert context["extendedRequestId"] == answer.header("x-amz-apigw-id")
            assert context["requestId"] == answer.header("x-amzn-RequestId")
            assert "apiKey" not in context["identity"] and "apiKeyId" not in context["identity"]
        else:
            assert "deploymentId" not in context and "extendedRequestId" not in context
        names = [name.lower() for name in event["headers"]]
        assert "x-kept" in names, path
        for omitted in ("max-forwards", "server", "content-md5", "www-authenticate", "proxy-authenticate",
                        "trailer", "upgrade", "te", "content-length", "connection", "transfer-encoding"):
            assert omitted not in names, (path, omitted)
    # An empty body is null in 1.0 and left out in 2.0, whether it came with Content-Length: 0 or
    # as a chunked body with no data.
    for path, framing in (("/prod/v1", "Content-Length: 0\r\n"), ("/prod/v1", "Transfer-Encoding: chunked\r\n"),
                          ("/prod/v2", "Transfer-Encoding: chunked\r\n")):
        raw = f"POST {path} HTTP/1.1\r\nHost: gateway.test\r\n{framing}Connection: close\r\n\r\n"
        if "chunked" in framing:
            raw += "0\r\n\r\n"
        event = parse_response(server.exchange(raw.encode(), timeout=20)).json()
        if path == "/prod/v1":
            assert event["body"] is None, framing
        else:
            assert "body" not in event, framing
        assert event["isBase64Encoded"] is False
    # The same inputs, the same deployment.
    again = request(server, "POST", "/prod/v1", body=b"payload").json()["requestContext"]["deploymentId"]
    assert deployments == {again}
    # 1.0 without statusCode: 200 with an empty body, as API Gateway answers it.
    answered = request(server, "POST", "/prod/v1", headers="X-Fake: nostatus\r\n")
    assert answered.status == 200 and answered.body == b"" and answered.header("X-Ignored") is None
    # An AWS_PROXY integration whose httpMethod is not POST answers 500.
    refused = request(server, "GET", "/prod/get")
    assert refused.status == 500 and refused.json() == {"message": "Internal server error"}
