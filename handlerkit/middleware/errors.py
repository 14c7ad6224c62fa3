"""The one mapping from exceptions to error responses, for the App boundary and with_error_handling.

- :class:`~handlerkit.errors.ApiError` renders as itself.
- Werkzeug ``HTTPException`` renders in the JSON shape, keeping its headers
  (``Allow``, ``Retry-After`` ...) but never its HTML text.
- marshmallow ``ValidationError`` becomes 422 ``validation_error`` with its
  messages in ``details``.
- itsdangerous ``BadSignature`` (``SignatureExpired`` included) becomes 401
  ``invalid_token``, with ``WWW-Authenticate: Bearer``.
- Anything else is not mapped: the caller logs it and answers a generic 500.

The library checks look in ``sys.modules`` instead of importing, so the
mapping costs nothing for libraries the app never loaded (an exception class
from a module that was never imported cannot have been raised).
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, overload

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from ..context import RouteContext, new_request_id, valid_request_id
from ..errors import ApiError, status_code_name
from ..handlers import adapt_handler, mark_wrapper
from ..response import error_response
from ..typing import Handler

__all__ = [
    "exception_response",
    "http_exception_response",
    "internal_error_response",
    "to_api_error",
    "validation_error",
    "with_error_handling",
]

logger = logging.getLogger("handlerkit")


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
        from ..tokens import TokenError

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

    This is the one mapping: the App's error boundary, ``with_error_handling``,
    ``with_cors`` and ``with_logging`` all use it, so an error looks the same
    whichever layer turns it into a response.

    Args:
        exc: The exception.
        environ: The WSGI environ (used for Werkzeug ``HTTPException`` headers).

    Returns:
        A response in the one JSON error shape, or ``None``: the caller must
        then log *exc* and answer 500 (or re-raise it).
    """
    api_error = to_api_error(exc)
    if api_error is not None:
        response: Response = api_error.to_response()
        return response
    if isinstance(exc, HTTPException):
        return http_exception_response(exc, environ or {})
    return None


def internal_error_response(request_id: str, details: dict[str, Any] | None = None) -> Response:
    """Return the generic 500 in the one JSON shape, naming *request_id* and nothing internal."""
    body = {"request_id": request_id, **(details or {})}
    return error_response(
        500,
        "internal_error",
        "An internal error occurred.",
        body,
        headers=[("X-Request-ID", request_id)],
    )


def _request_id(request: Any, context: RouteContext) -> str:
    request_id: str | None = getattr(context.state, "request_id", None)
    if request_id is None:
        incoming = request.headers.get("X-Request-ID")
        request_id = incoming if valid_request_id(incoming) else new_request_id()
    return request_id


@overload
def with_error_handling(handler: Callable[..., Any]) -> Handler: ...


@overload
def with_error_handling(handler: None = None) -> Callable[[Callable[..., Any]], Handler]: ...


def with_error_handling(handler: Callable[..., Any] | None = None) -> Any:
    """Turn exceptions into error responses with the App's own mapping.

    Composing it is optional: the App's boundary applies the same mapping. It
    is useful when a handler is called outside an App (tests, other WSGI
    glue), or to put error responses *inside* other wrappers, for example
    under ``with_logging`` so the log line shows the final status.

    Unexpected exceptions are logged with the traceback and the request id
    (``context.state.request_id`` when ``with_logging`` set one) and answered
    with a generic 500 that names only the request id.

    Args:
        handler: The handler; omit it to use ``with_error_handling()`` as a factory.

    Returns:
        The wrapped handler.
    """
    if handler is None:
        return with_error_handling
    inner = adapt_handler(handler)

    @functools.wraps(handler)
    def wrapped(request: Any, context: RouteContext | None = None) -> Any:
        if context is None:
            context = RouteContext()
        try:
            return inner(request, context)
        except Exception as exc:  # noqa: BLE001 - mapped below; unknown ones become a logged 500
            response = exception_response(exc, request.environ)
            if response is not None:
                return response
            request_id = _request_id(request, context)
            logger.exception(
                "unhandled exception in %s %s (request id %s)",
                request.method,
                context.route or request.path,
                request_id,
            )
            return internal_error_response(request_id)

    return mark_wrapper(wrapped, "with_error_handling")
