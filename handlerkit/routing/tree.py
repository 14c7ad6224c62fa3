"""The route table: Route records, the conflict checks, and a segment trie that matches a path."""

from __future__ import annotations

import logging
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    CatchAllConflictError,
    CatchAllNotLastError,
    DuplicateParamError,
    DuplicateRouteError,
    LowercaseExportError,
    NoHandlerError,
    OptionalCatchAllConflictError,
    ParamNameConflictError,
    RouteDefinitionError,
)
from ..handlers import METHODS, adapt_handler
from .segments import Kind, Segment, pattern_string

logger = logging.getLogger("handlerkit")

__all__ = ["CONFIG_KEYS", "Route", "RouteTable", "make_route"]

#: Module-level names read as segment config.
CONFIG_KEYS = ("revalidate", "dynamic", "max_body_size")
_DYNAMIC_VALUES = ("auto", "force-dynamic", "force-static", "error")


@dataclass(slots=True, eq=False)
class Route:
    """One endpoint: a URL pattern and the handlers for its methods.

    Attributes:
        pattern: The display pattern, e.g. ``"/users/[id]"``.
        segments: The parsed URL segments.
        source: The ``route.py`` path, or ``module:qualname`` for Router entries.
        exports: The handlers as exported, by method (what listings inspect).
        handlers: The handlers the app calls, normalized to ``(request, context)``
            and wrapped by the app's ``wrap``; set by the app.
        config: Segment config (``revalidate``, ``dynamic``, ``max_body_size``).
        middleware: ``middleware.py`` modules from the app root down to the route's folder.
        allow: The precomputed ``Allow`` header value.
        preflights: The handlers that answer a CORS preflight, by the method the
            preflight asks about: those whose chain holds a ``with_cors`` layer
            (see :func:`handlerkit.routing.resolve.preflight_targets`); set by the app.
    """

    pattern: str
    segments: tuple[Segment, ...]
    source: str
    exports: dict[str, Callable[..., Any]]
    config: dict[str, Any] = field(default_factory=dict)
    middleware: tuple[Any, ...] = ()
    handlers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    allow: str = ""
    preflights: dict[str, Callable[..., Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        """The exported methods, sorted."""
        return sorted(self.exports)

    @property
    def is_static(self) -> bool:
        """Whether the pattern has no dynamic segments."""
        return all(s.kind is Kind.STATIC for s in self.segments)


def _allow(methods: Iterable[str]) -> str:
    allowed = set(methods)
    if "GET" in allowed:
        allowed.add("HEAD")
    allowed.add("OPTIONS")
    return ", ".join(sorted(allowed))


def _check_config(config: Mapping[str, Any], source: str) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        if key not in config:
            continue
        value = config[key]
        if key == "revalidate" and not (
            value is False or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)
        ):
            raise RouteDefinitionError(f"revalidate must be an int >= 0 or False, not {value!r}", [source])
        if key == "dynamic" and value not in _DYNAMIC_VALUES:
            raise RouteDefinitionError(f"dynamic must be one of {_DYNAMIC_VALUES}, not {value!r}", [source])
        if key == "max_body_size" and not (
            value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)
        ):
            raise RouteDefinitionError(f"max_body_size must be an int >= 0 or None, not {value!r}", [source])
        checked[key] = value
    revalidate = checked.get("revalidate", False)
    if checked.get("dynamic") in ("force-static", "error") and revalidate is not False and revalidate == 0:
        raise RouteDefinitionError(
            f'dynamic = "{checked["dynamic"]}" is answered once for everyone and cached; '
            "revalidate = 0 (never cache) contradicts it: drop one of them",
            [source],
        )
    return checked


def make_route(
    segments: Iterable[Segment],
    source: str,
    namespace: Any,
    *,
    middleware: tuple[Any, ...] = (),
    exports: Mapping[str, Callable[..., Any]] | None = None,
) -> Route:
    """Build a :class:`Route` from a module or object exporting ``GET``/``POST``/...

    Args:
        segments: The URL segments.
        source: Where it was defined, named in errors.
        namespace: The route module or object (also read for segment config).
        middleware: ``middleware.py`` modules that apply, root first.
        exports: Explicit handlers by method, instead of reading *namespace*.

    Raises:
        LowercaseExportError: A module defines ``get`` instead of ``GET``.
        NoHandlerError: Nothing is exported.
        AsyncHandlerError: A handler is an ``async def``.
        CatchAllNotLastError, DuplicateParamError: The segments are invalid.
    """
    segments = tuple(segments)
    _check_segments(segments, source)
    variants: dict[str, str] = {}
    if exports is None:
        exports = {m: getattr(namespace, m) for m in METHODS if getattr(namespace, m, None) is not None}
        if isinstance(namespace, types.ModuleType):
            variants = _case_variants(namespace)
            for name, method in variants.items():
                if name == method.lower() and method not in exports:
                    raise LowercaseExportError(
                        f"{name}() is exported but handlers are upper-case: did you mean {method}?",
                        [source],
                    )
    if not exports:
        hint = "".join(f"; did you mean {m} (not {n})?" for n, m in sorted(variants.items()))
        raise NoHandlerError(
            f"no handler exported; define one of {', '.join(METHODS)}{hint}", [source]
        )
    for name, method in sorted(variants.items()):
        func = getattr(namespace, name)
        line = getattr(getattr(func, "__code__", None), "co_firstlineno", None)
        logger.warning(
            "%s%s: %s() is ignored: handlers are upper-case; did you mean %s? (a helper "
            "with a leading underscore is not warned about)",
            source,
            f":{line}" if line else "",
            name,
            method,
        )
    # Validates (callable, sync, arity); the App reuses the result instead of
    # inspecting every signature twice.
    adapted = {method: adapt_handler(func, source=source) for method, func in exports.items()}
    config = {k: getattr(namespace, k) for k in CONFIG_KEYS if hasattr(namespace, k)}
    return Route(
        pattern=pattern_string(list(segments)),
        segments=segments,
        source=source,
        exports=dict(exports),
        config=_check_config(config, source),
        middleware=middleware,
        allow=_allow(exports),
        extra={"adapted": adapted},
    )


def _case_variants(module: types.ModuleType) -> dict[str, str]:
    """Return ``{name: METHOD}`` for the module's own callables named like a method in another case."""
    found = {}
    for name, value in vars(module).items():
        method = name.upper()
        if (
            method in METHODS
            and name != method
            and callable(value)
            and getattr(value, "__module__", None) == module.__name__
        ):
            found[name] = method
    return found


def _check_segments(segments: tuple[Segment, ...], source: str) -> None:
    seen: set[str] = set()
    for index, segment in enumerate(segments):
        if segment.kind in (Kind.CATCH_ALL, Kind.OPTIONAL_CATCH_ALL) and index != len(segments) - 1:
            raise CatchAllNotLastError(
                f"{pattern_string(list(segments))}: nothing may follow the catch-all {segment}",
                [source],
            )
        if segment.kind is not Kind.STATIC:
            if segment.value in seen:
                raise DuplicateParamError(
                    f"{pattern_string(list(segments))}: the param {segment.value!r} is used twice",
                    [source],
                )
            seen.add(segment.value)


class _Node:
    __slots__ = ("static", "dynamic", "catch_all", "optional", "route", "sources")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.dynamic: tuple[str, _Node] | None = None
        self.catch_all: tuple[str, Route] | None = None
        self.optional: tuple[str, Route] | None = None
        self.route: Route | None = None
        self.sources: dict[str, str] = {}


class RouteTable:
    """Every route of an app, checked for conflicts, matched through a segment trie.

    Static routes also go into a dict keyed by path, tried first. Matching cost
    depends on the path's depth, not on the number of routes.
    """

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.static: dict[str, Route] = {}
        self._root = _Node()

    def add(self, route: Route) -> None:
        """Insert *route*, raising the :class:`RouteDefinitionError` subclass for any conflict."""
        node = self._root
        segments = route.segments
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            if segment.kind is Kind.STATIC:
                node = node.static.setdefault(segment.value, _Node())
                continue
            if segment.kind is Kind.DYNAMIC:
                if node.dynamic is not None and node.dynamic[0] != segment.value:
                    raise ParamNameConflictError(
                        f"[{node.dynamic[0]}] and [{segment.value}] are siblings: one level can "
                        "have only one param name",
                        [node.sources["dynamic"], route.source],
                    )
                if node.dynamic is None:
                    node.dynamic = (segment.value, _Node())
                    node.sources["dynamic"] = route.source
                node = node.dynamic[1]
                continue
            assert last  # _check_segments guarantees catch-alls come last
            self._add_catch_all(node, segment, route)
            self.routes.append(route)
            return
        if node.route is not None:
            raise DuplicateRouteError(
                f"two sources define the URL {route.pattern}", [node.route.source, route.source]
            )
        if node.optional is not None:
            raise OptionalCatchAllConflictError(
                f"{route.pattern} and {node.optional[1].pattern} both answer {route.pattern}",
                [route.source, node.optional[1].source],
            )
        node.route = route
        if route.is_static:
            self.static[route.pattern] = route
        self.routes.append(route)

    def _add_catch_all(self, node: _Node, segment: Segment, route: Route) -> None:
        optional = segment.kind is Kind.OPTIONAL_CATCH_ALL
        same = node.optional if optional else node.catch_all
        other = node.catch_all if optional else node.optional
        if other is not None:
            raise CatchAllConflictError(
                f"{route.pattern} and {other[1].pattern}: a required and an optional catch-all "
                "cannot be siblings",
                [other[1].source, route.source],
            )
        if same is not None:
            if same[0] != segment.value:
                raise ParamNameConflictError(
                    f"{same[1].pattern} and {route.pattern} are siblings with different param names",
                    [same[1].source, route.source],
                )
            raise DuplicateRouteError(
                f"two sources define the URL {route.pattern}", [same[1].source, route.source]
            )
        if optional and node.route is not None:
            raise OptionalCatchAllConflictError(
                f"{node.route.pattern} and {route.pattern} both answer {node.route.pattern}",
                [node.route.source, route.source],
            )
        if optional:
            node.optional = (segment.value, route)
        else:
            node.catch_all = (segment.value, route)

    def match(self, segments: list[str]) -> tuple[Route, dict[str, Any]] | None:
        """Return the route and raw params for decoded path *segments*, or ``None``.

        Precedence at each level: static, then ``[param]``, then ``[...catch]``,
        then ``[[...optional]]``, backtracking when a branch fails deeper down.
        Empty segments (``//``) never match a param.
        """
        # PERF: walk the first choice at every level (static, else a non-empty
        # [param]) in one loop. That is the path the backtracking search tries
        # first, so when it ends on a route it is the search's answer, and when
        # no level on it had another branch, a dead end is final; anything else
        # falls back to the search. Endpoint B: three recursive calls per
        # request fewer (benchmarks/results/2026-11-21.md).
        node = self._root
        params: dict[str, Any] = {}
        final = True  # no other branch seen so far
        for segment in segments:
            child = node.static.get(segment)
            if child is not None:
                if node.dynamic is not None or node.catch_all is not None or node.optional is not None:
                    final = False
            else:
                dynamic = node.dynamic
                if dynamic is None or not segment:
                    if final and node.catch_all is None and node.optional is None:
                        return None
                    break
                if node.catch_all is not None or node.optional is not None:
                    final = False
                params[dynamic[0]] = segment
                child = dynamic[1]
            node = child
        else:
            if node.route is not None:
                return node.route, params
            if final and node.optional is None:
                return None
        params = {}
        route = _match(self._root, segments, 0, len(segments), params)
        return None if route is None else (route, params)


def _match(node: _Node, segments: list[str], index: int, end: int, params: dict[str, Any]) -> Route | None:
    if index == end:
        if node.route is not None:
            return node.route
        if node.optional is not None:
            return node.optional[1]
        return None
    segment = segments[index]
    child = node.static.get(segment)
    if child is not None:
        found = _match(child, segments, index + 1, end, params)
        if found is not None:
            return found
    if segment:
        if node.dynamic is not None:
            name, child = node.dynamic
            found = _match(child, segments, index + 1, end, params)
            if found is not None:
                params[name] = segment
                return found
        rest = segments[index:]
        if node.catch_all is not None and all(rest):
            params[node.catch_all[0]] = rest
            return node.catch_all[1]
        if node.optional is not None and all(rest):
            params[node.optional[0]] = rest
            return node.optional[1]
    return None
