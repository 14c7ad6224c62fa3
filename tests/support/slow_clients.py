"""Hostile HTTP clients for the serving tests and benchmarks/servers.py: slowloris, slow bodies, refusals.

:class:`Attack` holds slowloris and slow-body connections open (reopening any the
server closes); :func:`probe` is one ordinary request that must be answered
within a deadline; :data:`REFUSAL_CASES` are requests a server must refuse
before the app, with the status each gets; :func:`exchange` sends raw bytes and
reads the whole answer.
"""

from __future__ import annotations

import socket
import threading
import time

REFUSAL_CASES = {
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


def read_all(sock: socket.socket) -> bytes:
    """Everything *sock* sends until it closes (or stops for its timeout)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
    return data


def exchange(port: int, raw: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send *raw* on a new connection; return the answer's status, headers and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        data = read_all(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines[0] else 0
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


class Attack:
    """Keep *loris* slowloris and *slow_body* slow-body connections open until stopped."""

    def __init__(self, port: int, loris: int, slow_body: int) -> None:
        self.port = port
        self.wanted = {"head": loris, "body": slow_body}
        self.open: dict[str, list[socket.socket]] = {"head": [], "body": []}
        self.reopened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _connect(self, kind: str) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            if kind == "head":
                sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
            else:
                sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        except OSError:
            return
        self.open[kind].append(sock)

    def _run(self) -> None:
        tick = 0
        while not self._stop.is_set():
            for kind, wanted in self.wanted.items():
                while len(self.open[kind]) < wanted and not self._stop.is_set():
                    self._connect(kind)
            for kind, socks in self.open.items():
                for sock in list(socks):
                    if kind == "head" and tick % 2:
                        continue  # one header line every 2 s
                    try:
                        sock.send(b"X-%d: v\r\n" % tick if kind == "head" else b"a")
                    except OSError:
                        socks.remove(sock)
                        sock.close()
                        self.reopened += 1
            tick += 1
            self._stop.wait(1.0)

    def __enter__(self) -> Attack:
        for kind, wanted in self.wanted.items():
            for _ in range(wanted):
                self._connect(kind)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for socks in self.open.values():
            for sock in socks:
                sock.close()


def probe(port: int, deadline: float = 1.0) -> bool:
    """One ordinary request on a new connection: answered 200 within *deadline* seconds?"""
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=deadline) as sock:
            sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                sock.settimeout(max(0.001, deadline - (time.monotonic() - start)))
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return False
    return data.startswith(b"HTTP/1.1 200") and time.monotonic() - start <= deadline


