"""request.body: the request body read chunk by chunk, never buffered, bounded by the route's limit."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from handlerkit import App, NextRequest
from handlerkit.errors import ApiError
from handlerkit.testing import Client, write_app
from tests.support.servers import Server, gunicorn

ROUTES = {
    "ingest/route.py": """
        import hashlib
        max_body_size = 1024 * 1024

        def POST(request):
            digest, sizes = hashlib.sha256(), []
            for chunk in request.body:
                digest.update(chunk)
                sizes.append(len(chunk))
            return {"sha256": digest.hexdigest(), "chunks": len(sizes), "largest": max(sizes, default=0),
                    "total": sum(sizes), "buffered": "_cached_data" in request.__dict__}
    """,
}


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_app(tmp_path_factory.mktemp("body") / "app", ROUTES)


@pytest.fixture(scope="module")
def server(app_dir: Path) -> Iterator[Server]:
    with gunicorn(
        f"handlerkit:create_app({str(app_dir)!r})", worker_class="gthread", threads=4
    ) as running:
        yield running


def chunked(data: bytes, size: int = 50_000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_body_yields_bounded_chunks_without_buffering() -> None:
    data = os.urandom(300_000)
    request = NextRequest("/x", method="POST", data=data)
    chunks = list(request.body)
    assert len(chunks) > 1 and max(map(len, chunks)) <= 64 * 1024
    assert b"".join(chunks) == data
    assert "_cached_data" not in request.__dict__


def test_body_after_a_full_read_replays_the_buffered_bytes() -> None:
    request = NextRequest("/x", method="POST", data=b"abc")
    assert request.bytes() == b"abc"
    assert list(request.body) == [b"abc"]


def test_streaming_consumes_the_body() -> None:
    from handlerkit.errors import HandlerKitError

    request = NextRequest("/x", method="POST", data=b"abc")
    assert b"".join(request.body) == b"abc"
    with pytest.raises(HandlerKitError):
        request.bytes()


def test_body_over_the_limit_is_413_in_process(app_dir: Path) -> None:
    response = Client(App(app_dir)).post("/ingest", data=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_a_body_shorter_than_its_content_length_is_400() -> None:
    request = NextRequest("/x", method="POST", data=b"abc")
    request.environ["CONTENT_LENGTH"] = "10"
    with pytest.raises(ApiError) as caught:
        list(request.body)
    assert caught.value.status == 400


def test_a_chunked_upload_within_the_limit_streams_over_gunicorn(server: Server) -> None:
    data = os.urandom(900_000)
    response = requests.post(f"{server.url}/ingest", data=chunked(data), timeout=(5, 20))
    assert response.status_code == 200
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    body = response.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["total"] == len(data)
    assert body["chunks"] > 1 and body["largest"] <= 64 * 1024
    assert body["buffered"] is False


def test_a_chunked_upload_growing_past_the_limit_is_413_over_gunicorn(server: Server) -> None:
    # B2: no Content-Length to check up front; the limit trips while streaming.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /ingest HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n"
        )
        piece = b"y" * 65536
        frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        try:
            for _ in range(20):  # 1.25 MiB > 1 MiB
                sock.sendall(frame)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before reading everything
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert (
        json.loads(body[body.index(b"{") : body.rindex(b"}") + 1])["error"] == "payload_too_large"
    )


def test_a_content_length_over_the_limit_is_413_before_the_body_is_sent_over_gunicorn(
    server: Server,
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /ingest HTTP/1.1\r\nHost: t\r\nContent-Length: 52428800\r\n\r\n")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413")
