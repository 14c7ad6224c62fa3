"""gunicorn workers whose own refusals answer in the one JSON error shape.

gunicorn refuses some requests before the app sees them (a header line without a
colon, CR, LF or NUL in a header, two ``Content-Length`` headers, chunked plus
``Content-Length``, a request line over ``limit_request_line``, too many
headers ...) and answers them with an HTML page. These workers answer the same
status with handlerkit's JSON body instead::

    {"error": "bad_request", "message": "The request's headers are malformed."}

``handlerkit serve`` uses them (``gthread`` and ``sync`` map to
:class:`ThreadWorker` and :class:`SyncWorker`); with plain gunicorn, pass
``-k handlerkit.workers.ThreadWorker`` (or ``SyncWorker`` with ``--threads 1``:
gunicorn runs its own ``gthread`` worker for any ``*SyncWorker`` with more threads). The status of each refusal and its
message are handlerkit's own table (:data:`REFUSALS`), not gunicorn's text, so
a gunicorn release that rewords its errors changes nothing here and a
header's bytes are never echoed back. Anything not in the table (an error of
the app itself, say) is left to gunicorn.

:class:`ThreadWorker` also keeps slow clients (slowloris heads, trickling
bodies) out of its threads: see its docstring and docs/deployment.md.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import struct
import time
from functools import partial
from typing import Any

from gunicorn.http import errors as _errors  # type: ignore[import-untyped]  # no stubs
from gunicorn.http2 import negotiation as _h2  # type: ignore[import-untyped]
from gunicorn.util import write_nonblock  # type: ignore[import-untyped]
from gunicorn.workers.gthread import TConn as _TConn  # type: ignore[import-untyped]
from gunicorn.workers.gthread import ThreadWorker as _GThreadWorker
from gunicorn.workers.sync import SyncWorker as _SyncWorker  # type: ignore[import-untyped]

from .encoding import json_dumps
from .errors import status_code_name

__all__ = ["REFUSALS", "SyncWorker", "ThreadWorker", "buffered_length", "refusal_for", "worker_class_for"]

logger = logging.getLogger("handlerkit")

_MALFORMED_HEADERS = (400, "The request's headers are malformed.")

#: gunicorn's parse errors by class name -> (status, message). Names a gunicorn
#: version lacks are simply never matched.
REFUSALS: dict[str, tuple[int, str]] = {
    "InvalidRequestLine": (400, "The request line is malformed."),
    "InvalidRequestMethod": (400, "The request method is malformed."),
    "InvalidHTTPVersion": (400, "The HTTP version is not supported."),
    "InvalidHeader": _MALFORMED_HEADERS,
    "InvalidHeaderName": _MALFORMED_HEADERS,
    "ObsoleteFolding": _MALFORMED_HEADERS,
    "InvalidSchemeHeaders": _MALFORMED_HEADERS,
    "InvalidChunkSize": (400, "The chunked body is malformed."),
    "ChunkMissingTerminator": (400, "The chunked body is malformed."),
    "InvalidChunkExtension": (400, "The chunked body is malformed."),
    "InvalidProxyLine": (400, "The PROXY protocol line is malformed."),
    "InvalidH2CPreface": (400, "HTTP/2 is not supported here."),
    "ForbiddenProxyRequest": (403, "Requests from this proxy are not accepted."),
    "LimitRequestLine": (414, "The request line is too long."),
    "ExpectationFailed": (417, "The expectation in the Expect header cannot be met."),
    "LimitRequestHeaders": (431, "The request's headers are too many or too large."),
    "UnsupportedTransferCoding": (501, "The request's Transfer-Encoding is not supported."),
}

_RESPONSE_ERRORS = tuple(
    cls
    for cls in (
        getattr(_errors, "InvalidResponseHeader", None),
        getattr(_errors, "InvalidResponseHeaderName", None),
    )
    if cls is not None
)

_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    408: "Request Timeout",
    414: "URI Too Long",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
}


def refusal_for(exc: BaseException) -> tuple[int, str] | None:
    """Return ``(status, message)`` for a gunicorn parse error, or ``None`` for anything else.

    A header the *app* sent that gunicorn refuses is the app's fault, not the
    client's: ``None``, so gunicorn answers its 500.
    """
    if isinstance(exc, _RESPONSE_ERRORS):
        return None
    for cls in type(exc).__mro__:
        if cls.__module__ == _errors.__name__ and cls.__name__ in REFUSALS:
            return REFUSALS[cls.__name__]
    return None


def refusal_bytes(status: int, message: str) -> bytes:
    """The whole HTTP/1.1 response for a refusal: the JSON error shape, then the connection closes."""
    body = json_dumps({"error": status_code_name(status), "message": message})
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


class _JsonRefusals:
    """``handle_error`` that answers gunicorn's own refusals in the JSON shape."""

    log: Any

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        refusal = refusal_for(exc)
        if refusal is None:
            super().handle_error(req, client, addr, exc)  # type: ignore[misc]  # gunicorn's own
            return
        status, message = refusal
        ip = addr[0] if addr else ""
        self.log.warning("Invalid request from ip=%s: %s (%d)", ip, type(exc).__name__, status)
        try:
            write_nonblock(client, refusal_bytes(status, message))
        except Exception:  # noqa: BLE001 - the client is gone; nothing to answer
            self.log.debug("Failed to send error message.")


_MORE, _READY, _GONE = object(), object(), object()

#: The answer to a client that started a request and stopped sending it.
HEAD_TIMEOUT_REFUSAL = (408, "The request took too long to arrive.")

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]{1,18})[ \t]*(?=\r\n)", re.I)
_TRANSFER_ENCODING = re.compile(rb"\r\ntransfer-encoding:", re.I)


def buffered_length(head: bytes, limit: int) -> int:
    """How many body bytes to wait for in the poller after *head* (which ends in a blank line).

    A single ``Content-Length`` of at most *limit* bytes and no
    ``Transfer-Encoding``: that length. Anything else (chunked, a larger body,
    two lengths, none): 0, and a worker thread reads the body. This only decides
    *when* a request goes to a thread; gunicorn's parser still reads and judges
    every byte, so a head this scan misreads is refused exactly as before.
    """
    lengths = _CONTENT_LENGTH.findall(head)
    if len(lengths) != 1 or _TRANSFER_ENCODING.search(head):
        return 0
    length = int(lengths[0])
    return length if length <= limit else 0


def set_io_timeout(sock: socket.socket, seconds: float) -> None:
    """Make *sock*'s blocking reads and writes give up after *seconds* without progress.

    The kernel's ``SO_RCVTIMEO``/``SO_SNDTIMEO``, not Python's ``settimeout``:
    they cost nothing per call (``settimeout`` adds a ``poll`` before every
    ``recv`` and ``send``) and survive gunicorn switching the socket between
    blocking and non-blocking. A read or write that gives up raises
    ``BlockingIOError``; a body read that does answers 408 (see
    :mod:`handlerkit.request`).
    """
    whole = int(seconds)
    value = struct.pack("ll", whole, int((seconds - whole) * 1e6))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


class ThreadWorker(_JsonRefusals, _GThreadWorker):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's ``gthread`` worker, refusing bad requests in the JSON error shape, proof against slow clients.

    gunicorn's worker hands a connection to a thread as soon as it is readable,
    and the thread then waits for the rest of the request head and body, so a
    few hundred clients sending one header line every few seconds (slowloris)
    or a body a byte at a time hold every thread. Here the worker's own poller
    collects each request's head, and a body of up to :attr:`body_buffer` bytes
    with a ``Content-Length``, without a thread; only a request that has fully
    arrived takes one. The limits:

    * :attr:`head_timeout`: seconds from the first byte to the end of the head
      (and, for a buffered body, between any two reads); then 408 in the JSON
      shape, or a silent close if nothing arrived at all.
    * :attr:`io_timeout`: a thread's own reads and writes (a larger or chunked
      body, a response the client does not read) give up after this many
      seconds without progress.

    TLS and HTTP/2 connections are left to gunicorn's own handling.
    """

    head_timeout: float = 10.0
    io_timeout: float = 10.0
    body_buffer: int = 1024 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arriving: dict[Any, tuple[bytearray, list[float]]] = {}

    def init_process(self) -> None:
        cfg = self.cfg  # PERF: gunicorn's settings are slow to read; read them once
        fields = (cfg.limit_request_fields or 100) * ((cfg.limit_request_field_size or 8190) + 2)
        self.head_limit = (cfg.limit_request_line or 8190) + 2 + fields + 2
        self.tls = bool(cfg.is_ssl)
        super().init_process()

    def _prereads(self, conn: Any) -> bool:
        """Whether this worker reads *conn*'s requests in its poller (not TLS, not HTTP/2)."""
        return not self.tls and not _h2.prior_knowledge_allowed(self.cfg, conn.client)

    def accept(self, listener: Any) -> None:
        try:
            client, addr = listener.accept()
        except BlockingIOError:
            return
        except OSError as exc:
            if isinstance(exc, ConnectionAbortedError):
                return
            raise
        self.nr_conns += 1
        set_io_timeout(client, self.io_timeout)
        conn = _TConn(self.cfg, client, addr, listener.getsockname())
        conn.prereads = self._prereads(conn)
        if conn.prereads:
            self._collect(conn, bytearray())
        else:
            self.enqueue_req(conn)

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        # A kept-alive connection's next request arrives in the poller too. PERF: read it
        # here first; most arrive whole, and go to a thread without registering again.
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        if not conn.prereads or conn.is_http2 or conn.parser is None:
            self.enqueue_req(conn)
            return
        buf = bytearray()  # finish_request (below) took any read-ahead
        state = [time.monotonic() + self.head_timeout, -1.0]
        outcome = self._read_more(client, buf, state)
        if outcome is _MORE:
            self.arriving[conn] = (buf, state)
            self.poller.register(client, 1, partial(self._on_readable, conn))
        else:
            self._finish(conn, buf, outcome)

    def finish_request(self, conn: Any, fs: Any) -> None:
        # gunicorn sends a kept-alive connection with read-ahead (the start of a pipelined
        # request) straight to a thread; here it waits in the poller until it is whole.
        if (
            self.alive
            and conn.prereads
            and not conn.is_http2
            and not fs.cancelled()
            and fs.exception() is None
            and fs.result() is True
            and conn.parser.unreader.buf.getvalue()
        ):
            buf = bytearray(conn.parser.unreader.take_buffered())
            state = [time.monotonic() + self.head_timeout, -1.0]
            if self._judge(buf, state) is _MORE:
                conn.sock.setblocking(False)
                self.arriving[conn] = (buf, state)
                self.poller.register(conn.sock, 1, partial(self._on_readable, conn))
            else:
                self._finish(conn, buf, _READY)
            return
        super().finish_request(conn, fs)

    def _collect(self, conn: Any, buf: bytearray) -> None:
        # [buffer], [deadline, bytes wanted in all (-1 until the head is complete)]
        self.arriving[conn] = (buf, [time.monotonic() + self.head_timeout, -1.0])
        self.poller.register(conn.sock, 1, partial(self._on_readable, conn))

    def _on_readable(self, conn: Any, sock: Any) -> None:
        buf, state = self.arriving[conn]
        outcome = self._read_more(sock, buf, state)
        if outcome is not _MORE:
            del self.arriving[conn]
            self.poller.unregister(sock)
            self._finish(conn, buf, outcome)

    def _read_more(self, sock: Any, buf: bytearray, state: list[float]) -> object:
        """Add what *sock* has to *buf*: ``_MORE`` to wait, ``_READY`` for a thread, ``_GONE``."""
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return _MORE
        except OSError:
            return _GONE
        if not data:
            return _GONE
        buf += data
        return self._judge(buf, state)

    def _judge(self, buf: bytearray, state: list[float]) -> object:
        """Whether *buf* holds a whole request (``_READY``) or needs more (``_MORE``)."""
        if state[1] < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                # Too long to be a head: gunicorn's parser refuses it (414 or 431).
                return _READY if len(buf) > self.head_limit else _MORE
            state[1] = end + 4 + buffered_length(bytes(buf[: end + 2]), self.body_buffer)
        if len(buf) >= state[1]:
            return _READY
        state[0] = time.monotonic() + self.head_timeout  # body progress
        return _MORE

    def _finish(self, conn: Any, buf: bytearray, outcome: object) -> None:
        """Hand a request that has arrived to a thread, or close a connection the client closed."""
        if outcome is _GONE:
            self.nr_conns -= 1
            conn.close()
            return
        conn.data_ready = True
        if conn.parser is None:
            conn.init()  # plain HTTP/1.x: only creates the parser
        conn.parser.unreader.unread(bytes(buf))
        self.enqueue_req(conn)

    def _drop(self, conn: Any, answer: tuple[int, str] | None) -> None:
        del self.arriving[conn]
        self.poller.unregister(conn.sock)
        if answer is not None:
            with contextlib.suppress(OSError):  # the client is gone; nothing to answer
                write_nonblock(conn.sock, refusal_bytes(*answer))
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn, (buf, state) in list(self.arriving.items()):
            if state[0] <= now:
                self._drop(conn, HEAD_TIMEOUT_REFUSAL if buf else None)


class SyncWorker(_JsonRefusals, _SyncWorker):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's ``sync`` worker, refusing bad requests in the JSON error shape."""


def worker_class_for(name: str, threads: int = 1) -> str:
    """Return the worker class ``handlerkit serve`` runs for *name* (``gthread`` -> :class:`ThreadWorker`).

    gunicorn itself runs ``gthread`` for a sync worker with more than one
    thread (any class whose name ends in ``SyncWorker``), so ``sync`` with
    *threads* > 1 is :class:`ThreadWorker` here too.
    """
    if name == "sync" and threads > 1:
        name = "gthread"
    return {
        "gthread": "handlerkit.workers.ThreadWorker",
        "sync": "handlerkit.workers.SyncWorker",
    }.get(name, name)
