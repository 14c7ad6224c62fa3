"""Server-sent events: a generator of events becomes a streaming ``text/event-stream`` response.

::

    from handlerkit import sse

    def GET(request):
        start = sse.last_event_id(request)

        def events():
            try:
                for item in feed(after=start):
                    yield sse.Event(item, event="update", id=item["id"])
            finally:
                unsubscribe()

        return sse.stream(events(), heartbeat=15.0)

How it works: the generator runs in a small producer thread and hands framed
events to the response through a bounded queue. The server's thread waits on
that queue and writes a heartbeat comment (``: ping``) whenever nothing was
sent for *heartbeat* seconds, so idle streams stay open through proxies and a
gone client is noticed. When the client disconnects, the server closes the
response; the producer stops at the generator's next ``yield`` and closes it,
so its ``finally`` runs in the producer thread. A generator that waits for
work should wait with a timeout and ``yield None`` (a tick that sends nothing)
so that it notices the end promptly.

An exception raised by the generator after the headers went out becomes a
generic ``event: error`` and the stream ends; the app logs the exception with
the request id.
"""

from __future__ import annotations

import inspect
import logging
import queue
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .response import NextResponse, json_dumps

__all__ = [
    "ERROR_EVENT",
    "Event",
    "EventStreamResponse",
    "encode_event",
    "last_event_id",
    "stream",
    "uses_sse",
    "warn_if_sync_worker",
]

logger = logging.getLogger("handlerkit")

#: What the client receives when the generator raises after the headers were sent.
ERROR_EVENT = (
    b'event: error\ndata: {"error":"internal_error","message":"An internal error occurred."}\n\n'
)

_HEARTBEAT = b": ping\n\n"
_OPENED = b": stream opened\n\n"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FIELD_FORBIDDEN = re.compile(r"[\r\n\x00]")
_DONE = object()
_PUT_POLL = 0.25  # seconds; how often a producer blocked on a full queue checks for the end
_MAX_LAST_EVENT_ID = 1024


@dataclass(slots=True, frozen=True)
class Event:
    """One server-sent event.

    Attributes:
        data: The payload: a ``str`` is sent as is, anything else as JSON.
            Line breaks become several ``data:`` lines, which the client joins
            back with ``\\n``.
        event: The event type (``addEventListener(type)`` in a browser);
            ``None`` for the default ``message``.
        id: The event id the client sends back as ``Last-Event-ID`` on reconnect.
        retry: The reconnection delay the client should use, in milliseconds.
    """

    data: Any = ""
    event: str | None = None
    id: str | int | None = None
    retry: int | None = None

    def encode(self) -> bytes:
        """Return the event framed for the wire (see :func:`encode_event`)."""
        return encode_event(self.data, event=self.event, id=self.id, retry=self.retry)


def _check_field(name: str, value: str) -> str:
    if _FIELD_FORBIDDEN.search(value):
        raise ValueError(f"SSE {name} must not contain CR, LF or NUL characters")
    return value


def encode_event(
    data: Any = "",
    *,
    event: str | None = None,
    id: str | int | None = None,  # noqa: A002 - the SSE field name
    retry: int | None = None,
) -> bytes:
    """Frame one event: ``event:``, ``id:``, ``retry:`` and ``data:`` lines, then a blank line.

    Args:
        data: A ``str`` sent as is, or any value sent as JSON.
        event: The event type.
        id: The event id.
        retry: The reconnection delay in milliseconds (an int >= 0).

    Returns:
        The UTF-8 bytes of the event.

    Raises:
        ValueError: *event* or *id* contains CR, LF or NUL (they would end the
            field early and let the rest forge other fields), or *retry* is
            not a non-negative int.
    """
    lines: list[str] = []
    if event is not None:
        lines.append("event: " + _check_field("event", str(event)))
    if id is not None:
        lines.append("id: " + _check_field("id", str(id)))
    if retry is not None:
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
            raise ValueError(f"SSE retry must be an int >= 0 (milliseconds), not {retry!r}")
        lines.append(f"retry: {retry}")
    text = data if isinstance(data, str) else json_dumps(data).decode("utf-8")
    lines.extend("data: " + line for line in _LINE_BREAK.split(text))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def last_event_id(request: Any) -> str | None:
    """Return the ``Last-Event-ID`` a reconnecting client sent.

    Returns:
        The id, or ``None`` when the header is absent, empty, longer than
        1024 characters, or contains control characters.
    """
    value = request.headers.get("Last-Event-ID")
    if not value or len(value) > _MAX_LAST_EVENT_ID:
        return None
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return None
    return value  # type: ignore[no-any-return]


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _EventStream:
    """The response body: framed events from a producer thread, with heartbeats."""

    def __init__(
        self,
        events: Iterable[Any],
        heartbeat: float | None,
        retry: int | None,
        on_close: Callable[[], Any] | None,
        buffer: int,
    ) -> None:
        self._events = events
        self._heartbeat = heartbeat if heartbeat and heartbeat > 0 else None
        self._first = f"retry: {retry}\n\n".encode() if retry is not None else _OPENED
        self._on_close = on_close
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=buffer)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = "new"  # new -> open -> failed -> done
        self._failure: BaseException | None = None
        self._closed = False
        self._last_write = 0.0
        self.socket: Any = None  # the client socket, when the server exposes it

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        state = self._state
        if state == "new":
            self._state = "open"
            self._thread = threading.Thread(
                target=self._produce, name="handlerkit-sse", daemon=True
            )
            self._thread.start()
            self._last_write = time.monotonic()
            return self._first
        if state == "failed":
            self._state = "done"
            failure, self._failure = self._failure, None
            assert failure is not None
            raise failure  # the app logs it with the request id and ends the stream
        if state == "done":
            raise StopIteration
        while True:
            timeout = None
            if self._heartbeat is not None:
                timeout = max(0.0, self._last_write + self._heartbeat - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                if self._client_gone():
                    self._state = "done"
                    raise StopIteration from None
                self._last_write = time.monotonic()
                return _HEARTBEAT
            if item is _DONE:
                self._state = "done"
                raise StopIteration
            if isinstance(item, _Failure):
                self._state = "failed"
                self._failure = item.exc
                return ERROR_EVENT
            self._last_write = time.monotonic()
            return item  # type: ignore[no-any-return]

    def _client_gone(self) -> bool:
        # A client that closed its end shows as EOF on a non-blocking peek,
        # so an idle stream ends at the next heartbeat instead of the one
        # after (the first write to a closed peer still succeeds).
        sock = self.socket
        if sock is None:
            return False
        try:
            peeked: bytes = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            return peeked == b""
        except BlockingIOError:
            return False
        except (ConnectionError, TimeoutError):
            return True
        except (OSError, ValueError, TypeError):  # TLS sockets refuse flags: stop peeking
            self.socket = None
            return False

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_PUT_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        iterator: Iterator[Any] | None = None
        ended = False  # whether the consumer was told how the stream ends
        try:
            iterator = iter(self._events)
            for item in iterator:
                if self._stop.is_set():
                    return
                if item is None:
                    continue
                if isinstance(item, Event):
                    chunk = item.encode()
                elif isinstance(item, (bytes, bytearray)):
                    chunk = bytes(item)  # already framed by the caller
                else:
                    chunk = encode_event(item)
                if not self._put(chunk):
                    return
            ended = self._put(_DONE)
        except Exception as exc:  # noqa: BLE001 - reported to the client and logged by the app
            ended = self._put(_Failure(exc))
        finally:
            self._close_events(iterator)
            if not ended and not self._stop.is_set():
                self._put(_DONE)  # SystemExit and the like: end the stream rather than ping forever

    def _close_events(self, iterator: Any) -> None:
        for target in (iterator, self._events):
            close = getattr(target, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception:  # noqa: BLE001 - a failing cleanup must not kill the thread silently
                logger.exception("handlerkit: an SSE generator raised while closing")
            return

    def close(self) -> None:
        """End the stream: stop the producer, close a generator never started, call ``on_close``."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is None:
            self._close_events(None)
        # Free queued events now; a producer blocked on a full queue sees the stop flag.
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._on_close is not None:
            try:
                self._on_close()
            except Exception:  # noqa: BLE001 - the response is already over
                logger.exception("handlerkit: the SSE on_close hook raised")


class EventStreamResponse(NextResponse):
    """A ``text/event-stream`` response streaming an :class:`_EventStream`; see :func:`stream`."""

    def get_app_iter(self, environ: dict[str, Any]) -> Iterable[bytes]:
        """Return the body iterator; the stream gets the client socket if the server exposes it."""
        body = self.response
        if isinstance(body, _EventStream):
            body.socket = environ.get("gunicorn.socket")
        return super().get_app_iter(environ)


def stream(
    events: Iterable[Any],
    *,
    heartbeat: float | None = 15.0,
    retry: int | None = None,
    on_close: Callable[[], Any] | None = None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    status: int = 200,
    buffer: int = 64,
) -> NextResponse:
    """Return a streaming ``text/event-stream`` response for *events*.

    Args:
        events: An iterable (usually a generator) yielding :class:`Event`
            objects, plain values (sent as the ``data`` of an unnamed event;
            JSON unless a ``str``), pre-framed ``bytes``, or ``None`` (a tick
            that sends nothing but lets the stream notice the client left).
        heartbeat: Seconds of silence after which a ``: ping`` comment is
            sent; ``None`` or ``0`` disables heartbeats.
        retry: A reconnection delay (ms) sent to the client first.
        on_close: Called once when the stream ends for any reason (the client
            left, the generator finished or raised).
        headers: Extra response headers.
        status: The status code.
        buffer: How many framed events may wait for a slow client before the
            generator is paused.

    Returns:
        An :class:`EventStreamResponse` with ``Content-Type:
        text/event-stream``, ``Cache-Control: no-cache`` and
        ``X-Accel-Buffering: no`` (so nginx does not buffer it).
    """
    if buffer < 1:
        raise ValueError("buffer must be at least 1")
    if retry is not None and (isinstance(retry, bool) or not isinstance(retry, int) or retry < 0):
        raise ValueError(f"SSE retry must be an int >= 0 (milliseconds), not {retry!r}")
    body = _EventStream(events, heartbeat, retry, on_close, buffer)
    response = EventStreamResponse(body, status)
    response.headers["Content-Type"] = "text/event-stream; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    if headers:
        items = headers.items() if isinstance(headers, Mapping) else headers
        for key, value in items:
            response.headers[key] = value
    response.call_on_close(body.close)
    return response


# -- startup check: SSE under gunicorn's sync worker ---------------------------

_warned = False


def _is_sse_object(value: Any) -> bool:
    if value is sys.modules[__name__]:
        return True
    try:
        return getattr(value, "__module__", None) == __name__
    except Exception:  # noqa: BLE001 - exotic objects with a failing __getattr__
        return False


def uses_sse(route: Any) -> bool:
    """Return whether a route's module imports :mod:`handlerkit.sse` or one of its names."""
    seen: set[int] = set()
    for func in route.exports.values():
        try:
            target = inspect.unwrap(func)
        except ValueError:
            target = func
        namespace = getattr(target, "__globals__", None)
        if namespace is None or id(namespace) in seen:
            continue
        seen.add(id(namespace))
        if getattr(target, "__module__", None) == __name__:
            continue  # a handler defined in this module, not a route using it
        if any(_is_sse_object(value) for value in list(namespace.values())):
            return True
    return False


def _gunicorn_context() -> tuple[Any, Any] | None:
    """Return ``(cfg, worker_or_None)`` when the App is being built inside gunicorn."""
    if "gunicorn" not in sys.modules:
        return None
    cfg = worker = None
    frame = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if owner is not None and type(owner).__module__.startswith("gunicorn."):
            candidate = getattr(owner, "cfg", None)
            if cfg is None and hasattr(candidate, "worker_class_str"):
                cfg = candidate
            if worker is None and hasattr(owner, "age") and hasattr(owner, "ppid"):
                worker = owner
        frame = frame.f_back  # type: ignore[assignment]
    return (cfg, worker) if cfg is not None else None


def warn_if_sync_worker(routes: Iterable[Any]) -> bool:
    """Log one warning when SSE routes are served by gunicorn's sync worker.

    The sync worker kills any response still streaming after ``--timeout``
    seconds, so long event streams die silently. The check finds gunicorn's
    configuration on the call stack while the app is built (in a worker, or
    in the master with ``--preload``) and warns in the first worker only
    (or in the master when preloading), so a server start warns once.

    Returns:
        Whether the warning was logged.
    """
    global _warned
    if _warned:
        return False
    context = _gunicorn_context()
    if context is None:
        return False
    cfg, worker = context
    try:
        worker_class = str(cfg.worker_class_str)
        timeout = cfg.timeout
    except Exception:  # noqa: BLE001 - an unknown gunicorn version: say nothing rather than crash
        return False
    if not (worker_class == "sync" or worker_class.endswith("SyncWorker")):
        return False
    if worker is not None and getattr(worker, "age", 1) != 1:
        return False
    patterns = [route.pattern for route in routes if uses_sse(route)]
    if not patterns:
        return False
    _warned = True
    logger.warning(
        "handlerkit: %d route(s) stream server-sent events (%s) but gunicorn runs the sync "
        "worker, which kills a response still streaming after --timeout (%s s); serve with "
        "--worker-class gthread (see docs/streaming.md)",
        len(patterns),
        ", ".join(patterns[:5]),
        timeout,
    )
    return True
