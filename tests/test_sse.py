"""handlerkit.sse: event framing, heartbeats, Last-Event-ID, cleanup on disconnect, errors, the sync-worker warning."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sseclient

from handlerkit import App, NextRequest, sse
from handlerkit.testing import Client, write_app
from tests.support.servers import Server, gunicorn, wait_for_file

ROUTES = {
    "ten/route.py": """
        from handlerkit import sse

        def GET(request):
            def events():
                yield sse.Event("hello", event="greeting", id="1")
                yield sse.Event("line one\\nline two\\r\\nline three", id=2)
                yield {"n": 3, "text": "caf\\u00e9"}
                yield sse.Event({"n": 4}, event="update", id=4, retry=2500)
                for n in range(5, 11):
                    yield sse.Event({"n": n}, event="update", id=n)

            return sse.stream(events(), heartbeat=5)
    """,
    "idle/route.py": """
        import time
        from handlerkit import sse

        def GET(request):
            marker = request.args["marker"]
            heartbeat = float(request.args.get("heartbeat", "0.3"))

            def events():
                try:
                    yield sse.Event("ready", event="ready")
                    while True:
                        time.sleep(0.02)
                        yield None  # a tick: nothing to send
                finally:
                    with open(marker, "w") as handle:
                        handle.write(f"{time.monotonic()}")

            def closed():
                with open(marker + ".on_close", "w") as handle:
                    handle.write("called")

            return sse.stream(events(), heartbeat=heartbeat, on_close=closed)
    """,
    "blocking/route.py": """
        import time
        from handlerkit import sse

        def GET(request):
            def events():
                yield sse.Event("ready", event="ready")
                time.sleep(6)  # a generator stuck waiting, with no ticks
                yield sse.Event("late")

            return sse.stream(events(), heartbeat=0.2)
    """,
    "fail/route.py": """
        from handlerkit import sse

        def GET(request):
            def events():
                yield sse.Event({"n": 1}, id=1)
                yield sse.Event({"n": 2}, id=2)
                raise RuntimeError("feed crashed: secret=hunter2")

            return sse.stream(events(), headers={"X-Request-ID": "req-sse-fail"})
    """,
    "resume/route.py": """
        from handlerkit import sse

        def GET(request):
            start = sse.last_event_id(request)
            after = int(start) if start and start.isdigit() else 0
            return sse.stream((sse.Event(n, id=n) for n in range(after + 1, after + 4)), heartbeat=None)
    """,
    "plain/route.py": """
        def GET():
            return {"plain": True}
    """,
    "pid/route.py": """
        import os

        def GET():
            return {"pid": os.getpid()}
    """,
}


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_app(tmp_path_factory.mktemp("sse") / "app", ROUTES)


@pytest.fixture(scope="module")
def server(app_dir: Path) -> Iterator[Server]:
    with gunicorn(
        f"handlerkit:create_app({str(app_dir)!r})", worker_class="gthread", threads=8
    ) as running:
        yield running


# -- framing -------------------------------------------------------------------


def test_a_str_is_sent_as_is_and_anything_else_as_json() -> None:
    assert sse.encode_event("hi") == b"data: hi\n\n"
    assert sse.encode_event({"a": [1, "é"]}) == '{"a":[1,"é"]}'.join(["data: ", "\n\n"]).encode()
    assert sse.encode_event(None) == b"data: null\n\n"


def test_multi_line_data_becomes_several_data_lines() -> None:
    assert sse.encode_event("a\nb\r\nc\rd") == b"data: a\ndata: b\ndata: c\ndata: d\n\n"


def test_all_fields_are_framed_in_order() -> None:
    event = sse.Event({"x": 1}, event="update", id=7, retry=1500)
    assert event.encode() == b'event: update\nid: 7\nretry: 1500\ndata: {"x":1}\n\n'


@pytest.mark.parametrize("field", ["event", "id"])
@pytest.mark.parametrize("value", ["a\nevent: admin", "a\r\ndata: x", "a\rb", "a\x00b"])
def test_line_breaks_in_event_or_id_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        sse.encode_event("x", **{field: value})


@pytest.mark.parametrize("retry", [-1, 1.5, True, "100"])
def test_retry_must_be_a_non_negative_int(retry: object) -> None:
    with pytest.raises(ValueError):
        sse.encode_event("x", retry=retry)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sse.stream(iter(()), retry=retry)  # type: ignore[arg-type]


def test_last_event_id_is_read_from_the_header() -> None:
    assert sse.last_event_id(NextRequest("/", headers={"Last-Event-ID": "42"})) == "42"
    assert sse.last_event_id(NextRequest("/")) is None
    assert sse.last_event_id(NextRequest("/", headers={"Last-Event-ID": ""})) is None
    assert sse.last_event_id(NextRequest("/", headers={"Last-Event-ID": "a\x01b"})) is None
    assert sse.last_event_id(NextRequest("/", headers={"Last-Event-ID": "9" * 2000})) is None


# -- the response, in process ----------------------------------------------------


def test_the_response_has_the_event_stream_headers(app_dir: Path) -> None:
    response = Client(App(app_dir)).get("/resume")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert "Content-Length" not in response.headers
    assert (
        response.get_data()
        == b": stream opened\n\nid: 1\ndata: 1\n\nid: 2\ndata: 2\n\nid: 3\ndata: 3\n\n"
    )


def test_the_handler_sees_last_event_id(app_dir: Path) -> None:
    response = Client(App(app_dir)).get("/resume", headers={"Last-Event-ID": "7"})
    assert b"id: 8\n" in response.get_data() and b"id: 7\n" not in response.get_data()


def test_retry_is_sent_first_and_extra_headers_apply() -> None:
    response = sse.stream(iter(["x"]), retry=3000, headers={"X-Feed": "1"}, heartbeat=None)
    assert response.headers["X-Feed"] == "1"
    assert response.get_data() == b"retry: 3000\n\ndata: x\n\n"


def test_heartbeats_flow_while_the_generator_is_blocked() -> None:
    release = threading.Event()

    def events() -> Iterator[str]:
        yield "first"
        release.wait(10)
        yield "second"

    response = sse.stream(events(), heartbeat=0.05)
    chunks = iter(response.response)
    assert next(chunks) == b": stream opened\n\n"
    assert next(chunks) == b"data: first\n\n"
    assert [next(chunks) for _ in range(3)] == [b": ping\n\n"] * 3
    release.set()
    rest = list(chunks)
    assert b"data: second\n\n" in rest
    response.close()


def test_close_stops_the_producer_runs_finally_and_calls_on_close_once() -> None:
    finished = threading.Event()
    closes: list[int] = []

    def events() -> Iterator[object]:
        try:
            while True:
                time.sleep(0.01)
                yield None
        finally:
            finished.set()

    response = sse.stream(events(), heartbeat=0.05, on_close=lambda: closes.append(1))
    chunks = iter(response.response)
    next(chunks)
    next(chunks)  # a heartbeat: the generator is running in its thread
    response.close()
    response.close()
    assert finished.wait(5)
    assert closes == [1]


def test_a_stream_never_started_closes_its_generator_without_a_thread(app_dir: Path) -> None:
    closes: list[int] = []
    ran: list[int] = []

    def events() -> Iterator[str]:
        ran.append(1)
        yield "x"

    before = threading.active_count()
    response = sse.stream(events(), on_close=lambda: closes.append(1))
    response.close()
    assert ran == [] and closes == [1] and threading.active_count() == before


def test_head_sends_headers_only(app_dir: Path) -> None:
    response = Client(App(app_dir)).head("/ten")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response.get_data() == b""


def test_a_fast_generator_is_paused_when_the_client_does_not_read() -> None:
    produced: list[int] = []

    def events() -> Iterator[int]:
        while True:
            produced.append(1)
            yield len(produced)

    response = sse.stream(events(), buffer=8, heartbeat=None)
    next(iter(response.response))
    deadline, last = time.monotonic() + 5, -1
    while time.monotonic() < deadline and len(produced) != last:
        last = len(produced)
        time.sleep(0.1)
    assert len(produced) <= 8 + 2  # the queue, plus the event waiting to be put
    response.close()


def test_a_generator_error_becomes_an_error_event_and_is_logged_with_the_request_id(
    app_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="handlerkit"):
        response = Client(App(app_dir)).get("/fail")
    body = response.get_data()
    assert body.endswith(sse.ERROR_EVENT)
    assert b"hunter2" not in body and b"RuntimeError" not in body
    [record] = [r for r in caplog.records if r.name == "handlerkit"]
    assert "req-sse-fail" in record.getMessage() and "GET /fail" in record.getMessage()


def test_routes_using_sse_are_detected(app_dir: Path) -> None:
    app = App(app_dir)
    found = sorted(route.pattern for route in app.routes if sse.uses_sse(route))
    assert found == ["/blocking", "/fail", "/idle", "/resume", "/ten"]


# -- over gunicorn (gthread) ------------------------------------------------------


def test_ten_events_parse_with_a_real_sse_client(server: Server) -> None:
    response = requests.get(f"{server.url}/ten", stream=True, timeout=(5, 10))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    events = list(sseclient.SSEClient(response.iter_content(chunk_size=None)).events())
    assert len(events) == 10
    assert (events[0].event, events[0].data, events[0].id) == ("greeting", "hello", "1")
    assert events[1].data == "line one\nline two\nline three" and events[1].id == "2"
    assert events[2].event == "message" and json.loads(events[2].data) == {"n": 3, "text": "café"}
    assert str(events[3].retry) == "2500"
    assert [json.loads(e.data)["n"] for e in events[3:]] == list(range(4, 11))
    assert all(e.event == "update" for e in events[3:])
    assert [e.id for e in events[3:]] == [str(n) for n in range(4, 11)]


def test_last_event_id_resumes_over_gunicorn(server: Server) -> None:
    response = requests.get(
        f"{server.url}/resume", headers={"Last-Event-ID": "5"}, stream=True, timeout=(5, 10)
    )
    events = list(sseclient.SSEClient(response.iter_content(chunk_size=None)).events())
    assert [e.id for e in events] == ["6", "7", "8"]


def read_until(sock: socket.socket, needle: bytes, count: int, limit: float = 10.0) -> bytes:
    received = b""
    deadline = time.monotonic() + limit
    while received.count(needle) < count:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"saw {received.count(needle)} of {count} {needle!r}: {received[-300:]!r}"
            )
        data = sock.recv(65536)
        if not data:
            break
        received += data
    return received


def test_heartbeats_arrive_while_the_generator_is_blocked_over_gunicorn(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /blocking HTTP/1.1\r\nHost: t\r\n\r\n")
        received = read_until(sock, b": ping\n\n", 4)
    assert received.startswith(b"HTTP/1.1 200 OK")
    assert b"event: ready\r\n" not in received and b"event: ready\ndata: ready\n\n" in received
    assert b"late" not in received  # the generator is still blocked: only heartbeats flowed


def test_heartbeats_arrive_while_the_stream_is_idle_over_gunicorn(
    server: Server, tmp_path: Path
) -> None:
    marker = tmp_path / "finally"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            f"GET /idle?marker={marker}&heartbeat=0.2 HTTP/1.1\r\nHost: t\r\n\r\n".encode()
        )
        received = read_until(sock, b": ping\n\n", 3)
    assert received.count(b"data: ready") == 1
    assert wait_for_file(marker)


def test_closing_the_client_runs_cleanup_within_one_heartbeat_over_gunicorn(
    server: Server, tmp_path: Path
) -> None:
    heartbeat = 2.0
    marker = tmp_path / "finally"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"GET /idle?marker={marker}&heartbeat={heartbeat} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
        )
        read_until(sock, b"data: ready\n\n", 1)
        assert not marker.exists()
        closed_at = time.monotonic()
    written = wait_for_file(marker, timeout=heartbeat + 5)
    assert written, "the generator's finally never ran"
    elapsed = float(written) - closed_at
    # The disconnect is noticed at the next heartbeat tick (a peek sees EOF)
    # and the idle generator is closed at its next tick; one second of slack.
    assert elapsed < heartbeat + 1.0, f"cleanup took {elapsed:.2f} s with a {heartbeat} s heartbeat"
    assert wait_for_file(Path(f"{marker}.on_close")) == "called"


def test_a_generator_error_sends_an_error_event_then_closes_over_gunicorn(server: Server) -> None:
    response = requests.get(f"{server.url}/fail", stream=True, timeout=(5, 10))
    events = list(sseclient.SSEClient(response.iter_content(chunk_size=None)).events())
    assert [e.event for e in events] == ["message", "message", "error"]
    assert json.loads(events[2].data) == {
        "error": "internal_error",
        "message": "An internal error occurred.",
    }
    deadline = time.monotonic() + 5
    while "req-sse-fail" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "GET /fail (request id req-sse-fail)" in server.output()
    assert requests.get(f"{server.url}/plain", timeout=5).json() == {"plain": True}


# -- the sync-worker warning ----------------------------------------------------------

WARNING = "stream server-sent events"


def test_the_sync_worker_with_sse_routes_warns_once(app_dir: Path) -> None:
    spec = f"handlerkit:create_app({str(app_dir)!r})"
    with gunicorn(spec, worker_class="sync", workers=2, threads=1, timeout=30) as running:
        # Both workers have built the App once each has answered a request.
        pids: set[int] = set()
        deadline = time.monotonic() + 20
        while len(pids) < 2 and time.monotonic() < deadline:
            pids.add(requests.get(f"{running.url}/pid", timeout=5).json()["pid"])
        assert len(pids) == 2
        output = running.output()
    assert output.count(WARNING) == 1, output
    assert "--worker-class gthread" in output and "30 s" in output


def test_the_sync_worker_with_preload_warns_once_from_the_master(app_dir: Path) -> None:
    spec = f"handlerkit:create_app({str(app_dir)!r})"
    with gunicorn(spec, worker_class="sync", workers=2, threads=1, args=["--preload"]) as running:
        output = running.output()
    assert output.count(WARNING) == 1, output


def test_gthread_and_apps_without_sse_do_not_warn(app_dir: Path, tmp_path: Path) -> None:
    with gunicorn(
        f"handlerkit:create_app({str(app_dir)!r})", worker_class="gthread", threads=2
    ) as running:
        assert WARNING not in running.output()
    plain = write_app(tmp_path / "plain", {"a/route.py": ROUTES["plain/route.py"]})
    with gunicorn(
        f"handlerkit:create_app({str(plain)!r})", worker_class="sync", threads=1
    ) as running:
        assert WARNING not in running.output()
