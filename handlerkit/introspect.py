"""What a route tree answers: listings, one request explained, the auth audit, startup problems.

Used by the ``handlerkit`` command line (:mod:`handlerkit.cli`), and usable on
its own: every function takes an :class:`~handlerkit.App` (or an app
directory) and returns plain data. Nothing here calls a handler; requests are
resolved by the App's own resolver (:mod:`handlerkit.routing.resolve`).
"""

from __future__ import annotations

import difflib
import inspect
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes, urlsplit

from .app import App
from .errors import InvalidSegmentError, RouteDefinitionError
from .handlers import wrapper_chain
from .request import NextRequest
from .routing.resolve import Redirect, Refusal, method_not_allowed, select_handler
from .routing.router import build_table, load_tree
from .routing.segments import Kind, Segment, parse_segment
from .routing.tree import Route, RouteTable

__all__ = [
    "WRITE_METHODS",
    "collect_problems",
    "describe_route",
    "explain_request",
    "handler_chain",
    "is_auth_label",
    "relative_path",
    "root_middleware_info",
    "unguarded_pairs",
]

#: The methods ``--methods write`` stands for.
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_AUTH_WORDS = ("auth", "signature")


# ------------------------------------------------------------------ wrapper chains


def handler_chain(handler: Callable[..., Any]) -> tuple[list[str], Callable[..., Any]]:
    """Return the wrapper names around *handler* (outermost first) and the innermost function.

    The names come from :func:`handlerkit.handlers.wrapper_chain`, which reads
    the labels wrappers set with ``mark_wrapper`` and names unlabelled layers
    from their code object.
    """
    names = [str(label.get("name", "?")) for label in wrapper_chain(handler)]
    try:
        inner = inspect.unwrap(handler)
    except ValueError:  # a __wrapped__ cycle
        inner = handler
    return names, inner


def is_auth_label(label: str) -> bool:
    """Whether a wrapper label counts as a guard (``--unguarded``): "auth" or "signature" in it."""
    lowered = label.lower()
    return any(word in lowered for word in _AUTH_WORDS)


# ------------------------------------------------------------------------ helpers


def relative_path(path: str, app_dir: str | None) -> str:
    """Return *path* relative to *app_dir* when it lies inside it, else unchanged."""
    if app_dir and os.path.isabs(path):
        try:
            relative = os.path.relpath(path, app_dir)
        except ValueError:
            return path
        if not relative.startswith(".."):
            return relative
    return path


def _module_file(module: Any, app_dir: str | None) -> str:
    return relative_path(
        str(getattr(module, "__file__", None) or getattr(module, "__name__", repr(module))), app_dir
    )


def _handler_name(func: Any) -> str:
    return str(getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func))


def describe_route(route: Route, app: App) -> dict[str, Any]:
    """Return a route as plain data: pattern, file, methods, allow, config, middleware, handlers.

    ``handlers`` maps each exported method to its ``wrappers`` (outermost
    first, as the app calls them), the innermost ``handler`` name and whether
    the chain is ``guarded`` (see :func:`is_auth_label`).
    """
    handlers: dict[str, Any] = {}
    for method in route.methods:
        labels, inner = handler_chain(route.handlers.get(method) or route.exports[method])
        handlers[method] = {
            "wrappers": labels,
            "handler": _handler_name(inner),
            "guarded": any(is_auth_label(label) for label in labels),
        }
    return {
        "pattern": route.pattern,
        "file": relative_path(route.source, app.app_dir),
        "methods": route.methods,
        "allow": route.allow.split(", "),
        "config": dict(route.config),
        "middleware": [_module_file(m, app.app_dir) for m in route.middleware],
        "handlers": handlers,
    }


def root_middleware_info(app: App) -> dict[str, Any] | None:
    """Return the root ``middleware.py`` file and its ``config["matcher"]``, or ``None``."""
    module = app.root_middleware
    if module is None:
        return None
    config = getattr(module, "config", None)
    matcher = config.get("matcher") if isinstance(config, dict) else None
    return {"file": _module_file(module, app.app_dir), "matcher": matcher}


def unguarded_pairs(
    described: Iterable[dict[str, Any]],
    *,
    methods: Iterable[str] | None = None,
    allow: Iterable[tuple[str, str]] = (),
) -> list[dict[str, Any]]:
    """Return the route/method pairs whose wrapper chain holds no auth layer.

    Args:
        described: Routes as :func:`describe_route` gives them.
        methods: Only audit these methods (``None``: all).
        allow: ``(METHOD, pattern)`` pairs that are public on purpose;
            ``METHOD`` may be ``"*"``.

    Returns:
        ``{"method", "pattern", "file", "wrappers"}`` for each unguarded pair.
    """
    only = {m.upper() for m in methods} if methods is not None else None
    allowed = {(m.upper(), p) for m, p in allow}
    found = []
    for item in described:
        for method, handler in item["handlers"].items():
            if only is not None and method not in only:
                continue
            if (method, item["pattern"]) in allowed or ("*", item["pattern"]) in allowed:
                continue
            if not handler["guarded"]:
                found.append(
                    {
                        "method": method,
                        "pattern": item["pattern"],
                        "file": item["file"],
                        "wrappers": handler["wrappers"],
                    }
                )
    return found


# ------------------------------------------------------------------------ explain


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _request_environ(method: str, url: str) -> tuple[dict[str, Any], str, str]:
    # Only a URL with a scheme has a host: "//evil/posts" is a path, as a server sees it.
    # urlsplit raises ValueError on inputs like "http://[::1".
    if _SCHEME.match(url):
        parts = urlsplit(url)
        scheme, netloc, path, query = parts.scheme, parts.netloc, parts.path, parts.query
    else:
        scheme, netloc = "", ""
        path, _, query = url.partition("#")[0].partition("?")
    raw_path = path or "/"
    if not raw_path.startswith("/"):
        raw_path = "/" + raw_path
    # What a client would send: non-ASCII and spaces escaped, existing escapes kept.
    raw_path = quote(raw_path, safe="/%:@!$&'()*+,;=-._~")
    path_info = unquote_to_bytes(raw_path).decode("latin-1")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path_info,
        "SCRIPT_NAME": "",
        "QUERY_STRING": query,
        "RAW_URI": raw_path + (f"?{query}" if query else ""),
        "wsgi.url_scheme": scheme or "http",
        "HTTP_HOST": netloc or "localhost",
    }
    return environ, raw_path, path_info


def _segments(raw_path: str) -> list[str]:
    parts = [unquote(part, errors="replace") for part in raw_path.split("/")[1:]]
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return [] if parts == [""] else parts


def _diverge(route: Route, segments: list[str]) -> tuple[int, str]:
    """How far *segments* follow *route*'s pattern, and why they stop (for 404 hints)."""
    for index, segment in enumerate(route.segments):
        rest = segments[index:]
        if segment.kind in (Kind.CATCH_ALL, Kind.OPTIONAL_CATCH_ALL):
            if segment.kind is Kind.CATCH_ALL and not rest:
                return index, f"{segment} needs at least one more segment"
            return index, f"{segment} cannot take an empty segment"
        if not rest:
            return index, f"the URL ends before {segment}"
        if segment.kind is Kind.STATIC and rest[0] != segment.value:
            return index, f"segment {index + 1} is {rest[0]!r}, the pattern wants {segment.value!r}"
        if segment.kind is Kind.DYNAMIC and not rest[0]:
            return index, f"segment {index + 1} is empty; {segment} needs a value"
    extra = len(segments) - len(route.segments)
    return len(route.segments), f"the URL has {extra} segment(s) more than the pattern"


def _rank(route: Route, segments: list[str]) -> tuple[tuple[int, float, str], str, Route]:
    depth, why = _diverge(route, segments)
    # Among routes that follow the URL equally far, the closest spelling comes first.
    wanted = route.segments[depth] if depth < len(route.segments) else None
    given = segments[depth] if depth < len(segments) else ""
    likeness = 0.0
    if wanted is not None and wanted.kind is Kind.STATIC:
        likeness = difflib.SequenceMatcher(None, wanted.value, given).ratio()
    return (-depth, -likeness, route.pattern), why, route


def _kind_name(segment: Segment | None) -> str:
    names = {
        Kind.STATIC: "a static segment",
        Kind.DYNAMIC: "a [param]",
        Kind.CATCH_ALL: "a [...catch-all]",
        Kind.OPTIONAL_CATCH_ALL: "an optional [[...catch-all]]",
    }
    return names[segment.kind] if segment is not None else "the end of the pattern"


def _why_wins(winner: Route, loser: Route) -> str:
    for index, (a, b) in enumerate(zip(winner.segments, loser.segments, strict=False)):
        if a != b:
            return f"at segment {index + 1}, {_kind_name(a)} ({a}) beats {_kind_name(b)} ({b})"
    shorter = winner if len(winner.segments) < len(loser.segments) else loser
    other = loser if shorter is winner else winner
    beaten = other.segments[len(shorter.segments)]
    return f"{_kind_name(None)} ({shorter.pattern}) beats {_kind_name(beaten)}"


def explain_request(app: App, method: str, url: str) -> dict[str, Any]:
    """Resolve one request the way *app* would, without calling any handler.

    Args:
        app: The app.
        method: The HTTP method (any case).
        url: A path with an optional query, or a full URL; percent escapes are
            decoded as a server would.

    Returns:
        A dict with ``method``, ``url``, ``path``, ``status`` (``None`` when
        the handler decides), ``outcome`` (``handler``, ``head_via_get``,
        ``automatic_options``, ``method_not_allowed``, ``not_found``,
        ``redirect``, ``bad_request`` or ``not_implemented``), and, as they
        apply, ``reason``, ``route``, ``file``, ``params``, ``middleware``,
        ``root_middleware``, ``allow``, ``wrappers``, ``handler``,
        ``shadowed``, ``nearest`` and ``location``.
    """
    method = method.upper()
    try:
        environ, raw_path, path_info = _request_environ(method, url)
    except ValueError as exc:
        return {
            "method": method,
            "url": url,
            "path": url,
            "status": 400,
            "outcome": "bad_request",
            "reason": f"bad URL: {exc}",
            "error": "bad_url",
        }
    result: dict[str, Any] = {"method": method, "url": url, "path": raw_path}
    result.update(_decide(app, method, environ, raw_path, path_info))
    return result


_REFUSAL_OUTCOMES = {501: "not_implemented", 404: "not_found"}


def _refused(refusal: Refusal) -> dict[str, Any]:
    outcome = _REFUSAL_OUTCOMES.get(refusal.status, "bad_request")
    found: dict[str, Any] = {"status": refusal.status, "outcome": outcome, "reason": refusal.reason}
    if outcome == "bad_request":
        found["error"] = refusal.code
    elif outcome == "not_found":
        found["nearest"] = []
    return found


def _decide(
    app: App, method: str, environ: dict[str, Any], raw_path: str, path: str
) -> dict[str, Any]:
    # The App's own resolver and handler choice: the same answer, by the same code.
    step = app.resolver.path(environ)
    if isinstance(step, Redirect):
        return {"status": 308, "outcome": "redirect", "location": step.location, "reason": step.reason}
    if isinstance(step, Refusal):
        return _refused(step)
    path = step
    if app.base_path:
        raw_path = "/" + "/".join(raw_path.split("/")[1 + app.base_path.count("/") :])
    resolved = app.resolver.route(environ, path)
    if isinstance(resolved, Refusal) and resolved.status != 404:
        return _refused(resolved)
    segments = _segments(raw_path)
    request = NextRequest.from_environ(environ, None, None, app.base_path)
    result: dict[str, Any] = {"root_middleware": root_middleware_info(app)}
    root_spec = getattr(app, "_root_spec", None)
    if result["root_middleware"] is not None and root_spec is not None:
        result["root_middleware"]["runs"] = _applies(root_spec, path, request)
    if isinstance(resolved, Refusal):
        ranked = sorted((_rank(r, segments) for r in app.routes), key=lambda t: t[0])
        nearest = [
            {"pattern": r.pattern, "file": relative_path(r.source, app.app_dir), "reason": why}
            for _, why, r in ranked[:3]
        ]
        result.update(_refused(resolved), nearest=nearest)
        return result
    route, params = resolved
    result.update(
        route=route.pattern,
        file=relative_path(route.source, app.app_dir),
        params=params,
        middleware=_route_middleware(app, route, path, request),
        allow=route.allow.split(", "),
        shadowed=_shadowed(app, route, segments),
    )
    handler, outcome = select_handler(route, method, environ)
    if outcome == "cors_preflight":
        asked = environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"]
        result.update(
            status=204,
            outcome=outcome,
            reason=f"CORS preflight: answered by the with_cors policy of {asked}'s chain, "
            "before any layer runs",
        )
        return result
    if outcome == "automatic_options":
        result.update(status=204, outcome=outcome, reason="automatic OPTIONS: 204 with Allow")
        return result
    if handler is None:
        refusal = method_not_allowed(route, method)
        result.update(status=refusal.status, outcome=outcome, reason=refusal.reason)
        return result
    labels, inner = handler_chain(handler)
    result.update(status=None, outcome=outcome, wrappers=labels, handler=_handler_name(inner))
    return result


def _applies(spec: Any, path: str, request: NextRequest) -> bool:
    # The App's compiled matchers, asked about this path (no headers, query or cookies).
    return bool(spec.applies(path, request))


def _route_middleware(app: App, route: Route, path: str, request: NextRequest) -> list[str]:
    """The route's folder ``middleware.py`` files whose matchers take this path, root first."""
    specs = route.extra.get("middleware")
    files = [_module_file(m, app.app_dir) for m in route.middleware]
    if specs is None or len(specs) != len(files):
        return files
    return [name for name, spec in zip(files, specs, strict=True) if _applies(spec, path, request)]


def _shadowed(app: App, winner: Route, segments: list[str]) -> list[dict[str, str]]:
    shadowed = []
    for route in app.routes:
        if route is winner:
            continue
        alone = RouteTable()
        alone.add(route)  # the real matcher, on a one-route table
        if alone.match(list(segments)) is not None:
            shadowed.append(
                {
                    "pattern": route.pattern,
                    "file": relative_path(route.source, app.app_dir),
                    "reason": _why_wins(winner, route),
                }
            )
    return shadowed


# -------------------------------------------------------------------------- check


def collect_problems(
    app_dir: str, *, worker_class: str = "gthread"
) -> tuple[list[RouteDefinitionError], list[str]]:
    """Build ``App(app_dir)`` and return every route-definition error and startup warning.

    ``App(...)`` itself decides whether the app is broken; only when it raises
    is the tree loaded again in the collecting mode of ``load_tree`` and
    ``build_table`` (the same functions), to list every error, not just the first.
    Warnings are what is logged at ``WARNING`` or above (by handlerkit or by the
    app's own modules) or emitted with :mod:`warnings` while the app is built.
    """
    problems: list[str] = []
    handler = _ListHandler(problems)
    root_logger = logging.getLogger()
    root_logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                app = App(app_dir)
            except RouteDefinitionError as exc:
                return _all_errors(app_dir, exc), problems
            problems.extend(str(w.message) for w in caught)
    finally:
        root_logger.removeHandler(handler)
    problems.extend(_sse_warnings(app, worker_class))
    return [], problems


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        name = record.name
        prefix = "" if name == "handlerkit" or name.startswith("handlerkit.") else f"[{name}] "
        self.sink.append(prefix + record.getMessage())


def _all_errors(app_dir: str, first: RouteDefinitionError) -> list[RouteDefinitionError]:
    errors: list[RouteDefinitionError] = []
    try:
        routes, _ = load_tree(app_dir, errors=errors)
        build_table(routes, errors=errors)
    except InvalidSegmentError:
        # Discovery stops at the first malformed folder; name every one.
        errors.extend(_bad_folders(Path(app_dir).resolve()))
    unique: dict[tuple[str, str, tuple[str, ...]], RouteDefinitionError] = {}
    for exc in errors or [first]:
        unique.setdefault((type(exc).__name__, exc.message, exc.files), exc)
    return list(unique.values())


def _bad_folders(root: Path) -> list[RouteDefinitionError]:
    found: list[RouteDefinitionError] = []
    for directory, dirs, _files in os.walk(root):
        keep = []
        for name in sorted(dirs):
            if name.startswith(".") or name in ("__pycache__", "node_modules"):
                continue
            try:
                segment = parse_segment(name, os.path.join(directory, name))
            except InvalidSegmentError as exc:
                found.append(exc)
                continue
            if segment.kind is not Kind.PRIVATE:
                keep.append(name)
        dirs[:] = keep
    return found


def _sse_warnings(app: App, worker_class: str) -> list[str]:
    # The rule of handlerkit.sse.warn_if_sync_worker, which only fires inside gunicorn.
    if not (worker_class == "sync" or worker_class.endswith("SyncWorker")):
        return []
    try:
        from .sse import uses_sse
    except ImportError:  # pragma: no cover - sse ships with handlerkit
        return []
    patterns = [route.pattern for route in app.routes if uses_sse(route)]
    if not patterns:
        return []
    return [
        f"{len(patterns)} route(s) stream server-sent events ({', '.join(patterns[:5])}) but the "
        f"{worker_class} worker kills a response still streaming after gunicorn's --timeout; "
        "serve with --worker-class gthread (the handlerkit serve default)"
    ]
