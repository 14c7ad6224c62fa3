"""The core under a real gunicorn: examples/hello over HTTP, streamed chunks, body limits."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from handlerkit.testing import write_app
from tests.support.servers import Server, gunicorn

pytestmark = pytest.mark.slow

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello"
TIMEOUT = 10


@pytest.fixture(scope="module")
def hello() -> Iterator[Server]:
    with gunicorn(f"handlerkit:create_app({str(HELLO)!r})") as server:
        yield server


def _raw(server: Server, request: bytes, *, read_until_close: bool = True) -> bytes:
    """Send raw bytes and return everything the server answers (bounded by TIMEOUT)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
            if not read_until_close and b"\r\n\r\n" in data:
                return data


def test_hello_answers_over_http(hello: Server) -> None:
    root = requests.get(hello.url + "/", timeout=TIMEOUT)
    assert root.status_code == 200
    assert root.headers["Content-Type"] == "application/json"
    assert root.json() == {"message": "Hello, World!"}
    assert requests.get(hello.url + "/api/users/1", timeout=TIMEOUT).json() == {
        "id": "1",
        "name": "Ada Lovelace",
    }
    assert requests.get(hello.url + "/api/docs/a/b", timeout=TIMEOUT).json() == {
        "slug": ["a", "b"],
        "path": "a/b",
    }
    assert requests.get(hello.url + "/api/shop", timeout=TIMEOUT).json() == {"slug": []}
    assert requests.get(hello.url + "/about", timeout=TIMEOUT).json() == {
        "about": "handlerkit hello example"
    }


def test_hello_errors_are_json_over_http(hello: Server) -> None:
    missing = requests.get(hello.url + "/nope", timeout=TIMEOUT)
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "No route matches this URL."}
    refused = requests.delete(hello.url + "/api/users", timeout=TIMEOUT)
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert refused.json()["error"] == "method_not_allowed"
    unknown = requests.request("BREW", hello.url + "/api/users", timeout=TIMEOUT)
    assert unknown.status_code == 501 and unknown.json()["error"] == "not_implemented"
    bad_json = requests.post(
        hello.url + "/api/users",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert bad_json.status_code == 400 and bad_json.json()["error"] == "invalid_json"


def test_hello_post_creates_over_http(hello: Server) -> None:
    created = requests.post(hello.url + "/api/users", json={"name": "Grace"}, timeout=TIMEOUT)
    assert created.status_code == 201
    user = created.json()
    assert requests.get(f"{hello.url}/api/users/{user['id']}", timeout=TIMEOUT).json() == user


def test_head_and_options_over_http(hello: Server) -> None:
    get = requests.get(hello.url + "/api/users/1", timeout=TIMEOUT)
    head = requests.head(hello.url + "/api/users/1", timeout=TIMEOUT)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == "application/json"
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    options = requests.options(hello.url + "/api/users/1", timeout=TIMEOUT)
    assert options.status_code == 204
    assert options.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_trailing_slash_redirect_over_http(hello: Server) -> None:
    response = requests.get(
        hello.url + "/api/users/?limit=1", allow_redirects=False, timeout=TIMEOUT
    )
    assert response.status_code == 308
    assert response.headers["Location"] == "/api/users?limit=1"
    followed = requests.get(hello.url + "/api/users/?limit=1", timeout=TIMEOUT)
    assert followed.json()["count"] == 1


def test_encoded_slash_stays_in_one_param_with_gunicorns_raw_uri(hello: Server) -> None:
    # gunicorn passes RAW_URI: %2F stays inside the segment
    docs = requests.get(hello.url + "/api/docs/a%2Fb/c", timeout=TIMEOUT)
    assert docs.json() == {"slug": ["a/b", "c"], "path": "a/b/c"}
    user = requests.get(hello.url + "/api/users/1%2F2", timeout=TIMEOUT)
    assert user.status_code == 404
    assert user.json()["message"] == "User not found."  # the [id] route ran, with id "1/2"


def test_hostile_paths_over_http(hello: Server) -> None:
    for path, status in [
        ("/api/users/%zz", 400),
        ("/api/docs/%2e%2e/x", 400),
        ("/api/users/%C0%AE", 400),
        ("/api/docs/a%00b", 400),
    ]:
        answer = _raw(
            hello, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        assert answer.startswith(f"HTTP/1.1 {status}".encode()), (path, answer[:80])
        assert b"application/json" in answer.split(b"\r\n\r\n")[0]
    evil = _raw(hello, b"GET //evil.com/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert evil.startswith(b"HTTP/1.1 308")
    location = next(line for line in evil.split(b"\r\n") if line.lower().startswith(b"location:"))
    assert location.split(b":", 1)[1].strip() == b"/evil.com"


def test_stream_chunks_arrive_separately_and_in_order(hello: Server) -> None:
    started = time.monotonic()
    with requests.get(hello.url + "/api/stream", stream=True, timeout=TIMEOUT) as response:
        assert response.status_code == 200
        assert response.headers.get("Transfer-Encoding") == "chunked"
        arrivals = [
            (time.monotonic() - started, piece)
            for piece in response.iter_content(chunk_size=None)
            if piece
        ]
    pieces = [piece for _, piece in arrivals]
    assert pieces == [b"Hello", b" streamed", b" World!"]  # three separate reads, in order
    times = [when for when, _ in arrivals]
    assert times == sorted(times) and len(set(times)) == 3


def test_stream_first_chunk_is_on_the_socket_before_the_last_is_produced(hello: Server) -> None:
    with socket.create_connection(("127.0.0.1", hello.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET /api/stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received: list[tuple[float, bytes]] = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received.append((time.monotonic(), chunk))
    body = b"".join(data for _, data in received)
    assert body.startswith(b"HTTP/1.1 200")
    assert b"Hello" in body and body.index(b"Hello") < body.index(b" streamed") < body.index(
        b" World!"
    )
    first = next(i for i, (_, data) in enumerate(received) if b"Hello" in data)
    last = next(i for i, (_, data) in enumerate(received) if b"World!" in data)
    assert first < last  # "Hello" came in an earlier recv than "World!": not buffered
    assert received[first][0] < received[last][0]


# -- body limits on a real socket ------------------------------------------------------------


@pytest.fixture(scope="module")
def limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = write_app(
        tmp_path_factory.mktemp("limits"),
        {
            "echo/route.py": "def POST(request):\n    return {'size': len(request.bytes())}\n",
            "small/route.py": (
                "max_body_size = 1000\n"
                "\n"
                "def POST(request):\n"
                "    return {'size': len(request.bytes())}\n"
            ),
        },
    )
    with gunicorn(f"handlerkit:create_app({str(root)!r})") as server:
        yield server


def test_413_is_answered_before_any_body_byte_is_sent(limits: Server) -> None:
    # The client announces 10 MB and sends nothing: only an app that never reads answers.
    answer = _raw(
        limits,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: 10485760\r\n\r\n",
        read_until_close=False,
    )
    assert answer.startswith(b"HTTP/1.1 413")
    small = _raw(
        limits,
        b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n",
        read_until_close=False,
    )
    assert small.startswith(b"HTTP/1.1 413")


def _chunked_post(server: Server, path: str, size: int) -> bytes:
    body = b"x" * size
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    head += "Connection: close\r\n\r\n"
    request = head.encode() + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    return _raw(server, request)


def test_a_chunked_body_over_the_route_limit_is_413_not_truncated(limits: Server) -> None:
    assert _chunked_post(limits, "/small", 5000).startswith(b"HTTP/1.1 413")
    exact = _chunked_post(limits, "/small", 1000)
    assert exact.startswith(b"HTTP/1.1 200") and exact.endswith(b'{"size":1000}')
    assert _chunked_post(limits, "/echo", 4000).endswith(b'{"size":4000}')
