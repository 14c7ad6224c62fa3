"""A handler called outside an App: the answer the App would send for it.

Tests call handlers directly (``GET(request)``), and every built-in wrapper
sends a call without a ``context`` here, so inside a chain ``context`` is never
``None`` and a direct call of any wrapped handler answers like the App:

- a CORS preflight is answered from the chain's ``with_cors`` policy before
  any layer runs (:func:`handlerkit.routing.resolve.answer_preflight`);
- a ``dict`` or ``list`` becomes ``NextResponse.json``;
- ``ApiError``, Werkzeug ``HTTPException``, marshmallow and itsdangerous
  errors become their JSON error responses (:func:`handlerkit.boundary.exception_response`).

Two things differ on purpose, because a test wants to see them: an unexpected
exception is raised, not turned into the generic 500, and a result that is
not a response raises ``TypeError`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Response

from .boundary import exception_response, not_a_response
from .context import RouteContext
from .handlers import adapt_handler, describe_source
from .response import NextResponse
from .routing.resolve import answer_preflight, chain_policy, is_preflight

__all__ = ["respond"]


def respond(
    handler: Callable[..., Any],
    request: Any,
    context: RouteContext | None = None,
) -> NextResponse:
    """Call *handler* as the App would and return the response it would send.

    The result is typed ``NextResponse``, as everything handlerkit answers with
    is; a handler returning a plain Werkzeug ``Response`` gives that at run time.

    Args:
        handler: A route handler, wrapped or not, taking ``()``, ``(request)``
            or ``(request, context)``.
        request: The request, usually ``NextRequest("/path", ...)``.
        context: The route context; ``RouteContext()`` when omitted.

    Raises:
        TypeError: The handler returned neither a response nor a ``dict``/``list``.
        Exception: Whatever unexpected error the handler raised (the App would
            log it and answer 500).
    """
    if context is None:
        context = RouteContext()
    environ = request.environ
    policy = chain_policy(handler) if is_preflight(environ) else None
    if policy is not None:  # as the App's select_handler: the chain's policy answers
        return answer_preflight(policy, environ)  # type: ignore[no-any-return]  # a NextResponse
    try:
        result = adapt_handler(handler)(request, context)
    except Exception as exc:
        mapped = exception_response(exc, environ)
        if mapped is None:
            raise
        return mapped  # type: ignore[return-value]  # the mapping builds NextResponses
    if isinstance(result, Response):
        if getattr(result, "_hk_pending_signed", None) is not None:
            result.cookies.sign_pending(request.secret_key)  # type: ignore[attr-defined]
        return result  # type: ignore[return-value]  # typed NextResponse; see above
    if isinstance(result, (dict, list)):
        return NextResponse.json(result)
    raise TypeError(
        not_a_response(result, request.method, describe_source(handler), request)
    )
