"""Router: declaring routes in code, sharing one table and one set of checks with the file tree."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import LowercaseExportError, RouteDefinitionError
from ..handlers import METHODS, describe_source
from .discover import discover
from .loader import load_file, purge
from .segments import Segment, parse_path, pattern_string
from .tree import Route, RouteTable, make_route

__all__ = ["Router", "build_table", "load_tree"]

F = TypeVar("F", bound=Callable[..., Any])


class Router:
    """A registry of routes declared in code.

    Paths use the folder syntax: ``"/api/users/[id]"``, ``"/docs/[...slug]"``,
    ``"/shop/[[...slug]]"``. Three ways to add routes::

        router = Router()

        @router.route("/api/users/[id]")
        def GET(request, context): ...

        router.add("/api/posts", posts_module)   # a module or object exporting GET/POST/...
        router.scan("app/")                       # a route.py tree, as App("app/") would

    ``App(router)`` serves it. Conflicts are checked by the same code as for the
    file tree, when the app is built.
    """

    def __init__(self) -> None:
        self._functions: dict[str, tuple[list[Segment], dict[str, Callable[..., Any]]]] = {}
        self._objects: list[tuple[list[Segment], Any, str]] = []
        self._trees: list[tuple[Path, list[Segment]]] = []

    def route(self, path: str, *, methods: Iterable[str] | None = None) -> Callable[[F], F]:
        """Register the decorated function for *path*.

        Args:
            path: The URL pattern in folder syntax.
            methods: The methods it handles; by default, the function's name
                (``GET``, ``POST`` ...).

        Returns:
            A decorator that returns the function unchanged.
        """
        segments = parse_path(path)

        def decorator(func: F) -> F:
            names = [m.upper() for m in methods] if methods else [getattr(func, "__name__", "")]
            source = describe_source(func)
            for method in names:
                if method not in METHODS and method.upper() in METHODS:
                    raise LowercaseExportError(
                        f"{path}: the function is named {method!r} but handlers are upper-case: "
                        f"did you mean {method.upper()}?",
                        [source],
                    )
                if method not in METHODS:
                    raise RouteDefinitionError(
                        f"{path}: {method!r} is not a handler method; name the function one of "
                        f"{', '.join(METHODS)} or pass methods=[...]",
                        [source],
                    )
                key = pattern_string(segments)
                _, handlers = self._functions.setdefault(key, (segments, {}))
                if method in handlers:
                    raise RouteDefinitionError(
                        f"{key}: {method} is registered twice",
                        [describe_source(handlers[method]), source],
                    )
                handlers[method] = func
            return func

        return decorator

    def add(self, path: str, target: Any) -> None:
        """Register a module or object that exports ``GET``/``POST``/... for *path*."""
        self._objects.append((parse_path(path), target, describe_source(target)))

    def scan(self, directory: str | os.PathLike[str], *, prefix: str = "") -> None:
        """Register every ``route.py`` below *directory*, under an optional URL *prefix*."""
        self._trees.append((Path(directory), parse_path(prefix)))

    def build(self) -> list[Route]:
        """Load and return every route (the app calls this once, at startup)."""
        routes: list[Route] = []
        for key, (segments, handlers) in self._functions.items():
            source = describe_source(next(iter(handlers.values())))
            routes.append(make_route(segments, source, None, exports=handlers))
        for segments, target, source in self._objects:
            routes.append(make_route(segments, source, target))
        for directory, prefix in self._trees:
            routes.extend(load_tree(directory, prefix)[0])
        return routes


def load_tree(
    app_dir: str | os.PathLike[str],
    prefix: list[Segment] | None = None,
    *,
    errors: list[RouteDefinitionError] | None = None,
) -> tuple[list[Route], Any]:
    """Import every ``route.py`` below *app_dir* and return its routes and root middleware module.

    Args:
        app_dir: The app directory.
        prefix: URL segments put in front of every route.
        errors: When given, a :class:`RouteDefinitionError` raised for one
            file is appended here and that file is skipped, so every broken
            file is reported (``handlerkit check``). ``None`` (what ``App``
            uses) raises the first one.
    """
    root = Path(app_dir).resolve()
    found, root_middleware = discover(root)
    purge(root)
    middleware_modules: dict[Path, Any] = {}

    def middleware(path: Path) -> Any:
        if path not in middleware_modules:
            middleware_modules[path] = load_file(root, path)
        return middleware_modules[path]

    routes = []
    for item in found:
        try:
            module = load_file(root, item.path)
            routes.append(
                make_route(
                    [*(prefix or []), *item.segments],
                    str(item.path),
                    module,
                    middleware=tuple(middleware(p) for p in item.middleware),
                )
            )
        except RouteDefinitionError as exc:
            if errors is None:
                raise
            errors.append(exc)
    try:
        root_module = middleware(root_middleware) if root_middleware else None
    except RouteDefinitionError as exc:
        if errors is None:
            raise
        errors.append(exc)
        root_module = None
    return routes, root_module


def build_table(
    routes: Iterable[Route], *, errors: list[RouteDefinitionError] | None = None
) -> RouteTable:
    """Check *routes* for conflicts and return the matching table.

    Args:
        routes: The routes to add.
        errors: When given, each conflict is appended here instead of raised
            and the conflicting route is left out (``handlerkit check``).
    """
    table = RouteTable()
    for route in routes:
        try:
            table.add(route)
        except RouteDefinitionError as exc:
            if errors is None:
                raise
            errors.append(exc)
    return table
