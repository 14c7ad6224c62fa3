"""Public type aliases: the Handler and Wrapper callables that make up the extension model."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, Union

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from .context import RouteContext
    from .request import NextRequest
    from .response import NextResponse

__all__ = ["Handler", "HandlerResult", "RouteHandler", "Wrapper"]

#: What a handler may return: a response, or a ``dict``/``list`` to send as JSON.
HandlerResult = Union["Response", dict[str, Any], list[Any]]

#: A normalized handler: ``(request, context) -> response``.
Handler = Callable[["NextRequest", "RouteContext"], HandlerResult]



class RouteHandler(Protocol):
    """What ``compose(...)`` and every built-in wrapper return: a handler answering a response.

    It takes the request and, optionally, the context: called without one (in a
    test), it answers as the App would (:func:`handlerkit.testing.respond`). It
    fits wherever a :data:`Handler` is expected. The result is typed
    ``NextResponse`` (what handlerkit itself answers with, so ``response.json()``
    type-checks); a handler of yours that returns a plain Werkzeug ``Response``
    gives that at run time.
    """

    def __call__(
        self, request: NextRequest, context: RouteContext | None = None, /
    ) -> NextResponse: ...


#: A wrapper takes a handler and returns a handler. That is the whole extension model.
Wrapper = Callable[[Handler], Handler]
