"""Public type aliases: the Handler and Wrapper callables that make up the extension model."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from .context import RouteContext
    from .request import NextRequest

__all__ = ["Handler", "HandlerResult", "Wrapper"]

#: What a handler may return: a response, or a ``dict``/``list`` to send as JSON.
HandlerResult = Union["Response", dict[str, Any], list[Any]]

#: A normalized handler: ``(request, context) -> response``.
Handler = Callable[["NextRequest", "RouteContext"], HandlerResult]

#: A wrapper takes a handler and returns a handler. That is the whole extension model.
Wrapper = Callable[[Handler], Handler]
