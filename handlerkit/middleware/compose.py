"""compose: joining wrappers into one, the first listed outermost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..handlers import adapt_inner
from ..typing import RouteHandler, Wrapper

__all__ = ["compose"]


def compose(*wrappers: Wrapper) -> Callable[[Callable[..., Any]], RouteHandler]:
    """Join *wrappers* into one wrapper: ``compose(a, b, c)(h) == a(b(c(h)))``.

    The first wrapper listed is the outermost: it sees the request first and
    the response last. The result works as a decorator too::

        @compose(with_logging, with_auth(roles=["admin"]))
        def GET(request, context): ...

    ``compose()`` with no wrappers is the identity (up to adapting the
    handler's signature). The innermost handler may take ``()``, ``(request)``
    or ``(request, context)``; it is adapted once, here.

    Args:
        *wrappers: Wrappers such as ``with_logging`` or ``with_rate_limit(limit=5)``.

    Returns:
        A wrapper applying all of them.

    Raises:
        TypeError: A wrapper is not callable (for example a forgotten call
            on a wrapper factory that returned ``None``).
    """
    for position, wrapper in enumerate(wrappers):
        if not callable(wrapper):
            raise TypeError(f"compose() argument {position + 1} is not a wrapper: {wrapper!r}")
    chain = tuple(reversed(wrappers))

    def composed(handler: Callable[..., Any]) -> RouteHandler:
        if not chain:
            return handler  # compose() is the identity
        result: Any = adapt_inner(handler)
        for wrapper in chain:
            result = wrapper(result)
            if not callable(result):
                raise TypeError(f"{_name(wrapper)} returned {result!r} instead of a handler")
        return result  # type: ignore[no-any-return]

    composed.__qualname__ = composed.__name__ = f"compose({', '.join(_name(w) for w in wrappers)})"
    composed.wrappers = wrappers  # type: ignore[attr-defined]
    return composed


def _name(wrapper: Any) -> str:
    return getattr(wrapper, "__name__", None) or type(wrapper).__name__
