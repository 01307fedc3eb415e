"""Malformed requests get Swift's status codes and plain bodies, never a 500."""
from __future__ import annotations

import json

import httpx
import pytest


@pytest.fixture(scope="module")
def http(cluster, swift):
    swift.put_container("bad")
    swift.put_object("bad", "o", b"0123456789")
    with httpx.Client(base_url=f"{cluster.url}/v1/AUTH_test",
                      headers={"X-Auth-Token": cluster.token()}) as client:
        yield client


@pytest.mark.parametrize("method,path,headers,body,status,text", [
    ("PUT", "/bad/" + "x" * 1025, {}, b"", 400, "Object name length of 1025 longer than 1024"),
    ("PUT", "/" + "c" * 257, {}, b"", 400, "Container name length of 257 longer than 256"),
    ("PUT", "/bad/m", {"X-Object-Meta-" + "k" * 129: "v"}, b"", 400, "Metadata name too long"),
    ("PUT", "/bad/m", {"X-Object-Meta-K": "v" * 257}, b"", 400, "Metadata value longer than"),
    ("PUT", "/bad/m", {f"X-Object-Meta-K{i}": "v" for i in range(91)}, b"", 400,
     "Too many metadata items"),
    ("PUT", "/bad/m", {f"X-Object-Meta-K{i}": "v" * 100 for i in range(45)}, b"", 400,
     "Total metadata too large"),
    ("POST", "/bad", {"X-Container-Meta-" + "k" * 129: "v"}, b"", 400, "Metadata name too long"),
    ("PUT", "/missing/o", {}, b"x", 404, "Not Found"),
    ("GET", "/missing", {}, b"", 404, "Not Found"),
    ("GET", "/bad/none", {}, b"", 404, "Not Found"),
    ("GET", "/bad/o", {"Range": "bytes=50-60"}, b"", 416, "Range Not Satisfiable"),
    ("GET", "/bad?limit=10001", {}, b"", 412, "Maximum limit is 10000"),
    ("GET", "/bad?limit=x", {}, b"", 412, "limit"),
    ("GET", "/bad?delimiter=ab", {}, b"", 412, "Bad delimiter"),
    ("PUT", "/bad/o", {"X-Delete-At": "soon"}, b"x", 400, "Non-integer X-Delete-At"),
    ("PUT", "/bad/o", {"X-Delete-After": "-5"}, b"x", 400, "X-Delete-After in past"),
    ("PUT", "/bad/o", {"If-None-Match": "abc"}, b"x", 400, "If-None-Match only supports *"),
    ("PUT", "/bad/o", {"X-Object-Manifest": "nocontainer"}, b"", 400, "X-Object-Manifest"),
    ("PUT", "/bad/slo?multipart-manifest=put", {}, b"{not json", 400, "valid JSON"),
    ("PUT", "/bad/slo?multipart-manifest=put", {}, json.dumps({"path": "/bad/o"}).encode(),
     400, "list"),
    ("PUT", "/bad/slo?multipart-manifest=put", {},
     json.dumps([{"path": "/bad/o", "size_bytes": 3}]).encode(), 400, "Size Mismatch"),
    ("PUT", "/bad/slo?multipart-manifest=put", {},
     json.dumps([{"path": "nope"}]).encode(), 400, "path"),
    ("PUT", "/bad/slo?multipart-manifest=put", {},
     json.dumps([{"path": "/bad/o"}] * 1001).encode(), 413, "Too many segments"),
    ("DELETE", "/bad", {}, b"", 409, "Conflict"),
    ("PUT", "", {}, b"", 405, "Method Not Allowed"),
    ("PATCH", "/bad/o", {}, b"", 405, "Method Not Allowed"),
])
def test_bad_request_gets_swifts_answer(http, method, path, headers, body, status, text):
    response = http.request(method, path, headers=headers, content=body)
    assert response.status_code == status, response.text
    assert text in response.text
    assert "Traceback" not in response.text


def raw_put(cluster, extra: str) -> str:
    """The status line and body of a PUT sent by hand (headers no client would send)."""
    import socket
    host, port = cluster.url.removeprefix("http://").split(":")
    request = (f"PUT /v1/AUTH_test/bad/raw HTTP/1.1\r\nHost: {host}\r\n"
               f"X-Auth-Token: {cluster.token()}\r\n{extra}Connection: close\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request.encode())
        return sock.recv(4096).decode()


def test_length_required_without_length_or_chunking(cluster, http):
    assert raw_put(cluster, "").startswith("HTTP/1.1 411")


def test_declared_length_over_the_object_limit(cluster, http):
    reply = raw_put(cluster, "Content-Length: 99999999999\r\n")
    assert reply.startswith("HTTP/1.1 413 Request Entity Too Large")
