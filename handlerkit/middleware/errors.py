"""``with_error_handling``: the App's error boundary as a wrapper, for handlers called outside an App.

The mapping itself lives in :mod:`handlerkit.boundary` (re-exported here under its
old names); this wrapper only applies it inside a chain.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, overload

from ..boundary import (
    exception_response,
    http_exception_response,
    internal_error,
    internal_error_response,
    to_api_error,
    validation_error,
)
from ..context import RouteContext
from ..direct import respond
from ..handlers import adapt_inner, mark_wrapper
from ..typing import RouteHandler

__all__ = [
    "exception_response",
    "http_exception_response",
    "internal_error_response",
    "to_api_error",
    "validation_error",
    "with_error_handling",
]


@overload
def with_error_handling(handler: Callable[..., Any]) -> RouteHandler: ...


@overload
def with_error_handling(handler: None = None) -> Callable[[Callable[..., Any]], RouteHandler]: ...


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
    inner = adapt_inner(handler)

    @functools.wraps(handler)
    def wrapped(request: Any, context: RouteContext | None = None) -> Any:
        if context is None:  # called directly: answer as the App would
            return respond(wrapped, request)
        try:
            return inner(request, context)
        except Exception as exc:  # noqa: BLE001 - mapped below; unknown ones become a logged 500
            response = exception_response(exc, request.environ)
            if response is not None:
                return response
            return internal_error(request, context, None)

    return mark_wrapper(wrapped, "with_error_handling")
