"""Slow clients cannot starve `handlerkit serve`: slowloris heads and slow bodies, over real sockets.

gunicorn's own ``gthread`` worker gives a connection to a thread as soon as it is
readable, so 120 clients sending a header line every 2 s stop it answering
anyone. handlerkit's :class:`~handlerkit.workers.ThreadWorker` collects heads and
small bodies in its poller; these tests hold 200 slowloris and 50 slow-body
connections open (reopening any the server closes) and measure what a separate
client gets.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlerkit.testing import write_app
from handlerkit.workers import ThreadWorker, buffered_length
from tests.support.servers import gunicorn, handlerkit_serve
from tests.support.slow_clients import Attack, probe, read_all

ROUTE = {"echo/route.py": "def POST(request):\n    return {'n': len(request.bytes())}\n\ndef GET():\n    return {'ok': True}\n"}


class QuickWorker(ThreadWorker):
    """The same worker with one-second limits, so the timeouts are seen in a test's time."""

    head_timeout = 1.0
    io_timeout = 1.0
    body_buffer = 1024


class PatientWorker(ThreadWorker):
    """Limits long enough that a thread held by a slow client would show as a delay."""

    head_timeout = 4.0
    io_timeout = 4.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The default `handlerkit serve` (default workers and threads)."""
    root = tmp_path_factory.mktemp("slow-clients")
    app_dir = write_app(root / "app", ROUTE)
    with handlerkit_serve(app_dir) as port:
        yield port


def test_200_slowloris_and_50_slow_bodies_leave_95_percent_answered_within_a_second(served: int) -> None:
    with Attack(served, loris=200, slow_body=50) as attack:
        time.sleep(2)  # every attacking connection is open and has sent something
        assert len(attack.open["head"]) == 200 and len(attack.open["body"]) == 50
        results = []
        until = time.monotonic() + 14  # past the 10 s head deadline: closed heads are reopened
        while time.monotonic() < until:
            results.append(probe(served))
            time.sleep(0.05)
        still_open = sum(len(s) for s in attack.open.values())
    answered = sum(results) / len(results)
    print(f"answered within 1 s: {sum(results)}/{len(results)} ({answered:.1%}); "
          f"attacking connections open at the end {still_open}, reopened {attack.reopened}")
    assert still_open >= 240, "the attack itself fell apart; the figure means nothing"
    assert attack.reopened >= 150, "the 10 s head deadline did not close slowloris heads"
    assert answered >= 0.95


def test_a_head_that_stops_arriving_gets_408_in_the_json_shape(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", ROUTE)
    with gunicorn(f"handlerkit:create_app({str(app_dir)!r})", worker_class=f"{__name__}.QuickWorker") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
            raw = read_all(sock)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as silent:
            closed_silently = read_all(silent) == b""
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert json.loads(body) == {"error": "request_timeout", "message": "The request took too long to arrive."}
    assert closed_silently  # nothing sent, nothing to answer


def test_a_body_too_large_to_buffer_that_stalls_gets_408_from_the_app(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", ROUTE)
    with gunicorn(f"handlerkit:create_app({str(app_dir)!r})", worker_class=f"{__name__}.QuickWorker") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"a" * 100)
            raw = read_all(sock)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert json.loads(body)["error"] == "request_timeout"


def test_buffered_and_unbuffered_bodies_arrive_whole_and_keep_alive_still_works(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", ROUTE)
    with gunicorn(f"handlerkit:create_app({str(app_dir)!r})", worker_class=f"{__name__}.QuickWorker") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            for size in (10, 1024, 50_000):  # buffered in the poller, at the limit, read by a thread
                sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
                for start in range(0, size, 700):  # in pieces, with pauses between them
                    sock.sendall(b"a" * min(700, size - start))
                    time.sleep(0.002)
                data = b""
                while not data.endswith(b"}"):
                    data += sock.recv(4096)
                assert data.startswith(b"HTTP/1.1 200") and data.endswith(b'{"n":%d}' % size), data
            # two requests pipelined in one send on the kept-alive connection
            sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            both = read_all(sock)
    assert both.count(b"HTTP/1.1 200") == 2


def test_a_pipelined_partial_request_waits_in_the_poller_not_in_the_only_thread(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", ROUTE)
    with gunicorn(
        f"handlerkit:create_app({str(app_dir)!r})", worker_class=f"{__name__}.PatientWorker", threads=1
    ) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as slow:
            # a whole request, then the start of the next one, which never ends
            slow.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\n")
            first = b""
            while not first.endswith(b"}"):
                first += slow.recv(4096)
            start = time.monotonic()
            answered = probe(server.port, deadline=2.0)  # the one thread is free
            waited = time.monotonic() - start
            rest = read_all(slow)  # the partial head's deadline: 408, then close
    assert first.startswith(b"HTTP/1.1 200")
    assert answered and waited < 2.0, waited
    assert rest.startswith(b"HTTP/1.1 408 ")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n", 12),
        (b"POST / HTTP/1.1\r\ncontent-LENGTH:  7 \r\n", 7),
        (b"POST / HTTP/1.1\r\nContent-Length: 2000\r\n", 0),  # over the limit: a thread reads it
        (b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n", 0),  # gunicorn refuses it
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n", 0),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n", 0),
        (b"GET / HTTP/1.1\r\nHost: x\r\n", 0),
    ],
)
def test_buffered_length_only_waits_for_a_single_plain_length(head: bytes, expected: int) -> None:
    assert buffered_length(head, 1024) == expected
