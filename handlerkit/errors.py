"""The handlerkit error family and the one JSON error shape.

There is one root, :class:`HandlerKitError`, with two branches:

- :class:`ApiError`: an HTTP error raised while handling a request. It carries
  ``status``, ``code``, ``message``, ``details`` and ``headers``; its body is
  ``{"error": code, "message": message, "details"?: details}``
  (:meth:`ApiError.body`), and ``NextResponse.from_error(error)`` makes it a
  response. This module imports no other handlerkit module but the encoder:
  everything else may import it.
- :class:`RouteDefinitionError`: a mistake in the route tree, raised at startup
  (never per request). Its message and ``files`` name the offending paths.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from .encoding import json_dumps

logger = logging.getLogger("handlerkit.errors")

__all__ = [
    "ApiError",
    "AsyncHandlerError",
    "CatchAllConflictError",
    "CatchAllNotLastError",
    "DuplicateParamError",
    "DuplicateRouteError",
    "DynamicUsageError",
    "HandlerKitError",
    "InvalidSegmentError",
    "LowercaseExportError",
    "NoHandlerError",
    "OptionalCatchAllConflictError",
    "ParamNameConflictError",
    "RouteDefinitionError",
    "error_body",
    "status_code_name",
]


class HandlerKitError(Exception):
    """Root of every exception handlerkit raises on purpose."""


class DynamicUsageError(HandlerKitError, RuntimeError):
    """A ``dynamic = "error"`` route read its request's headers, cookies or query.

    A programming error, like Next.js's build error for the same: the App logs
    it and answers 500.
    """


# --------------------------------------------------------------------------- HTTP


def status_code_name(status: int) -> str:
    """Return the machine code for an HTTP status, e.g. ``404 -> "not_found"``."""
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def _default_message(status: int) -> str:
    try:
        return HTTPStatus(status).phrase + "."
    except ValueError:
        return "The request failed."


def error_body(code: str, message: str, details: Any = None) -> bytes:
    """Encode the one JSON error shape as bytes.

    Args:
        code: The machine-readable error code.
        message: A human-readable sentence. It must never contain internals.
        details: Optional structured details (validation messages, for example).

    Returns:
        JSON from :func:`~handlerkit.encoding.json_dumps`, the encoder every
        response uses: ``{"error": code, "message": message}`` plus
        ``"details"`` when *details* is not ``None``. Details that JSON cannot
        carry are left out (and logged) rather than failing the error itself.
    """
    payload: dict[str, Any] = {"error": code, "message": message}
    if details is None:
        return json_dumps(payload)
    payload["details"] = details
    try:
        return json_dumps(payload)
    except (TypeError, ValueError):
        logger.warning("error %r: details are not JSON-serializable; sent without them", code)
        return json_dumps({"error": code, "message": message})


class ApiError(HandlerKitError):
    """Raised by handlers and wrappers to answer with an HTTP error in the JSON shape.

    Args:
        status: The HTTP status code (4xx or 5xx).
        code: The machine code; defaults to the status phrase in snake case.
        message: The human-readable message; defaults to the status phrase.
        details: Optional structured details, rendered under ``"details"``.
        headers: Extra response headers (``Allow``, ``Retry-After``, ...).
    """

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        details: Any = None,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        self.status = status
        self.code = code or status_code_name(status)
        self.message = message or _default_message(status)
        self.details = details
        if headers is None:
            self.headers: list[tuple[str, str]] = []
        elif isinstance(headers, Mapping):
            self.headers = list(headers.items())
        else:
            self.headers = list(headers)
        super().__init__(status, self.code, self.message)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> bytes:
        """Return the JSON error body for this error."""
        return error_body(self.code, self.message, self.details)



# ------------------------------------------------------------ route definitions


class RouteDefinitionError(HandlerKitError):
    """Raised at startup when the route tree or a route module is invalid.

    Args:
        message: What is wrong and how to fix it.
        files: The files (or ``module:function`` sources) involved.
    """

    def __init__(self, message: str, files: Iterable[str] = ()) -> None:
        self.files = tuple(str(f) for f in files)
        self.message = message
        if self.files:
            message = f"{message} ({', '.join(self.files)})"
        super().__init__(message)


class InvalidSegmentError(RouteDefinitionError):
    """Raised for a malformed folder or path segment, such as ``[id`` or ``[[id]]``."""


class ParamNameConflictError(RouteDefinitionError):
    """Raised when sibling dynamic segments use different names, like ``[id]`` and ``[slug]``."""


class DuplicateParamError(RouteDefinitionError):
    """Raised when one path uses the same param name twice."""


class CatchAllNotLastError(RouteDefinitionError):
    """Raised when a route has segments after a catch-all segment."""


class CatchAllConflictError(RouteDefinitionError):
    """Raised when ``[...a]`` and ``[[...a]]`` are siblings."""


class OptionalCatchAllConflictError(RouteDefinitionError):
    """Raised when ``/x`` and ``/x/[[...slug]]`` both exist: both answer ``/x``."""


class DuplicateRouteError(RouteDefinitionError):
    """Raised when two route sources resolve to the same URL pattern and method."""


class NoHandlerError(RouteDefinitionError):
    """Raised when a ``route.py`` or registered object exports no method handler."""


class LowercaseExportError(RouteDefinitionError):
    """Raised when a route module defines ``get``/``post``/... instead of ``GET``/``POST``."""


class AsyncHandlerError(RouteDefinitionError):
    """Raised when a handler is an ``async def``: the handlerkit core is synchronous."""
