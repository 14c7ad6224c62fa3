"""Normalizing user handlers to the ``(request, context)`` calling convention, once, at load."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from .errors import AsyncHandlerError, RouteDefinitionError

__all__ = ["METHODS", "adapt_handler", "describe_source"]

#: The methods a route may export, in the order ``Allow`` lists them after sorting.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def describe_source(func: Any) -> str:
    """Return ``file`` or ``module:qualname`` naming where *func* was defined."""
    target = inspect.unwrap(func) if callable(func) else func
    try:
        path = inspect.getsourcefile(target)
    except TypeError:
        path = None
    if path:
        return path
    module = getattr(target, "__module__", "?")
    return f"{module}:{getattr(target, '__qualname__', repr(target))}"


def _is_async(func: Any) -> bool:
    if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
        return True
    inner = inspect.unwrap(func)
    return inspect.iscoroutinefunction(inner) or inspect.isasyncgenfunction(inner)


def adapt_handler(func: Callable[..., Any], *, source: str = "") -> Callable[..., Any]:
    """Return *func* as a callable taking ``(request, context)``.

    The signature is inspected here, once: a handler may take ``()``,
    ``(request)`` or ``(request, context)``. Wrapped handlers are inspected
    without following ``__wrapped__``, because the wrapper's own signature is
    what will be called.

    Args:
        func: The exported handler.
        source: Where it was defined, for error messages.

    Returns:
        *func* itself when it already takes two positional arguments, otherwise
        a thin adapter that drops what *func* does not take.

    Raises:
        AsyncHandlerError: *func* is an ``async def``.
        RouteDefinitionError: *func* is not callable or needs more arguments.
    """
    where = source or describe_source(func)
    if not callable(func):
        raise RouteDefinitionError(f"handler {func!r} is not callable", [where])
    if _is_async(func):
        raise AsyncHandlerError(
            f"{getattr(func, '__name__', 'handler')} is an async def; the handlerkit core is "
            "synchronous (WSGI), so write a plain def",
            [where],
        )
    try:
        signature = inspect.signature(func, follow_wrapped=False)
    except (TypeError, ValueError):
        return func  # builtins and C callables: trust the caller
    positional = 0
    required = 0
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            return func
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
            if parameter.default is parameter.empty:
                required += 1
        elif parameter.kind is parameter.KEYWORD_ONLY and parameter.default is parameter.empty:
            raise RouteDefinitionError(
                f"handler {func.__name__} has a required keyword-only parameter "
                f"{parameter.name!r}; handlers take (), (request) or (request, context)",
                [where],
            )
    if required > 2:
        raise RouteDefinitionError(
            f"handler {func.__name__} requires {required} arguments; handlers take (), "
            "(request) or (request, context)",
            [where],
        )
    if positional >= 2:
        return func
    if positional == 1:

        @functools.wraps(func)
        def with_request(request: Any, context: Any = None) -> Any:
            return func(request)

        return with_request

    @functools.wraps(func)
    def without_args(request: Any = None, context: Any = None) -> Any:
        return func()

    return without_args
