"""Upstream servers for the end-to-end tests, run as real processes:

    python3 upstream.py KIND            (prints "port N" on stdout once listening)
    python3 upstream.py KIND --tls CERT KEY   the same over TLS

KIND:
  echo     keep-alive HTTP/1.1; answers 200 with a JSON description of the request it got
           (method, target, headers, body length and sha256) and counts connections
  mirror   like echo, with the request's body (as text) in the description
  record   like mirror, and appends each description as a JSON line to the file named by its
           argument (upstream.py record FILE): what reached the integration
  chunked  like echo, but the answer is sent with Transfer-Encoding: chunked in small chunks
  slow     reads the request, waits 5 s, then answers like echo
  reset    accepts, reads the request, then resets the connection (RST)
  garbage  answers every request with bytes that are not HTTP
  close    answers like echo with no Content-Length and closes to end the body (HTTP/1.0 style)
  status   answers with the status named by the request's X-Status header (default 200)
  big      answers with a body of the size the X-Size header names, deterministic bytes
  oneshot  answers the first request of a connection like echo (promising keep-alive), and closes
           the connection without answer when a second request arrives on it: a stale connection
  counting like echo, adding "count" (requests answered so far) to the body, and "pad", X-Size
           bytes of x; waits X-Delay-Ms before answering; GET /__count answers {"count": N} without counting itself
  reserved like echo, with every response header API Gateway reserves (RESERVED_HEADERS)
  lambda   a fake Lambda Runtime Interface Emulator: checks the invoke request (POST to the invoke
           path, JSON, chunked as Sluice sends it), decodes the event, and answers as the event's
           X-Fake header says (see `invoke`); by default it echoes the event in the body.
           An authorizer's event (type TOKEN or REQUEST) is answered as its identity says
           (see `authorize`); GET /__authorizer answers the calls so far, per identity
"""

import base64
import gzip
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time

connections = 0
answered = 0
lock = threading.Lock()


def read_request(connection, buffer):
    while b"\r\n\r\n" not in buffer:
        chunk = connection.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ")
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
    lookup = {name.lower(): value for name, value in headers}
    body = b""
    if "chunked" in lookup.get("transfer-encoding", "").lower():
        while True:
            while b"\r\n" not in buffer:
                buffer += connection.recv(65536)
            size_line, buffer = buffer.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(buffer) < size + 2:
                buffer += connection.recv(65536)
            body += buffer[:size]
            buffer = buffer[size + 2:]
            if size == 0:
                break
    else:
        length = int(lookup.get("content-length", "0"))
        while len(buffer) < length:
            chunk = connection.recv(65536)
            if not chunk:
                return None, b""
            buffer += chunk
        body, buffer = buffer[:length], buffer[length:]
    request = {"method": method, "target": target, "version": version, "headers": headers,
               "body_length": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
               "connections": connections, "_body": body}
    return request, buffer


def serve(connection, kind):
    global connections, answered
    with lock:
        connections += 1
    buffer = b""
    served = 0
    try:
        while True:
            request, buffer = read_request(connection, buffer)
            if request is None:
                return
            lookup = {name.lower(): value for name, value in request["headers"]}
            served += 1
            if kind == "oneshot" and served > 1:
                return
            if kind == "reset":
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if kind == "garbage":
                connection.sendall(b"this is not HTTP at all\r\n\r\n")
                return
            if kind == "slow":
                time.sleep(5)
            if kind == "big":
                size = int(lookup.get("x-size", "0"))
                block = bytes(range(256)) * 4096
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
                connection.sendall(head.encode())
                sent = 0
                while sent < size:
                    piece = block[:min(len(block), size - sent)]
                    connection.sendall(piece)
                    sent += len(piece)
                continue
            raw_body = request.pop("_body")
            if kind == "counting":
                if request["target"] == "/__count":
                    body = json.dumps({"count": answered}).encode()
                else:
                    time.sleep(int(lookup.get("x-delay-ms", "0")) / 1000)
                    with lock:
                        answered += 1
                        request["count"] = answered
                    request["pad"] = "x" * int(lookup.get("x-size", "0"))
                    body = json.dumps(request).encode()
                status = int(lookup.get("x-status", "200"))
                connection.sendall(f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                                   f"Content-Length: {len(body)}\r\nX-Upstream: counting\r\n\r\n".encode() + body)
                continue
            if kind == "lambda" and request["target"] == "/__authorizer":
                with lock:
                    state = json.dumps({"calls": AUTHORIZER_CALLS, "events": AUTHORIZER_EVENTS}).encode()
                connection.sendall(http_answer(200, state))
                continue
            if kind == "lambda":
                answer = invoke(request, raw_body)
                connection.sendall(answer)
                if answer.endswith(CUT_SHORT):
                    return  # The function's process died mid-answer.
                continue
            if kind == "encoded":
                # An answer the upstream compressed itself (its Content-Encoding says so).
                body = gzip.compress(json.dumps(request).encode(), mtime=0)
                connection.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                                   f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                continue
            if kind == "reflect":
                # The request's body back as it came, of the type X-Answer-Type names.
                answer_type = lookup.get("x-answer-type", "application/octet-stream")
                connection.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: {answer_type}\r\n"
                                   f"Content-Length: {len(raw_body)}\r\n\r\n".encode() + raw_body)
                continue
            if kind in ("mirror", "record"):
                request["body"] = raw_body.decode("utf-8", "replace")
            if kind == "record":
                with lock, open(RECORD_PATH, "a") as record:
                    record.write(json.dumps(request) + "\n")
            body = json.dumps(request).encode()
            status = int(lookup.get("x-status", "200")) if kind == "status" else 200
            if kind == "reserved":
                head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                        + "".join(f"{name}: {value}\r\n" for name, value in RESERVED_HEADERS
                                  if name not in ("Content-Length", "Transfer-Encoding")) + "\r\n")
                connection.sendall(head.encode() + body)
                continue
            if kind == "chunked":
                head = f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nX-Upstream: {kind}\r\n\r\n"
                pieces = [body[i:i + 7] for i in range(0, len(body), 7)]
                connection.sendall(head.encode() + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n")
            elif kind == "close":
                connection.sendall(f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n".encode() + body)
                return
            else:
                head = (f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                        f"X-Upstream: {kind}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\n\r\n")
                connection.sendall(head.encode() + body)
    except (ConnectionError, OSError):
        pass
    finally:
        connection.close()


# Response headers API Gateway sends as x-amzn-Remapped-NAME, or drops (the last four; Sluice drops
# the hop-by-hop Keep-Alive, Proxy-Connection and TE too).
RESERVED_HEADERS = [
    ("Authorization", "Bearer x"), ("Connection", "keep-alive"), ("Content-Length", "3"), ("Content-MD5", "Q2hlY2s="),
    ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"), ("Expect", "x"), ("Host", "upstream.internal"),
    ("Max-Forwards", "3"), ("Proxy-Authenticate", "Basic"), ("Server", "upstream/1.0"), ("Trailer", "X-T"),
    ("Upgrade", "h2c"), ("User-Agent", "upstream"), ("WWW-Authenticate", "Basic"), ("x-amzn-RequestId", "upstream-id"),
    ("Transfer-Encoding", "gzip"), ("Keep-Alive", "timeout=5"), ("Proxy-Connection", "keep-alive"), ("TE", "trailers"),
]

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
CUT_SHORT = b'{"statusCode":' 


def http_answer(status, body, headers=""):
    return (f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{headers}\r\n").encode() + body


AUTHORIZER_CALLS = {}
AUTHORIZER_EVENTS = {}


def authorize(event):
    """A Lambda authorizer's answer: the identity (the token, or the first identity source)
    picks it by its first word."""
    if event["type"] == "TOKEN":
        identity = event["authorizationToken"]
    elif event.get("version") == "2.0":
        identity = event["identitySource"][0]
    else:
        identity = {name.lower(): value for name, value in (event.get("headers") or {}).items()}.get("x-identity", "")
    with lock:
        AUTHORIZER_CALLS[identity] = AUTHORIZER_CALLS.get(identity, 0) + 1
        AUTHORIZER_EVENTS[identity] = event
    arn = event.get("methodArn") or event.get("routeArn")
    word = identity.split("-")[0]
    context = {"user": identity, "n": 7, "admin": True}

    def policy(*statements):
        return {"principalId": f"user-{identity}", "context": context,
                "policyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}
    if word == "allow":
        answer = policy({"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": arn})
    elif word == "keyed":
        answer = policy({"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"})
        answer["usageIdentifierKey"] = "k-lambda"
    elif word == "wild":
        answer = policy({"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:*:*:*/*/GET/*"})
    elif word == "deny":
        answer = policy({"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"},
                        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": arn})
    elif word == "other":
        answer = policy({"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*/POST/elsewhere"})
    elif word == "unauthorized":
        return http_answer(200, b'{"errorMessage":"Unauthorized","errorType":"Error"}', "X-Amz-Function-Error: Unhandled\r\n")
    elif word == "malformed":
        answer = {"principalId": "x"}
    elif word == "slow":
        time.sleep(11)
        answer = policy({"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"})
    elif word == "delay":
        time.sleep(0.5)
        answer = policy({"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"})
    elif word == "yes":
        answer = {"isAuthorized": True, "context": context}
    elif word == "no":
        answer = {"isAuthorized": False}
    else:
        answer = policy()
    return http_answer(200, json.dumps(answer).encode())


def invoke(request, body):
    """The emulator's answer to one invoke request, as bytes."""
    lookup = {name.lower(): value for name, value in request["headers"]}
    if (request["method"] != "POST" or request["target"] != INVOKE_PATH
            or lookup.get("content-type") != "application/json"
            or lookup.get("transfer-encoding") != "chunked"):
        return http_answer(400, json.dumps({"bad invoke request": request}).encode())
    try:
        event = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return http_answer(400, json.dumps({"event is not JSON": str(error)}).encode())
    if event.get("type") in ("TOKEN", "REQUEST"):
        return authorize(event)
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    mode = headers.get("x-fake", "echo")
    version2 = event.get("version") == "2.0"
    if mode == "echo":
        answer = {"statusCode": 200, "headers": {"Content-Type": "application/json", "X-Function": "pets"},
                  "body": json.dumps(event)}
        if not version2:
            answer["multiValueHeaders"] = {"Set-Cookie": ["a=1", "b=2"]}
    elif mode == "nostatus":
        answer = {"body": "ignored", "headers": {"X-Ignored": "1"}}
    elif mode == "reserved":
        answer = {"statusCode": 200, "headers": dict(RESERVED_HEADERS), "body": "reserved"}
    elif mode == "cors":
        answer = {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "https://evil.example",
                                                 "Content-Type": "text/plain"}, "body": "cors"}
    elif mode == "connections":
        answer = {"statusCode": 200, "body": str(request["connections"])}
    elif mode == "status":
        answer = {"statusCode": int(headers.get("x-status", "200")), "body": "status"}
    elif mode == "malformed":
        answer = {"statusCode": 200, "body": {"not": "a string"}}
    elif mode == "error":
        answer = {"errorMessage": "boom", "errorType": "Error"}
    elif mode == "function-error":
        return http_answer(200, b'{"errorMessage":"boom"}', "X-Amz-Function-Error: Unhandled\r\n")
    elif mode == "garbage":
        return http_answer(200, b"this is not JSON")
    elif mode == "crash":
        return b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + CUT_SHORT
    elif mode == "injected":
        answer = {"statusCode": 200, "headers": {"X-Bad": "a\r\nInjected: yes"}, "body": "x"}
    elif mode == "base64":
        answer = {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
                  "isBase64Encoded": True, "body": base64.b64encode(bytes(range(256))).decode()}
    elif mode == "inferred":
        answer = {"hello": "world"}
    elif mode == "cookies":
        answer = {"statusCode": 201, "cookies": ["a=1; Path=/", "b=2"], "headers": {"X-One": "1"}, "body": "ok"}
    elif mode == "remapped":
        answer = {"statusCode": 200, "headers": {"Date": "yesterday", "x-amzn-RequestId": "theirs",
                                                 "Content-Length": "999", "Connection": "close"}, "body": "mine"}
    elif mode == "big":
        answer = {"statusCode": 200, "headers": {"Content-Type": "text/plain"},
                  "body": "\u00e9" * (int(headers.get("x-size", "0")) // 6)}  # \u00e9 is 6 bytes of JSON
    elif mode == "slow":
        time.sleep(3)
        answer = {"statusCode": 200, "body": "late"}
    elif mode == "chunked":
        data = json.dumps({"statusCode": 200, "body": "chunked answer"}).encode()
        pieces = [data[i:i + 5] for i in range(0, len(data), 5)]
        return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n")
    else:
        answer = {"statusCode": 500, "body": "unknown mode"}
    return http_answer(200, json.dumps(answer).encode())


RECORD_PATH = None


def main():
    global RECORD_PATH
    kind = sys.argv[1]
    if kind == "record":
        RECORD_PATH = sys.argv[2]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # UPSTREAM_PORT: a fixed port (tools/bench's fake Lambda emulator); else any free one.
    listener.bind(("127.0.0.1", int(os.environ.get("UPSTREAM_PORT", "0"))))
    listener.listen(512)
    context = None
    if len(sys.argv) >= 5 and sys.argv[2] == "--tls":
        # python3 upstream.py KIND --tls CERT KEY: the same over TLS (the handshake in the
        # connection's thread, so that a client that stalls it holds up nobody else).
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
    print(f"port {listener.getsockname()[1]}", flush=True)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve_tls if context else serve, args=(connection, kind, context) if context
                         else (connection, kind), daemon=True).start()


def serve_tls(connection, kind, context):
    try:
        secure = context.wrap_socket(connection, server_side=True)
    except OSError:
        connection.close()
        return
    serve(secure, kind)


if __name__ == "__main__":
    main()
