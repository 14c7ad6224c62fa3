"""BAD_INPUTS.md rows answered on the wire: B3-B6, D7 and H1, K1 and K3 over a real gunicorn and raw sockets.

One gunicorn (gthread, 2 workers) serves the hostile app with a Redis-backed rate limit for
the whole module; layer-G rows check gunicorn's own answers (HTML, not the JSON shape).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlerkit.testing import write_app
from tests.hostile.app_files import FILES, SECRETS
from tests.support.leaks import assert_no_leak
from tests.support.servers import Server, gunicorn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, redis_proc: Server
) -> Iterator[tuple[Server, Path]]:
    base = tmp_path_factory.mktemp("hostile-gunicorn")
    app_dir = write_app(base / "app", FILES)
    marks = base / "marks"
    marks.mkdir()
    env = {"HOSTILE_REDIS": f"redis://127.0.0.1:{redis_proc.port}/5", "HOSTILE_MARKS": str(marks)}
    with gunicorn(
        f"handlerkit:create_app({str(app_dir)!r})", workers=2, threads=8, env=env, log_dir=base
    ) as server:
        yield server, marks


def exchange(
    server: Server, data: bytes, *, half_close: bool = True, timeout: float = 10.0
) -> bytes:
    """Send raw *data*, then read until the server closes (or *timeout*)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
    return received


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1."), response[:200]
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> bytes:
    return response.partition(b"\r\n\r\n")[2]


def get(server: Server, path: str, headers: str = "") -> bytes:
    return exchange(
        server,
        f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}\r\n".encode(),
    )


def alive(server: Server) -> None:
    response = get(server, "/users/me")
    assert status_of(response) == 200 and json.loads(body_of(response)) == {"who": "me"}


def no_tracebacks(server: Server) -> None:
    log = server.output()
    assert "Traceback" not in log, log[-3000:]


def test_B3_short_body_then_hang_up_is_400_or_dropped(served: tuple[Server, Path]) -> None:
    server, _ = served
    for path, ctype in (
        ("/json", "application/json"),
        ("/upload", "multipart/form-data; boundary=xyz"),
        ("/users", "application/json"),
    ):
        head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {ctype}\r\nContent-Length: 1000\r\n\r\n"
        response = exchange(server, head.encode() + b'{"a": "only part')
        assert response == b"" or status_of(response) == 400, response[:300]
        if response:
            assert_no_leak(body_of(response), secrets=SECRETS)
    # Hanging up without closing the write side: the worker thread gives up at the socket timeout.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /json HTTP/1.1\r\nHost: localhost\r\nContent-Length: 50\r\n\r\n{")
    alive(server)
    no_tracebacks(server)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /json HTTP/1.1\r\nHost: l\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /json HTTP/1.1\r\nHost: l\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}{}{}",
        b"POST /json HTTP/1.1\r\nHost: l\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /json HTTP/1.1\r\nHost: l\r\nContent-Length: -1\r\n\r\n{}",
        b"POST /json HTTP/1.1\r\nHost: l\r\nContent-Length: +2\r\n\r\n{}",
        b"POST /json HTTP/1.1\r\nHost: l\r\nContent-Length: 0x2\r\n\r\n{}",
        b"POST /json HTTP/1.1\r\nHost: l\r\nContent-Length: 2 2\r\n\r\n{}",
        b"POST /json HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
        b"POST /json HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        b"POST /json HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        b"POST /json HTTP/1.1\r\nHost: l\r\nContent-Length : 2\r\n\r\n{}",
        b"GET /users/me HTTP/9.9\r\nHost: l\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET /users/me HTTP/1.1\r\nHost: l\r\nBad Header: x\r\n\r\n",
        b"GET /users/me HTTP/1.1\r\nHost: l\r\nX-A: a\x00b\r\n\r\n",
        b"GET /users/me HTTP/1.1\r\nHost: l\r\nX-A: a\x7fb\r\n\r\n",
        b"GET /users/me HTTP/1.1\r\nHost: l\r\n folded: x\r\n\r\n",
        b"GET /users/me\x00 HTTP/1.1\r\nHost: l\r\n\r\n",
    ],
    ids=[
        "cl-and-te",
        "duplicate-cl",
        "duplicate-equal-cl",
        "negative-cl",
        "plus-cl",
        "hex-cl",
        "spaced-cl",
        "two-te",
        "bad-chunk-size",
        "unknown-te",
        "space-before-colon",
        "http-9",
        "garbage",
        "space-in-name",
        "nul-in-value",
        "del-in-value",
        "obs-fold",
        "nul-in-target",
    ],
)
def test_B4_ambiguous_framing_is_400_from_gunicorn(
    served: tuple[Server, Path], request_bytes: bytes
) -> None:
    server, _ = served
    response = exchange(server, request_bytes)
    # gunicorn answers an unknown transfer coding with 501 (Not Implemented), all else with 400.
    assert status_of(response) == (501 if b"xchunked" in request_bytes else 400), response[:300]
    assert b"Traceback" not in response
    assert_no_leak(body_of(response), secrets=SECRETS)
    alive(server)


def test_B5_line_and_header_limits_are_414_and_431(served: tuple[Server, Path]) -> None:
    server, _ = served
    long_line = exchange(server, f"GET /users/{'x' * 4100} HTTP/1.1\r\nHost: l\r\n\r\n".encode())
    assert status_of(long_line) == 414
    many = "".join(f"X-H{i}: v\r\n" for i in range(101))
    assert (
        status_of(exchange(server, f"GET /users/me HTTP/1.1\r\nHost: l\r\n{many}\r\n".encode()))
        == 431
    )
    huge = f"GET /users/me HTTP/1.1\r\nHost: l\r\nX-Big: {'v' * 8200}\r\n\r\n"
    assert status_of(exchange(server, huge.encode())) == 431
    cookie = f"GET /whoami HTTP/1.1\r\nHost: l\r\nCookie: a={'c' * 8200}\r\n\r\n"
    assert status_of(exchange(server, cookie.encode())) == 431
    # Just under the limits: the app answers.
    ok = "".join(f"X-H{i}: v\r\n" for i in range(90))
    assert (
        status_of(
            exchange(
                server,
                f"GET /users/me HTTP/1.1\r\nHost: l\r\nConnection: close\r\n{ok}\r\n".encode(),
            )
        )
        == 200
    )
    for response in (long_line,):
        assert_no_leak(body_of(response), secrets=SECRETS)
    alive(server)


def test_B6_slow_clients_do_not_block_gthread_workers(served: tuple[Server, Path]) -> None:
    server, _ = served
    slow = []
    try:
        for _ in range(6):  # more slow clients than one worker has... threads are per connection
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(
                b"POST /json HTTP/1.1\r\nHost: l\r\nContent-Type: application/json\r\nContent-Length: 100\r\nX-"
            )
            slow.append(sock)
        for sock in slow[:3]:
            sock.sendall(b"Slow: 1\r\n\r\n{")  # headers done, body trickling
        for _ in range(5):
            alive(server)  # others are served meanwhile
    finally:
        for sock in slow:
            sock.close()
    no_tracebacks(server)


def test_D7_long_paths_over_gunicorn(served: tuple[Server, Path]) -> None:
    server, _ = served
    response = get(server, "/files/" + "/".join("s" for _ in range(1000)))
    assert status_of(response) == 200 and len(json.loads(body_of(response))["path"]) == 1000
    response = get(server, "/users/" + "x" * 1100)
    assert status_of(response) == 400 and json.loads(body_of(response))["error"] == "invalid_param"
    assert (
        status_of(get(server, "/users/" + "x" * 4096)) == 414
    )  # past gunicorn's request-line limit
    response = get(server, "/files/a%2F..%2F..%2Fetc")
    assert status_of(response) == 400 and json.loads(body_of(response))["error"] == "invalid_param"
    response = get(server, "/users/a%2Fb")
    assert json.loads(body_of(response)) == {"id": "a/b"}


def test_H1_a_burst_over_two_workers_with_redis_allows_exactly_the_limit(
    served: tuple[Server, Path],
) -> None:
    server, _ = served
    results: list[int] = []
    lock = threading.Lock()
    bucket = f"h1-{time.time_ns()}"
    start = threading.Barrier(25)

    def one() -> None:
        start.wait(10)
        response = get(server, "/burst", f"X-Bucket: {bucket}\r\n")
        with lock:
            results.append(status_of(response))
            if status_of(response) == 429:
                assert b"Retry-After: " in response and b"X-RateLimit-Remaining: 0" in response

    threads = [threading.Thread(target=one) for _ in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [200] * 5 + [429] * 20


def test_K1_a_client_leaving_mid_sse_runs_the_cleanup(served: tuple[Server, Path]) -> None:
    server, marks = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /events?tag=wire&hb=0.2 HTTP/1.1\r\nHost: l\r\n\r\n")
        received = b""
        while b"event: greeting" not in received:
            received += sock.recv(4096)
        assert b"text/event-stream" in received and b"X-Accel-Buffering: no" in received
    deadline = time.monotonic() + 10
    while not (marks / "closed-wire").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (marks / "closed-wire").exists()
    alive(server)


def test_K3_sse_routes_on_sync_workers_warn_at_startup(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", FILES)
    with gunicorn(
        f"handlerkit:create_app({str(app_dir)!r})",
        worker_class="sync",
        workers=1,
        threads=1,
        log_dir=tmp_path,
    ) as server:
        deadline = time.monotonic() + 15
        while "server-sent events" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = server.output()
    assert "server-sent events (/events)" in log and "--worker-class gthread" in log
