"""Requests gunicorn itself refuses get the JSON error shape under `handlerkit serve`, over a raw socket.

Each refusal class gunicorn answers before the app (malformed header lines, control
characters, conflicting body framing, an over-long request line, too many headers)
keeps its status and gets ``{"error", "message"}`` instead of gunicorn's HTML page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlerkit.testing import write_app
from handlerkit.workers import refusal_bytes
from tests.support.servers import gunicorn, handlerkit_serve
from tests.support.slow_clients import REFUSAL_CASES, exchange

ROUTE = {"echo/route.py": "def POST(request):\n    return {'n': len(request.bytes())}\n\ndef GET():\n    return {'ok': True}\n"}

CASES = REFUSAL_CASES


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp("refusals")
    app_dir = write_app(root / "app", ROUTE)
    with handlerkit_serve(app_dir, "--workers", "1") as port:
        yield port


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
