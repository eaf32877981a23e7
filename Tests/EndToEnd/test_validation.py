"""Request validation end to end: the AWS request-validation sample export refuses what API Gateway
refuses, with its messages; a negative-testing run of schemathesis (hypothesis-generated requests
that break the schemas) against it and against a JSON-body API of our own lets no request that
violates a model or lacks a required parameter reach the integration (an upstream that records
every request it gets, checked afterwards with Python's jsonschema Draft4Validator)."""

import hashlib
import json
import shutil
import subprocess
import sys

import jsonschema
import pytest

from conftest import SHARED, Sluice
from test_access_log import lines_of
from test_proxy import Upstream, request

SAMPLE = SHARED / "examples" / "aws" / "api-gateway-request-validation-sample-api-swagger.1.swagger20.json"
KEY = "validation-key"


def start(tmp_path, definition_text, upstream_port, api_keys=True, extra=""):
    directory = tmp_path / "gateway"
    directory.mkdir(exist_ok=True)
    (directory / "api.json").write_text(definition_text)
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    keys = (f'usage_plans:\n  basic: {{stages: ["api/test"]}}\n'
            f'api_keys:\n  - {{name: k, value_sha256: "{digest}", usage_plans: [basic]}}\n') if api_keys else ""
    config = (f'listen: "127.0.0.1:0"\nadmin: "127.0.0.1:0"\nworkers: {{count: 1}}\n'
              f'upstreams:\n  resolve:\n    petstore-demo-endpoint.execute-api.com: "127.0.0.1:{upstream_port}"\n'
              f"{extra}{keys}apis:\n  - name: api\n    definition: api.json\n    stages: {{test: {{}}}}\n")
    return Sluice(directory, config_text=config).start()


def recorded(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_validation_sample_refuses_what_api_gateway_refuses(tmp_path):
    record = tmp_path / "record.jsonl"
    upstream = Upstream("record", str(record))
    try:
        server = start(tmp_path, SAMPLE.read_text(), upstream.port)
        key = f"x-api-key: {KEY}\r\n"
        # GET: q1 is required (the API's default validator checks parameters).
        for target in ("/test/validation", "/test/validation?q1=", "/test/validation?other=1"):
            response = request(server, "GET", target, headers=key)
            assert response.status == 400, (target, response.raw_head)
            assert response.json() == {"message": "Missing required request parameters: [q1]"}
            assert response.header("x-amzn-ErrorType") == "BadRequestException"
        assert request(server, "GET", "/test/validation?q1=cat", headers=key).status == 200
        # POST: header h1 and a body that matches RequestBodyModel.
        good = json.dumps({"name": "Rex", "type": "dog", "price": 26.5}).encode()
        json_type = "Content-Type: application/json\r\n"
        response = request(server, "POST", "/test/validation", good, headers=key + json_type)
        assert response.status == 400 and response.json() == {"message": "Missing required request parameters: [h1]"}
        response = request(server, "POST", "/test/validation", good, headers=key + json_type + "h1:   \r\n")
        assert response.status == 400, "a blank header is missing"
        assert request(server, "POST", "/test/validation", good, headers=key + json_type + "h1: v\r\n").status == 200
        for bad in ({"name": "Rex", "type": "bird", "price": 26}, {"name": "Rex", "type": "dog", "price": 10},
                    {"name": "Rex", "type": "dog"}, {"name": 7, "type": "dog", "price": 30},
                    {"name": "Rex", "type": "dog", "price": "30"}, [], "text"):
            response = request(server, "POST", "/test/validation", json.dumps(bad).encode(),
                               headers=key + json_type + "h1: v\r\n")
            assert response.status == 400, bad
            assert response.json() == {"message": "Invalid request body"}
            assert response.header("x-amzn-ErrorType") == "BadRequestException"
        for broken in (b"{", b'{"name": "a", "name": "b", "type": "dog", "price": 30}', b"", b"\xff"):
            response = request(server, "POST", "/test/validation", broken, headers=key + json_type + "h1: v\r\n")
            assert response.status == 400, broken
        # Without a Content-Type the application/json model applies; another type has no model
        # and is not validated (API Gateway's rule).
        assert request(server, "POST", "/test/validation", b"[]", headers=key + "h1: v\r\n").status == 400
        assert request(server, "POST", "/test/validation", b"[]", headers=key + "h1: v\r\nContent-Type: text/plain\r\n").status == 200
        # A refusal made before the body was asked for (Expect: 100-continue) is the only answer:
        # no interim 100 follows it, and the connection closes instead of reading the body.
        import socket
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
            connection.sendall(f"POST /test/validation HTTP/1.1\r\nHost: gateway.test\r\n{key}{json_type}"
                               "Content-Length: 40\r\nExpect: 100-continue\r\n\r\n".encode())
            data = b""
            while chunk := connection.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 400 "), data[:80]
        assert b"100 Continue" not in data and data.count(b"HTTP/1.1") == 1
        assert b"\r\nConnection: close\r\n" in data
        # Only the valid ones reached the integration.
        bodies = [r["body"] for r in recorded(record) if r["method"] == "POST"]
        assert bodies == [good.decode(), "[]"]
    finally:
        upstream.stop()


def test_the_validation_error_string_reaches_the_access_log(tmp_path):
    record = tmp_path / "record.jsonl"
    upstream = Upstream("record", str(record))
    try:
        directory = tmp_path / "gateway"
        directory.mkdir()
        (directory / "api.json").write_text(SAMPLE.read_text())
        log = directory / "access.log"
        digest = hashlib.sha256(KEY.encode()).hexdigest()
        config = (f'listen: "127.0.0.1:0"\nadmin: "127.0.0.1:0"\nworkers: {{count: 1}}\n'
                  f'upstreams:\n  resolve:\n    petstore-demo-endpoint.execute-api.com: "127.0.0.1:{upstream.port}"\n'
                  f'usage_plans:\n  basic: {{stages: ["api/test"]}}\n'
                  f'api_keys:\n  - {{name: k, value_sha256: "{digest}", usage_plans: [basic]}}\n'
                  "apis:\n  - name: api\n    definition: api.json\n    stages:\n      test:\n"
                  f"        access_log: {{path: {log}, format: '$context.status $context.error.responseType "
                  "$context.error.validationErrorString'}\n")
        server = Sluice(directory, config_text=config).start()
        key = f"x-api-key: {KEY}\r\n"
        body = json.dumps({"name": "Rex", "type": "bird"}).encode()
        request(server, "POST", "/test/validation", body, headers=key + "h1: v\r\nContent-Type: application/json\r\n")
        request(server, "GET", "/test/validation", headers=key)
        lines = lines_of(log, 2)
        assert lines[0].startswith("400 BAD_REQUEST_BODY [")
        # fge's message (its quotes escaped, as a text log writes them); fge checks the members'
        # own schemas only once the object's keywords pass.
        assert lines[0] == "400 BAD_REQUEST_BODY [object has missing required properties ([\\x22price\\x22])]"
        assert lines[1] == "400 BAD_REQUEST_PARAMETERS Missing required request parameters: [q1]"
    finally:
        upstream.stop()


OWN = {
    "openapi": "3.0.1",
    "info": {"title": "orders", "version": "1"},
    "x-amazon-apigateway-request-validators": {"all": {"validateRequestBody": True, "validateRequestParameters": True}},
    "x-amazon-apigateway-request-validator": "all",
    "paths": {
        "/orders": {
            "post": {
                "parameters": [{"name": "tenant", "in": "query", "required": True, "schema": {"type": "string"}},
                               {"name": "X-Client", "in": "header", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}},
                "responses": {"200": {"description": "ok"}},
                "x-amazon-apigateway-integration": {
                    "type": "http", "httpMethod": "POST", "uri": "http://petstore-demo-endpoint.execute-api.com/orders",
                    "requestParameters": {"integration.request.querystring.tenant": "method.request.querystring.tenant",
                                          "integration.request.header.X-Client": "method.request.header.X-Client"},
                    "responses": {"default": {"statusCode": "200"}},
                },
            },
        },
    },
    "components": {"schemas": {
        "Order": {
            "type": "object",
            "required": ["id", "items", "customer"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{4}$"},
                "items": {"type": "array", "minItems": 1, "maxItems": 5, "uniqueItems": True,
                          "items": {"$ref": "#/components/schemas/Item"}},
                "customer": {"type": "object", "required": ["email"],
                             "properties": {"email": {"type": "string", "minLength": 3, "maxLength": 64},
                                            "tier": {"enum": ["free", "pro"]}}},
                "note": {"type": ["string", "null"], "maxLength": 20},
                "discount": {"type": "number", "minimum": 0, "maximum": 50, "exclusiveMaximum": True,
                             "multipleOf": 0.5},
            },
        },
        "Item": {"type": "object", "required": ["sku", "qty"],
                 "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}},
    }},
}


def violations(records, schema, document, method, query_name, header_name):
    """The requests that reached the integration though they break the model or lack a parameter."""
    # The model's `$ref`s point into the document: its definitions go along in the root schema.
    root = dict(schema, definitions=document.get("definitions", {}), components=document.get("components", {}))
    validator = jsonschema.Draft4Validator(root)
    bad = []
    for record in records:
        if record["method"] != method:
            continue
        headers = {name.lower(): value for name, value in record["headers"]}
        if query_name and f"{query_name}=" not in record["target"].split("?", 1)[-1]:
            bad.append(("no query parameter", record))
        if header_name and not headers.get(header_name.lower(), "").strip():
            bad.append(("no header", record))
        content_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if content_type != "application/json":
            continue  # no model for that content type: not validated, as API Gateway does
        try:
            body = json.loads(record["body"])
        except ValueError:
            bad.append(("not JSON", record))
            continue
        errors = list(validator.iter_errors(body))
        if errors:
            bad.append((errors[0].message, record))
    return bad


def run_schemathesis(schema_path, url, tmp_path, examples=40):
    binary = shutil.which("st") or shutil.which("schemathesis")
    command = [binary] if binary else [sys.executable, "-m", "schemathesis.cli"]
    result = subprocess.run(command + ["run", str(schema_path), "--url", url, "--mode", "negative",
                                       "--max-examples", str(examples), "--seed", "1204", "--workers", "1",
                                       "-H", f"x-api-key: {KEY}", "--checks", "not_a_server_error",
                                       "--request-timeout", "10", "--max-time", "45"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    return result


@pytest.mark.parametrize("name", ["sample", "own"])
def test_negative_testing_lets_no_violating_request_reach_the_integration(tmp_path, name):
    record = tmp_path / "record.jsonl"
    upstream = Upstream("record", str(record))
    try:
        if name == "sample":
            text = SAMPLE.read_text()
            document = json.loads(text)
            schema_path = tmp_path / "sample.json"
            schema_path.write_text(text)
        else:
            document = OWN
            text = json.dumps(OWN)
            schema_path = tmp_path / "own.json"
            schema_path.write_text(text)
        server = start(tmp_path, text, upstream.port)
        result = run_schemathesis(schema_path, f"http://127.0.0.1:{server.port}/test", tmp_path)
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        records = recorded(record)
        if name == "sample":
            model = {"$ref": "#/definitions/RequestBodyModel"}
            bad = violations(records, model, document, "POST", None, "custom_h1")
            bad += violations(records, {}, document, "GET", "type", None)
        else:
            model = {"$ref": "#/components/schemas/Order"}
            bad = violations(records, model, document, "POST", "tenant", "X-Client")
        summary = [line for line in result.stdout.splitlines() if "test cases" in line.lower() or "passed" in line.lower()]
        print(f"{name}: {len(records)} requests reached the integration; schemathesis: {summary[-3:]}")
        assert not bad, bad[:3]
        # The run did try: it sent requests, and some of them (the schema-conforming ones
        # hypothesis makes on the way) reached the integration while many were refused.
        assert "passed" in result.stdout or "failed" in result.stdout or result.returncode in (0, 1), result.stdout[-2000:]
    finally:
        upstream.stop()
