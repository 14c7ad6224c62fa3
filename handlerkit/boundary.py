"""The error boundary: the one mapping from exceptions to error responses, the one 500, and its request id.

The App's boundary, ``with_error_handling``, ``with_cors``, ``with_logging`` and the
``middleware.py`` runner all turn exceptions into responses here, so an error looks
the same whichever layer answers it:

- :class:`~handlerkit.errors.ApiError` renders as itself.
- Werkzeug ``HTTPException`` renders in the JSON shape, keeping its headers
  (``Allow``, ``Retry-After`` ...) but never its HTML text.
- marshmallow ``ValidationError`` becomes 422 ``validation_error`` with its
  messages in ``details``.
- itsdangerous ``BadSignature`` (``SignatureExpired`` included) becomes 401
  ``invalid_token``, with ``WWW-Authenticate: Bearer``.
- Anything else is unexpected: :func:`internal_error` logs it with the request
  id and answers the generic 500, which names only that id.

The library checks look in ``sys.modules`` instead of importing, so the mapping
costs nothing for libraries the app never loaded (an exception class from a
module that was never imported cannot have been raised).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from .context import RouteContext, new_request_id, valid_request_id
from .errors import ApiError, status_code_name
from .response import NextResponse, error_response

__all__ = [
    "STATIC_500",
    "boundary_failed",
    "exception_response",
    "http_exception_response",
    "internal_error",
    "internal_error_response",
    "not_a_response",
    "REQUEST_ID_KEY",
    "request_id_for",
    "to_api_error",
    "validation_error",
]

logger = logging.getLogger("handlerkit")

#: The body sent when rendering an error itself failed: nothing can go wrong building it.
STATIC_500 = b'{"error":"internal_error","message":"An internal error occurred."}'

#: Where ``with_logging`` leaves the request id in the environ, for errors after the headers went out.
REQUEST_ID_KEY = "handlerkit.request_id"


def validation_error(messages: Any, message: str = "The request is invalid.") -> ApiError:
    """Return the 422 ``validation_error`` for field *messages* (a marshmallow messages dict)."""
    return ApiError(422, "validation_error", message, messages)


def to_api_error(exc: BaseException) -> ApiError | None:
    """Return the :class:`ApiError` *exc* stands for, or ``None`` when it is not a known error.

    Args:
        exc: Any exception raised by a handler, a wrapper or middleware.

    Returns:
        *exc* itself for an ``ApiError``; a 422 for a marshmallow
        ``ValidationError``; a 401 for an itsdangerous ``BadSignature``;
        ``None`` otherwise (Werkzeug ``HTTPException`` included: see
        :func:`exception_response`).
    """
    if isinstance(exc, ApiError):
        return exc
    marshmallow = sys.modules.get("marshmallow.exceptions")
    if marshmallow is not None and isinstance(exc, marshmallow.ValidationError):
        return validation_error(exc.messages)
    itsdangerous = sys.modules.get("itsdangerous.exc")
    if itsdangerous is not None and isinstance(exc, itsdangerous.BadSignature):
        from .tokens import TokenError  # tokens imports itsdangerous, which was imported already

        return TokenError()
    return None


def http_exception_response(exc: HTTPException, environ: dict[str, Any]) -> Response:
    """Render a Werkzeug ``HTTPException`` in the JSON shape: its headers kept, never its text."""
    if exc.response is not None:
        return exc.response  # type: ignore[return-value]  # a full Response in practice
    status = exc.code or 500
    if status < 400:
        return exc.get_response(environ)
    headers = [(k, v) for k, v in exc.get_headers(environ) if k.lower() != "content-type"]
    message = f"{exc.name}." if exc.name else "The request failed."
    return error_response(status, status_code_name(status), message, headers=headers)


def exception_response(
    exc: BaseException, environ: dict[str, Any] | None = None
) -> Response | None:
    """Return the error response for *exc*, or ``None`` when it is an unexpected error.

    Args:
        exc: The exception.
        environ: The WSGI environ (used for Werkzeug ``HTTPException`` headers).

    Returns:
        A response in the one JSON error shape, or ``None``: the caller must
        then answer with :func:`internal_error` (or re-raise).
    """
    api_error = to_api_error(exc)
    if api_error is not None:
        response: Response = NextResponse.from_error(api_error)
        return response
    if isinstance(exc, HTTPException):
        return http_exception_response(exc, environ or {})
    return None


def not_a_response(result: Any, method: str, source: str, request: Any) -> str:
    """The message for a handler result that is not a response.

    ``no response returned from GET in <file> for GET /path: it returned a str``:
    the handler's method and file, the request's method and path (escaped, never
    its query or body), and the type of what came back.
    """
    path = json.dumps(request.path, ensure_ascii=True)[1:-1]
    what = "None" if result is None else f"a {type(result).__name__}"
    return (
        f"no response returned from {method} in {source} for {request.method} {path}: "
        f"it returned {what}; "
        "return a NextResponse, a dict or a list"
    )


def request_id_for(
    environ: dict[str, Any], context: RouteContext | None = None, response: Response | None = None
) -> str:
    """Return the request's id: the one ``with_logging`` gave it, a valid incoming one, or a new one.

    In that order: ``context.state.request_id``, the id ``with_logging`` left
    in the environ, a well-formed ``X-Request-ID`` on *response* (a streamed
    answer names its own), a well-formed ``X-Request-ID`` request header, and
    last a fresh random id.
    """
    state = getattr(context, "_state", None)  # the State, if any; none is made just to look
    request_id = getattr(state, "request_id", None)
    if request_id is not None:
        return str(request_id)
    request_id = environ.get(REQUEST_ID_KEY)
    if request_id is not None:
        return str(request_id)
    if response is not None:
        answered = response.headers.get("X-Request-ID")
        if valid_request_id(answered):
            return answered  # type: ignore[return-value]  # valid_request_id checked it is a str
    incoming = environ.get("HTTP_X_REQUEST_ID")
    return incoming if valid_request_id(incoming) else new_request_id()  # type: ignore[return-value]


def internal_error_response(request_id: str, details: dict[str, Any] | None = None) -> Response:
    """Return the generic 500 in the one JSON shape, naming *request_id* and nothing internal."""
    return error_response(
        500,
        "internal_error",
        "An internal error occurred.",
        {"request_id": request_id, **(details or {})},
        headers=[("X-Request-ID", request_id)],
    )


def internal_error(
    request: Any, context: RouteContext | None, problem: str | None, *, debug: bool = False
) -> Response:
    """Log an unexpected failure and return the generic 500 naming its request id.

    Args:
        request: The request being answered.
        context: Its route context, if any (for the route and the request id).
        problem: What went wrong, in a developer's words; ``None`` inside an
            ``except`` block, to log the traceback instead.
        debug: Put the traceback (or *problem*) in the body; ``App(debug=True)`` only.
    """
    request_id = request_id_for(request.environ, context)
    if problem is None:
        logger.exception(
            "unhandled exception in %s %s (request id %s)",
            request.method,
            (context.route if context is not None else "") or request.path,
            request_id,
        )
    else:
        logger.error("%s (request id %s)", problem, request_id)
    details = None
    if debug:
        details = {"traceback": traceback.format_exc() if problem is None else problem}
    return internal_error_response(request_id, details)


def boundary_failed(start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer the static 500 when the error boundary itself failed; call it inside the ``except``."""
    logger.exception("handlerkit: the error boundary failed")
    start_response(
        "500 INTERNAL SERVER ERROR",
        [("Content-Type", "application/json"), ("Content-Length", str(len(STATIC_500)))],
    )
    return [STATIC_500]
