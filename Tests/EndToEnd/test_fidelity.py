"""Issue 13's rules of fidelity to API Gateway, against the real binary and a real upstream."""

from test_proxy import request, start_gateway, upstreams  # noqa: F401 (fixture)


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
