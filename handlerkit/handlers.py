"""Normalizing user handlers to the ``(request, context)`` calling convention, once, at load."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from .errors import AsyncHandlerError, RouteDefinitionError
from .response import NextResponse

__all__ = [
    "METHODS",
    "WRAPPER_ATTRIBUTE",
    "adapt_handler",
    "adapt_inner",
    "describe_source",
    "is_layer",
    "mark_wrapper",
    "wrapper_chain",
]

#: The methods a route may export, in the order ``Allow`` lists them after sorting.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "QUERY", "HEAD", "OPTIONS")

#: The attribute a wrapper layer carries: ``{"name": "with_auth", ...options}``.
WRAPPER_ATTRIBUTE = "__handlerkit_wrapper__"


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
    candidates = [func, inspect.unwrap(func)]
    if not inspect.isfunction(func) and not inspect.ismethod(func):
        candidates.append(getattr(func, "__call__", None))  # an object with async def __call__
    return any(inspect.iscoroutinefunction(c) or inspect.isasyncgenfunction(c) for c in candidates)


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


def adapt_inner(func: Callable[..., Any]) -> Callable[..., Any]:
    """Return *func* as the inner handler a wrapper calls: ``(request, context)`` answering a response.

    Every built-in wrapper (and ``compose``) adapts what it wraps with this, so
    a handler's shorthand results are turned into responses once, innermost: a
    ``dict`` or ``list`` becomes ``NextResponse.json`` before any wrapper sees
    it. A handlerkit layer (labelled by :func:`mark_wrapper`) already answers
    with responses and is only signature-adapted. Anything else a handler
    returns (``None``, a string) is passed on for the App to report.
    """
    call = adapt_handler(func)
    if is_layer(func) or getattr(func, "_hk_responds", False):
        return call

    @functools.wraps(func)
    def responding(request: Any, context: Any) -> Any:
        result = call(request, context)
        if isinstance(result, (dict, list)):
            return NextResponse.json(result)
        return result

    responding._hk_responds = True  # type: ignore[attr-defined]  # adapted once, not per layer
    return responding


def is_layer(func: Any) -> bool:
    """Return whether *func* is a wrapper layer labelled by :func:`mark_wrapper` itself.

    ``functools.wraps`` copies a label outward onto unlabelled layers, so only
    a label that is not also its inner function's counts.
    """
    label = getattr(func, WRAPPER_ATTRIBUTE, None)
    return label is not None and label is not getattr(
        getattr(func, "__wrapped__", None), WRAPPER_ATTRIBUTE, None
    )


def _with_request_code() -> Any:
    def probe(request: Any) -> None: ...

    return adapt_handler(probe).__code__


_ADAPTER_CODES = frozenset(
    {
        _with_request_code(),
        adapt_handler(lambda: None).__code__,
        adapt_inner(lambda request, context: None).__code__,
    }
)


def mark_wrapper(wrapped: Callable[..., Any], name: str, **info: Any) -> Callable[..., Any]:
    """Label a wrapper layer so listings, audits and OpenAPI can find it.

    Call it on the function a wrapper returns (after ``functools.wraps``)::

        return mark_wrapper(wrapped, "with_validation", body=schema, query=None)

    Args:
        wrapped: The wrapper's inner function.
        name: The wrapper's public name, for example ``"with_auth"``.
        **info: Anything tools may need (a CORS policy, schemas, roles ...).

    Returns:
        *wrapped*, labelled.
    """
    setattr(wrapped, WRAPPER_ATTRIBUTE, {"name": name, **info})
    return wrapped


def wrapper_chain(handler: Callable[..., Any]) -> list[dict[str, Any]]:
    """Return the labels of every layer around *handler*, outermost first.

    Unlabelled layers are named by their ``__qualname__`` (``with_x.<locals>.wrapped``
    gives ``with_x``). The innermost handler itself is not included.
    """
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    current: Any = handler
    while hasattr(current, "__wrapped__") and id(current) not in seen:
        seen.add(id(current))
        inner = current.__wrapped__
        if getattr(current, "__code__", None) in _ADAPTER_CODES:
            current = inner  # adapt_handler's own thin layer, not a wrapper
            continue
        label = getattr(current, WRAPPER_ATTRIBUTE, None)
        # functools.wraps copies __dict__ outward, so an inner label shows up on
        # unlabelled outer layers too; only a label of the layer's own counts.
        if label is None or label is getattr(inner, WRAPPER_ATTRIBUTE, None):
            # functools.wraps also copies __qualname__; the code object keeps the real one.
            code = getattr(current, "__code__", None)
            qualname = getattr(code, "co_qualname", None) or getattr(code, "co_name", "") or ""
            label = {"name": qualname.split(".<locals>")[0] if "<locals>" in qualname else qualname}
        chain.append(label)
        current = inner
    return chain
