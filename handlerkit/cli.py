"""The ``handlerkit`` command line: routes, check, dev, serve and new, over one app directory.

Every command loads the app with the same code as ``App(APP_DIR)``, so what the
CLI reports is what the server does. ``main(argv)`` returns the exit code,
which makes each command callable from tests.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, unquote, unquote_to_bytes, urlsplit

from .app import App
from .errors import InvalidSegmentError, RouteDefinitionError
from .handlers import METHODS, wrapper_chain
from .routing.discover import discover
from .routing.router import build_table, load_tree
from .routing.segments import Kind, Segment, parse_segment
from .routing.tree import Route, RouteTable

__all__ = ["collect_problems", "handler_chain", "is_auth_label", "main"]

_WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
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


def _rel(path: str, app_dir: str | None) -> str:
    if app_dir and os.path.isabs(path):
        try:
            relative = os.path.relpath(path, app_dir)
        except ValueError:
            return path
        if not relative.startswith(".."):
            return relative
    return path


def _module_file(module: Any, app_dir: str | None) -> str:
    return _rel(
        str(getattr(module, "__file__", None) or getattr(module, "__name__", repr(module))), app_dir
    )


def _handler_name(func: Any) -> str:
    return str(getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func))


def _describe_route(route: Route, app: App) -> dict[str, Any]:
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
        "file": _rel(route.source, app.app_dir),
        "methods": route.methods,
        "allow": route.allow.split(", "),
        "config": dict(route.config),
        "middleware": [_module_file(m, app.app_dir) for m in route.middleware],
        "handlers": handlers,
    }


def _root_middleware(app: App) -> dict[str, Any] | None:
    module = app.root_middleware
    if module is None:
        return None
    config = getattr(module, "config", None)
    matcher = config.get("matcher") if isinstance(config, dict) else None
    return {"file": _module_file(module, app.app_dir), "matcher": matcher}


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            + "\n"
        )


def _config_text(config: dict[str, Any]) -> str:
    return " ".join(f"{key}={value!r}" for key, value in config.items()) or "-"


def _load(app_dir: str, err: TextIO) -> App | None:
    try:
        return App(app_dir)
    except FileNotFoundError as exc:
        err.write(f"handlerkit: {exc}\n")
    except RouteDefinitionError as exc:
        err.write(
            f"handlerkit: the app failed to load: {exc}\n"
            f"run `handlerkit check {app_dir}` for every error\n"
        )
    return None


# ------------------------------------------------------------------------- routes


def cmd_routes(args: argparse.Namespace) -> int:
    """``handlerkit routes``: list, explain or audit the routes."""
    out: TextIO = sys.stdout
    app = _load(args.app_dir, sys.stderr)
    if app is None:
        return 2
    if args.explain:
        return _explain(app, args.explain[0], args.explain[1], as_json=args.json, out=out)
    routes = sorted(app.routes, key=lambda r: r.pattern)
    described = [_describe_route(route, app) for route in routes]
    if args.unguarded:
        return _unguarded(described, args, out)
    if args.json:
        payload = {
            "app_dir": app.app_dir,
            "root_middleware": _root_middleware(app),
            "routes": described,
        }
        out.write(json.dumps(payload, indent=2, default=repr) + "\n")
        return 0
    rows = [["PATTERN", "METHOD", "WRAPPERS", "FILE", "CONFIG"]]
    for item in described:
        first = True
        for method, handler in item["handlers"].items():
            rows.append(
                [
                    item["pattern"] if first else "",
                    method,
                    " > ".join(handler["wrappers"]) or "-",
                    item["file"] if first else "",
                    _config_text(item["config"]) if first else "",
                ]
            )
            first = False
    _table(rows, out)
    root = _root_middleware(app)
    if root is not None:
        out.write(f"\nroot middleware: {root['file']} (runs before routing)\n")
    return 0


def _unguarded(described: list[dict[str, Any]], args: argparse.Namespace, out: TextIO) -> int:
    methods = None
    if args.methods:
        methods = {m.strip().upper() for m in args.methods.split(",") if m.strip()}
        if "WRITE" in methods:
            methods = (methods - {"WRITE"}) | set(_WRITE_METHODS)
    allowed = {tuple(item.split(None, 1)) for item in args.allow}
    found = []
    for item in described:
        for method, handler in item["handlers"].items():
            if methods is not None and method not in methods:
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
    if args.json:
        out.write(json.dumps({"unguarded": found}, indent=2) + "\n")
    elif found:
        out.write(f"{len(found)} unguarded route/method pair(s): no auth wrapper in the chain\n")
        _table(
            [["METHOD", "PATTERN", "WRAPPERS", "FILE"]]
            + [
                [f["method"], f["pattern"], " > ".join(f["wrappers"]) or "-", f["file"]]
                for f in found
            ],
            out,
        )
    else:
        out.write("every audited route/method pair has an auth wrapper\n")
    return 1 if found else 0


# ------------------------------------------------------------------------ explain


def _request_environ(method: str, url: str) -> tuple[dict[str, Any], str, str]:
    parts = urlsplit(url)
    raw_path = parts.path or "/"
    if not raw_path.startswith("/"):
        raw_path = "/" + raw_path
    # What a client would send: non-ASCII and spaces escaped, existing escapes kept.
    raw_path = quote(raw_path, safe="/%:@!$&'()*+,;=-._~")
    path_info = unquote_to_bytes(raw_path).decode("latin-1")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path_info,
        "SCRIPT_NAME": "",
        "QUERY_STRING": parts.query,
        "RAW_URI": raw_path + (f"?{parts.query}" if parts.query else ""),
        "wsgi.url_scheme": parts.scheme or "http",
        "HTTP_HOST": parts.netloc or "localhost",
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


def _explain(app: App, method: str, url: str, *, as_json: bool, out: TextIO) -> int:
    method = method.upper()
    environ, raw_path, path_info = _request_environ(method, url)
    result: dict[str, Any] = {"method": method, "url": url, "path": raw_path}
    result.update(_decide(app, method, environ, raw_path, path_info))
    if as_json:
        out.write(json.dumps(result, indent=2, default=repr) + "\n")
    else:
        _print_explain(result, out)
    return 0 if result["outcome"] in ("handler", "head_via_get", "automatic_options") else 1


def _decide(
    app: App, method: str, environ: dict[str, Any], raw_path: str, path: str
) -> dict[str, Any]:
    # The same steps, in the same order, as App._respond before it calls a handler.
    if method not in METHODS:
        return {
            "status": 501,
            "outcome": "not_implemented",
            "reason": f"{method} is not one of {', '.join(METHODS)}",
        }
    if path != "/" and (path.endswith("/") != app.trailing_slash):
        target = raw_path.rstrip("/") if path.endswith("/") else raw_path + "/"
        return {
            "status": 308,
            "outcome": "redirect",
            "location": target,
            "reason": "trailing-slash policy: "
            + ("add" if app.trailing_slash else "remove")
            + " the slash",
        }
    resolved = app.resolve(path, environ)
    if resolved is not None and not isinstance(resolved, tuple):
        body = json.loads(resolved.get_data())
        return {
            "status": resolved.status_code,
            "outcome": "bad_request",
            "reason": body.get("message"),
            "error": body.get("error"),
        }
    segments = _segments(raw_path)
    result: dict[str, Any] = {"root_middleware": _root_middleware(app)}
    if resolved is None:
        ranked = sorted((_rank(r, segments) for r in app.routes), key=lambda t: t[0])
        nearest = [
            {"pattern": r.pattern, "file": _rel(r.source, app.app_dir), "reason": why}
            for _, why, r in ranked[:3]
        ]
        result.update(
            status=404,
            outcome="not_found",
            reason="no route pattern matches the path",
            nearest=nearest,
        )
        return result
    route, params = resolved
    result.update(
        route=route.pattern,
        file=_rel(route.source, app.app_dir),
        params=params,
        middleware=[_module_file(m, app.app_dir) for m in route.middleware],
        allow=route.allow.split(", "),
        shadowed=_shadowed(app, route, segments),
    )
    handler = route.handlers.get(method)
    outcome, status = "handler", None
    if handler is None and method == "HEAD" and "GET" in route.handlers:
        handler, outcome = route.handlers["GET"], "head_via_get"
    if handler is None and method == "OPTIONS":
        hook = route.extra.get("options")
        result.update(
            status=204,
            outcome="automatic_options",
            reason="answered by the route's OPTIONS hook (CORS preflight)"
            if hook
            else "automatic OPTIONS: 204 with Allow",
        )
        return result
    if handler is None:
        result.update(
            status=405,
            outcome="method_not_allowed",
            reason=f"{route.pattern} exports {', '.join(route.methods)}, not {method}",
        )
        return result
    labels, inner = handler_chain(handler)
    result.update(status=status, outcome=outcome, wrappers=labels, handler=_handler_name(inner))
    return result


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
                    "file": _rel(route.source, app.app_dir),
                    "reason": _why_wins(winner, route),
                }
            )
    return shadowed


def _print_explain(result: dict[str, Any], out: TextIO) -> None:
    write = out.write
    write(f"{result['method']} {result['path']}\n")
    outcome = result["outcome"]
    if outcome in ("not_implemented", "redirect", "bad_request"):
        extra = f" -> {result['location']}" if outcome == "redirect" else ""
        write(f"  answer      {result['status']}{extra}: {result['reason']}\n")
        return
    root = result.get("root_middleware")
    if root:
        matcher = f" (matcher {root['matcher']!r})" if root["matcher"] else ""
        write(f"  before      {root['file']}{matcher}, root middleware, runs before routing\n")
    if outcome == "not_found":
        write(f"  answer      404: {result['reason']}\n")
        for item in result["nearest"]:
            write(f"  nearest     {item['pattern']}  ({item['file']}): {item['reason']}\n")
        return
    write(f"  route       {result['route']}  ({result['file']})\n")
    write(f"  params      {json.dumps(result['params'], ensure_ascii=False)}\n")
    write(f"  middleware  {' > '.join(result['middleware']) or '-'}\n")
    write(f"  allow       {', '.join(result['allow'])}\n")
    if outcome in ("handler", "head_via_get"):
        chain = " > ".join(result["wrappers"]) or "none"
        note = " (HEAD runs GET and drops the body)" if outcome == "head_via_get" else ""
        write(f"  wrappers    {chain}\n  handler     {result['handler']}{note}\n")
        write("  answer      the handler's response\n")
    else:
        write(f"  answer      {result['status']}: {result['reason']}\n")
    for item in result["shadowed"]:
        write(f"  shadows     {item['pattern']}  ({item['file']}): {item['reason']}\n")


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


def cmd_check(args: argparse.Namespace) -> int:
    """``handlerkit check``: every startup error and warning; exit 1 on errors."""
    out = sys.stdout
    try:
        discover(args.app_dir)
    except FileNotFoundError as exc:
        sys.stderr.write(f"handlerkit: {exc}\n")
        return 2
    except InvalidSegmentError:
        pass  # reported below, with the others
    errors, problems = collect_problems(args.app_dir, worker_class=args.worker_class)
    app_dir = os.path.abspath(args.app_dir)
    if args.json:
        out.write(
            json.dumps(
                {
                    "errors": [
                        {
                            "type": type(e).__name__,
                            "message": e.message,
                            "files": [_rel(f, app_dir) for f in e.files],
                        }
                        for e in errors
                    ],
                    "warnings": problems,
                },
                indent=2,
            )
            + "\n"
        )
    else:
        for error in errors:
            out.write(f"error: {error.message} [{type(error).__name__}]\n")
            for name in error.files:
                out.write(f"  {_rel(name, app_dir)}\n")
        for problem in problems:
            out.write(f"warning: {problem}\n")
        out.write(f"{len(errors)} error(s), {len(problems)} warning(s) in {app_dir}\n")
    if errors:
        return 1
    return 1 if problems and args.strict else 0


# ---------------------------------------------------------------------------- new

_METHOD_BODIES = {
    "GET": (
        "def GET(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        '    return NextResponse.json({{"route": {pattern!r}, "params": context.params}})\n'
    ),
    "POST": (
        "def POST(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        "    data = request.json()\n"
        '    return NextResponse.json({{"created": data}}, status=201)\n'
    ),
    "PUT": (
        "def PUT(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        '    return NextResponse.json({{"replaced": request.json()}})\n'
    ),
    "PATCH": (
        "def PATCH(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        '    return NextResponse.json({{"updated": request.json()}})\n'
    ),
    "DELETE": (
        "def DELETE(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        "    return NextResponse(None, status=204)\n"
    ),
    "HEAD": (
        "def HEAD(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        "    return NextResponse(None, status=200)\n"
    ),
    "OPTIONS": (
        "def OPTIONS(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        '    return NextResponse(None, status=204, headers={{"Allow": {allow!r}}})\n'
    ),
}

_TEST_CHECKS = {
    "GET": (
        "    response = client.get(URL)\n    assert response.status_code == 200\n"
        '    assert response.json()["route"] == {pattern!r}\n'
    ),
    "POST": (
        '    response = client.post(URL, json={{"name": "x"}})\n'
        "    assert response.status_code == 201\n"
        '    assert response.json() == {{"created": {{"name": "x"}}}}\n'
    ),
    "PUT": (
        '    response = client.put(URL, json={{"name": "x"}})\n'
        "    assert response.status_code == 200\n"
    ),
    "PATCH": (
        '    response = client.patch(URL, json={{"name": "x"}})\n'
        "    assert response.status_code == 200\n"
    ),
    "DELETE": "    response = client.delete(URL)\n    assert response.status_code == 204\n",
    "HEAD": "    response = client.head(URL)\n    assert response.status_code == 200\n",
    "OPTIONS": "    response = client.options(URL)\n    assert response.status_code == 204\n",
}


def _sample_url(segments: list[Segment]) -> str:
    parts = []
    for segment in segments:
        if segment.kind is Kind.STATIC:
            parts.append(quote(segment.value))
        elif segment.kind is Kind.DYNAMIC:
            parts.append("1")
        elif segment.kind is Kind.CATCH_ALL:
            parts.append("a/b")
    return "/" + "/".join(parts)


def cmd_new(args: argparse.Namespace) -> int:
    """``handlerkit new route``: scaffold a ``route.py`` and its test, never overwriting."""
    err = sys.stderr
    methods = [m.strip().upper() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        err.write(f"handlerkit: --methods takes a comma-separated list of {', '.join(METHODS)}\n")
        return 2
    methods = [m for m in METHODS if m in methods]
    folders = [part for part in args.path.strip("/").split("/") if part]
    segments: list[Segment] = []
    try:
        for name in folders:
            segment = parse_segment(name, args.path)
            if segment.kind is Kind.PRIVATE:
                raise InvalidSegmentError(
                    f"{name!r} is a private folder and would never be routed", [args.path]
                )
            if segment.kind is not Kind.GROUP:
                segments.append(segment)
    except InvalidSegmentError as exc:
        err.write(f"handlerkit: {exc}\n")
        return 2
    app_dir = Path(args.app_dir).resolve()
    route_file = app_dir.joinpath(*folders, "route.py")
    slug = "_".join(re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_") for name in folders) or "root"
    tests_dir = Path(args.tests_dir).resolve()
    test_file = tests_dir / f"test_route_{slug}.py"
    existing = [
        p
        for p in (route_file, test_file if not args.no_test else None)
        if p is not None and p.exists()
    ]
    if existing:
        err.write("handlerkit: refusing to overwrite " + ", ".join(map(str, existing)) + "\n")
        return 1
    pattern = "/" + "/".join(str(s) for s in segments)
    allow = ", ".join(sorted({*methods, "OPTIONS", *(["HEAD"] if "GET" in methods else [])}))
    bodies = "\n\n".join(_METHOD_BODIES[m].format(pattern=pattern, allow=allow) for m in methods)
    route_file.parent.mkdir(parents=True, exist_ok=True)
    route_file.write_text(
        f'"""{pattern}: {", ".join(methods)}."""\n\n'
        "from __future__ import annotations\n\n"
        "from handlerkit import NextRequest, NextResponse, RouteContext\n\n\n"
        f"{bodies}",
        encoding="utf-8",
    )
    sys.stdout.write(f"created {route_file}\n")
    if args.no_test:
        return 0
    checks = "\n\n".join(
        f"def test_{m.lower()}(client: Client) -> None:\n" + _TEST_CHECKS[m].format(pattern=pattern)
        for m in methods
    )
    relative_app = os.path.relpath(app_dir, tests_dir)
    tests_dir.mkdir(parents=True, exist_ok=True)
    test_file.write_text(
        f'"""Tests for {pattern} ({_rel(str(route_file), str(app_dir))})."""\n\n'
        "from __future__ import annotations\n\n"
        "from pathlib import Path\n\n"
        "import pytest\n\n"
        "from handlerkit import App\n"
        "from handlerkit.testing import Client\n\n"
        f"APP_DIR = (Path(__file__).parent / {relative_app!r}).resolve()\n"
        f"URL = {_sample_url(segments)!r}\n\n\n"
        "@pytest.fixture\n"
        "def client() -> Client:\n"
        "    return Client(App(APP_DIR))\n\n\n"
        f"{checks}",
        encoding="utf-8",
    )
    sys.stdout.write(f"created {test_file}\n")
    return 0


# ---------------------------------------------------------------------- dev, serve


def cmd_dev(args: argparse.Namespace) -> int:
    """``handlerkit dev``: the Werkzeug dev server with a route-tree-aware reloader."""
    from .devserver import run_dev

    if not os.path.isdir(args.app_dir):
        sys.stderr.write(f"handlerkit: app directory not found: {os.path.abspath(args.app_dir)}\n")
        return 2
    return run_dev(args.app_dir, host=args.host, port=args.port, debugger=args.debugger)


def cmd_serve(args: argparse.Namespace) -> int:
    """``handlerkit serve``: gunicorn through its application API."""
    try:
        from .serve import serve
    except ImportError:
        sys.stderr.write("handlerkit: serve needs gunicorn: pip install 'handlerkit[serve]'\n")
        return 2
    if not os.path.isdir(args.app_dir):
        sys.stderr.write(f"handlerkit: app directory not found: {os.path.abspath(args.app_dir)}\n")
        return 2
    if _load(args.app_dir, sys.stderr) is None:  # fail fast, before forking workers
        return 1
    return serve(
        args.app_dir,
        bind=args.bind or ["127.0.0.1:8000"],
        workers=args.workers,
        threads=args.threads,
        timeout=args.timeout,
        worker_class=args.worker_class,
        trusted_proxies=args.trusted_proxies,
        trusted_hosts=args.trusted_host or None,
        access_log=args.access_log,
        log_level=args.log_level,
        control_socket=args.control_socket,
    )


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """Return the ``handlerkit`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="handlerkit", description="Work with a handlerkit app directory."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    routes = commands.add_parser(
        "routes", help="list the routes, explain one request, or audit auth"
    )
    routes.add_argument("app_dir", metavar="APP_DIR")
    routes.add_argument("--json", action="store_true", help="print JSON instead of a table")
    mode = routes.add_mutually_exclusive_group()
    mode.add_argument(
        "--explain", nargs=2, metavar=("METHOD", "URL"), help="show how one request is answered"
    )
    mode.add_argument(
        "--unguarded",
        action="store_true",
        help="list route/method pairs without an auth wrapper; exit 1 if any",
    )
    routes.add_argument(
        "--methods",
        help="with --unguarded: only audit these methods (comma-separated; "
        "'write' means POST,PUT,PATCH,DELETE)",
    )
    routes.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="'METHOD PATTERN'",
        help="with --unguarded: accept this pair as public (repeatable; METHOD may be *)",
    )
    routes.set_defaults(func=cmd_routes)

    check = commands.add_parser("check", help="report every startup error and warning")
    check.add_argument("app_dir", metavar="APP_DIR")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    check.add_argument(
        "--worker-class", default="gthread", help="the gunicorn worker class to check against"
    )
    check.set_defaults(func=cmd_check)

    dev = commands.add_parser("dev", help="run the development server with reloading")
    dev.add_argument("app_dir", metavar="APP_DIR")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument(
        "--debugger",
        action="store_true",
        help="enable the Werkzeug debugger and tracebacks in 500 bodies (never in production)",
    )
    dev.set_defaults(func=cmd_dev)

    serve = commands.add_parser("serve", help="serve the app under gunicorn")
    serve.add_argument("app_dir", metavar="APP_DIR")
    serve.add_argument(
        "--bind",
        "-b",
        action="append",
        metavar="ADDRESS",
        help="HOST:PORT or unix:PATH (repeatable; default 127.0.0.1:8000)",
    )
    serve.add_argument(
        "--workers",
        "-w",
        type=int,
        default=None,
        help="worker processes (default: 2 x CPUs + 1, at most 8)",
    )
    serve.add_argument(
        "--threads", type=int, default=4, help="threads per gthread worker (default 4)"
    )
    serve.add_argument(
        "--timeout",
        type=int,
        default=30,
        help="seconds before a silent worker is restarted (default 30)",
    )
    serve.add_argument(
        "--worker-class", "-k", default="gthread", help="gunicorn worker class (default gthread)"
    )
    serve.add_argument(
        "--trusted-proxies",
        type=int,
        default=None,
        metavar="N",
        help="proxies in front of the app whose X-Forwarded-* headers are trusted "
        "(default: $HANDLERKIT_TRUSTED_PROXIES or 0)",
    )
    serve.add_argument(
        "--trusted-host",
        action="append",
        metavar="HOST",
        help="answer only for this Host (repeatable)",
    )
    serve.add_argument(
        "--access-log", action="store_true", help="write gunicorn's access log to stdout"
    )
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--control-socket",
        metavar="PATH",
        help="enable gunicorn's control socket at PATH (default: none)",
    )
    serve.set_defaults(func=cmd_serve)

    new = commands.add_parser("new", help="scaffold files")
    kinds = new.add_subparsers(dest="kind", metavar="KIND", required=True)
    new_route = kinds.add_parser("route", help="a route.py and its test")
    new_route.add_argument("path", metavar="PATH", help="the folder path, e.g. api/posts/[id]")
    new_route.add_argument("--methods", default="GET", help="comma-separated methods (default GET)")
    new_route.add_argument("--app-dir", default=".", help="the app directory (default .)")
    new_route.add_argument(
        "--tests-dir", default="tests", help="where the test goes (default tests)"
    )
    new_route.add_argument("--no-test", action="store_true", help="write only route.py")
    new_route.set_defaults(func=cmd_new)

    from .openapi import add_subparser as add_openapi  # `handlerkit openapi`, owned by openapi.py

    add_openapi(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``handlerkit`` command line and return its exit code."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
