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
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.http import errors as _errors  # type: ignore[import-untyped]  # no stubs
from gunicorn.util import write_nonblock  # type: ignore[import-untyped]
from gunicorn.workers.gthread import ThreadWorker as _GThreadWorker  # type: ignore[import-untyped]
from gunicorn.workers.sync import SyncWorker as _SyncWorker  # type: ignore[import-untyped]

from .encoding import json_dumps
from .errors import status_code_name

__all__ = ["REFUSALS", "SyncWorker", "ThreadWorker", "refusal_for", "worker_class_for"]

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


class ThreadWorker(_JsonRefusals, _GThreadWorker):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's ``gthread`` worker, refusing bad requests in the JSON error shape."""


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
