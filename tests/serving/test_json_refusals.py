"""Requests gunicorn itself refuses get the JSON error shape under `handlerkit serve`, over a raw socket.

Each refusal class gunicorn answers before the app (malformed header lines, control
characters, conflicting body framing, an over-long request line, too many headers)
keeps its status and gets ``{"error", "message"}`` instead of gunicorn's HTML page.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlerkit.testing import write_app
from handlerkit.workers import refusal_bytes
from tests.support.servers import ROOT, free_port, gunicorn, stop, wait_for_port

ROUTE = {"echo/route.py": "def POST(request):\n    return {'n': len(request.bytes())}\n\ndef GET():\n    return {'ok': True}\n"}

CASES = {
    "header line without a colon": (b"GET /echo HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400),
    "CR inside a header value": (b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
    "NUL inside a header value": (b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400),
    "two Content-Length headers": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
        400,
    ),
    "chunked and Content-Length": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        400,
    ),
    "a malformed chunk size": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        400,
    ),
    "an unknown transfer coding": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\n",
        501,
    ),
    "a request line over 4094 bytes": (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "too many headers": (
        b"GET /echo HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(120)) + b"\r\n",
        431,
    ),
    "a malformed request line": (b"GET\r\n\r\n", 400),
}


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp("refusals")
    app_dir = write_app(root / "app", ROUTE)
    port, log = free_port(), root / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "handlerkit", "serve", str(app_dir), "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        wait_for_port(port, proc)
        yield port
    finally:
        stop(proc, signal.SIGTERM)


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_refusal_class_answers_the_json_shape_with_its_status(served: int, case: str) -> None:
    raw, expected = CASES[case]
    status, headers, body = exchange(served, raw)
    assert status == expected, (case, status, body)
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    document = json.loads(body)
    assert set(document) == {"error", "message"}
    assert document["error"] and document["message"].endswith(".")
    assert b"<html" not in body.lower()


def test_a_good_request_still_reaches_the_app(served: int) -> None:
    status, _, body = exchange(served, b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and json.loads(body) == {"ok": True}


def test_plain_gunicorn_with_the_sync_worker_class(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", ROUTE)
    with gunicorn(
        f"handlerkit:create_app({str(app_dir)!r})",
        worker_class="handlerkit.workers.SyncWorker",
        threads=1,  # gunicorn swaps any *SyncWorker with threads > 1 for its own gthread
    ) as server:
        status, headers, body = exchange(server.port, CASES["too many headers"][0])
    assert status == 431 and headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "error": "request_header_fields_too_large",
        "message": "The request's headers are too many or too large.",
    }


def test_the_refusal_bytes_are_a_complete_response() -> None:
    raw = refusal_bytes(414, "The request line is too long.")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414 URI Too Long\r\nConnection: close\r\n")
    assert json.loads(body) == {"error": "request_uri_too_long", "message": "The request line is too long."}
