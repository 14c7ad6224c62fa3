"""Streamed response bodies: sent chunk by chunk, closed on disconnect, failures logged with the request id."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from handlerkit import App
from handlerkit.testing import Client, write_app
from tests.support.servers import Server, gunicorn, wait_for_file

ROUTES = {
    # Yields a chunk, then waits until the client creates the file named by the
    # chunk before yielding the next: if anything buffered the body, the
    # client would never see the first chunk and the test would time out.
    "lockstep/route.py": """
        import os, time
        from handlerkit import NextResponse

        def GET(request):
            folder = request.args["dir"]

            def body():
                for index in range(4):
                    yield f"chunk-{index};".encode()
                    deadline = time.monotonic() + 10
                    while not os.path.exists(os.path.join(folder, f"ack-{index}")):
                        if time.monotonic() > deadline:
                            return
                        time.sleep(0.01)

            return NextResponse(body(), headers={"Content-Type": "text/plain"})
    """,
    "forever/route.py": """
        import os, time
        from handlerkit import NextResponse

        def GET(request):
            marker = request.args["marker"]

            def body():
                try:
                    while True:
                        yield b"x" * 1024
                        time.sleep(0.02)
                finally:
                    with open(marker, "w") as handle:
                        handle.write("closed")

            return NextResponse(body())
    """,
    "broken/route.py": """
        from handlerkit import NextResponse

        def GET(request):
            def body():
                yield b"first;"
                yield b"second;"
                raise RuntimeError("database went away")

            return NextResponse(body(), headers={"X-Request-ID": "req-broken-1"})
    """,
    "fine/route.py": """
        def GET():
            return {"ok": True}
    """,
}


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_app(tmp_path_factory.mktemp("streaming") / "app", ROUTES)


@pytest.fixture(scope="module")
def server(app_dir: Path) -> Iterator[Server]:
    with gunicorn(
        f"handlerkit:create_app({str(app_dir)!r})", worker_class="gthread", threads=4
    ) as running:
        yield running


# -- in process ----------------------------------------------------------------


def test_a_generator_body_is_not_run_before_it_is_iterated(app_dir: Path) -> None:
    app = App(app_dir)
    started: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        started.append(status)

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/broken",
        "SERVER_NAME": "x",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
    }
    body = app(environ, start_response)
    assert started == ["200 OK"]
    assert not isinstance(body, list)
    assert next(iter(body)) == b"first;"
    body.close()  # type: ignore[attr-defined]


def test_closing_the_response_runs_the_generator_finally(app_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "closed"
    response = Client(App(app_dir)).get(
        "/forever", query_string={"marker": str(marker)}, buffered=False
    )
    chunks = response.response
    assert next(iter(chunks)) == b"x" * 1024
    assert not marker.exists()
    response.close()
    assert marker.read_text() == "closed"


def test_an_exception_after_the_headers_is_logged_with_the_request_id_and_ends_the_body(
    app_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="handlerkit"):
        response = Client(App(app_dir)).get("/broken")
    assert response.status_code == 200
    assert response.get_data() == b"first;second;"
    records = [r for r in caplog.records if r.name == "handlerkit"]
    assert len(records) == 1
    assert "GET /broken" in records[0].getMessage()
    assert "req-broken-1" in records[0].getMessage()
    assert records[0].exc_info is not None and records[0].exc_info[0] is RuntimeError


def test_the_logged_request_id_is_the_one_with_logging_returned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = App(
        write_app(
            tmp_path / "logged",
            {
                "r/route.py": """
                    from handlerkit import NextResponse, with_logging

                    @with_logging
                    def GET():
                        def body():
                            yield b"one;"
                            raise RuntimeError("late failure")
                        return NextResponse(body())
                """
            },
        )
    )
    with caplog.at_level(logging.ERROR, logger="handlerkit"):
        response = Client(app).get("/r")
    request_id = response.headers["X-Request-ID"]
    assert response.get_data() == b"one;"
    [record] = [r for r in caplog.records if "streamed body" in r.getMessage()]
    assert f"(request id {request_id})" in record.getMessage()


def test_a_buffered_response_keeps_the_fast_path(app_dir: Path) -> None:
    app = App(app_dir)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/fine",
        "SERVER_NAME": "x",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
    }
    body = app(environ, lambda status, headers: None)
    assert body == [b'{"ok":true}']


# -- over gunicorn -------------------------------------------------------------


def test_chunks_arrive_separately_and_in_order_over_gunicorn(
    server: Server, tmp_path: Path
) -> None:
    response = requests.get(
        f"{server.url}/lockstep", params={"dir": str(tmp_path)}, stream=True, timeout=(5, 10)
    )
    assert response.status_code == 200
    assert response.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.headers
    received = []
    chunks = response.raw.read_chunked(decode_content=False)
    for index in range(4):
        chunk = next(chunks)
        received.append((time.monotonic(), chunk))
        # The next chunk is only produced after this acknowledgement exists.
        (tmp_path / f"ack-{index}").touch()
    assert list(chunks) == []
    response.close()
    assert [chunk for _, chunk in received] == [f"chunk-{i};".encode() for i in range(4)]
    stamps = [stamp for stamp, _ in received]
    assert stamps == sorted(stamps)


def test_a_client_disconnect_runs_the_generator_finally_over_gunicorn(
    server: Server, tmp_path: Path
) -> None:
    marker = tmp_path / "closed"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(f"GET /forever?marker={marker} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        received = b""
        while received.count(b"x" * 1024) < 2:
            received += sock.recv(65536)
        assert received.startswith(b"HTTP/1.1 200 OK")
        assert not marker.exists()
    assert wait_for_file(marker) == "closed", "the generator's finally did not run after the client left"


def test_an_exception_mid_stream_ends_the_response_cleanly_over_gunicorn(server: Server) -> None:
    response = requests.get(f"{server.url}/broken", timeout=(5, 10))
    # A complete chunked body (no ChunkedEncodingError) with what was sent before the failure.
    assert response.status_code == 200
    assert response.content == b"first;second;"
    deadline = time.monotonic() + 5
    while "req-broken-1" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.output()
    assert "an exception ended the streamed body of GET /broken (request id req-broken-1)" in log
    assert "RuntimeError: database went away" in log
    # The worker survived and still answers.
    assert requests.get(f"{server.url}/fine", timeout=5).json() == {"ok": True}
