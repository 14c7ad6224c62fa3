"""The ``handlerkit`` command line: routes, check, dev, serve and new, over one app directory.

Every command loads the app with the same code as ``App(APP_DIR)``, so what the
CLI reports is what the server does. ``main(argv)`` returns the exit code,
which makes each command callable from tests. The facts come from
:mod:`handlerkit.introspect`; this module parses arguments and prints.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from . import __version__
from .app import NO_ROUTES, App
from .config import ENV_FILE_VARIABLE, load_settings
from .errors import InvalidSegmentError, RouteDefinitionError
from .handlers import METHODS
from .introspect import (
    WRITE_METHODS,
    collect_problems,
    describe_route,
    explain_request,
    relative_path,
    root_middleware_info,
    unguarded_pairs,
)
from .routing.discover import discover
from .scaffold import cmd_new

__all__ = ["build_parser", "main"]


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
        return App(app_dir, **load_settings().options)
    except ValueError as exc:  # a malformed setting (its variable named)
        err.write(f"handlerkit: {exc}\n")
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
    described = [describe_route(route, app) for route in routes]
    if args.unguarded:
        return _unguarded(described, args, out)
    if args.json:
        payload = {
            "app_dir": app.app_dir,
            "root_middleware": root_middleware_info(app),
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
    root = root_middleware_info(app)
    if root is not None:
        out.write(f"\nroot middleware: {root['file']} (runs before routing)\n")
    return 0


def _unguarded(described: list[dict[str, Any]], args: argparse.Namespace, out: TextIO) -> int:
    methods = None
    if args.methods:
        methods = {m.strip().upper() for m in args.methods.split(",") if m.strip()}
        bad = sorted(methods - set(METHODS) - {"WRITE"})
        if bad or not methods:
            sys.stderr.write(
                f"handlerkit: --methods takes a comma-separated list of {', '.join(METHODS)}"
                f" or 'write', not {', '.join(bad) or repr(args.methods)}\n"
            )
            return 2
        if "WRITE" in methods:
            methods = (methods - {"WRITE"}) | set(WRITE_METHODS)
    allow = []
    for item in args.allow:
        parts = item.split(None, 1)
        if len(parts) != 2:
            sys.stderr.write(f"handlerkit: --allow takes 'METHOD PATTERN', not {item!r}\n")
            return 2
        allow.append((parts[0], parts[1]))
    found = unguarded_pairs(described, methods=methods, allow=allow)
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


def _explain(app: App, method: str, url: str, *, as_json: bool, out: TextIO) -> int:
    result = explain_request(app, method, url)
    if as_json:
        out.write(json.dumps(result, indent=2, default=repr) + "\n")
    else:
        _print_explain(result, out)
    return 0 if result["outcome"] in ("handler", "head_via_get", "cors_preflight", "automatic_options") else 1


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
        runs = "runs before routing" if root.get("runs", True) else "its matcher skips this path"
        write(f"  before      {root['file']}{matcher}: {runs}\n")
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
                            "files": [relative_path(f, app_dir) for f in e.files],
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
                out.write(f"  {relative_path(name, app_dir)}\n")
        for problem in problems:
            out.write(f"warning: {problem}\n")
        out.write(f"{len(errors)} error(s), {len(problems)} warning(s) in {app_dir}\n")
    if errors or any(p.startswith(NO_ROUTES) for p in problems):
        return 1  # an app with no routes is a mistake, not a warning to shrug at
    return 1 if problems and args.strict else 0


# ------------------------------------------------------------------------ openapi


def add_openapi(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``openapi APP_DIR [--format json|yaml]`` to the CLI's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "openapi",
        help="print the app's OpenAPI 3.1 document",
        description="Print the OpenAPI 3.1 document of APP_DIR, built from its routes and schemas.",
    )
    _openapi_arguments(parser)
    parser.set_defaults(func=cmd_openapi)
    return parser


def _openapi_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app_dir", **APP_DIR_ARGUMENT)
    parser.add_argument(
        "--format", choices=("json", "yaml"), default="json", help="output format (json)"
    )
    parser.add_argument("--title", default="handlerkit API", help="info.title")
    parser.add_argument(
        "--api-version", default="0.1.0", help="info.version, the API's own version"
    )
    parser.add_argument("--base-path", default="", help="the App's base_path, if it has one")
    parser.add_argument("--output", "-o", default="-", help="write to this file instead of stdout")


#: What ``pip install 'handlerkit[openapi]'`` brings (``handlerkit openapi`` names the extra).
OPENAPI_EXTRA_MODULES = frozenset({"apispec", "yaml"})


def cmd_openapi(args: argparse.Namespace) -> int:
    """``handlerkit openapi``: build and print the app's document; return the exit status."""
    from .openapi import build_spec

    try:
        app = App(args.app_dir, base_path=args.base_path)
    except (FileNotFoundError, RouteDefinitionError) as exc:
        print(f"handlerkit openapi: {exc}", file=sys.stderr)
        return 1
    try:
        document = build_spec(app, title=args.title, version=args.api_version)
        if args.format == "yaml":
            import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs

            text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        else:
            text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in OPENAPI_EXTRA_MODULES:
            raise
        print(
            f"handlerkit openapi: {exc.name} is not installed; it comes with the openapi "
            "extra: pip install 'handlerkit[openapi]'",
            file=sys.stderr,
        )
        return 2
    if args.output == "-":
        sys.stdout.write(text)
    else:
        try:
            with open(args.output, "w", encoding="utf-8") as file:
                file.write(text)
        except OSError as exc:
            print(
                f"handlerkit openapi: cannot write {args.output}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
    return 0


# ---------------------------------------------------------------------- dev, serve


def _use_env_file(args: argparse.Namespace) -> int | None:
    """Make ``--env-file`` the file every later load reads (workers and reloads included)."""
    if getattr(args, "env_file", None):
        if not os.path.isfile(args.env_file):
            sys.stderr.write(f"handlerkit: the .env file {args.env_file!r} does not exist\n")
            return 2
        os.environ[ENV_FILE_VARIABLE] = os.path.abspath(args.env_file)
    return None


def cmd_config(args: argparse.Namespace) -> int:
    """``handlerkit config``: the settings that apply and where each came from, secrets masked."""
    failed = _use_env_file(args)
    if failed is not None:
        return failed
    try:
        settings = load_settings()
    except ValueError as exc:
        sys.stderr.write(f"handlerkit: {exc}\n")
        return 2
    if args.json:
        document = {
            "env_file": settings.env_file,
            "settings": {
                name: {"value": value, "source": settings.sources[name]}
                for name, value in settings.redacted().items()
            },
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return 0
    sys.stdout.write(f".env file: {settings.env_file or 'none'}\n")
    for line in settings.lines() or ["(no settings: every App option has its default)"]:
        sys.stdout.write(line + "\n")
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    """``handlerkit dev``: the Werkzeug dev server with a route-tree-aware reloader."""
    from .devserver import run_dev

    if not os.path.isdir(args.app_dir):
        sys.stderr.write(f"handlerkit: app directory not found: {os.path.abspath(args.app_dir)}\n")
        return 2
    failed = _use_env_file(args)
    if failed is not None:
        return failed
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
    failed = _use_env_file(args)
    if failed is not None:
        return failed
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


#: The app directory argument: optional, ``./app`` when it exists (as Next.js looks for ``app/``).
APP_DIR_ARGUMENT: dict[str, Any] = {
    "metavar": "APP_DIR",
    "nargs": "?",
    "default": None,
    "help": "the app directory of route.py files (default: ./app, when it exists)",
}


def default_app_dir(given: str | None) -> str | None:
    """Return *given*, or ``app`` when it is omitted and ``./app`` is a directory, else ``None``."""
    if given is not None:
        return given
    return "app" if os.path.isdir("app") else None


def build_parser() -> argparse.ArgumentParser:
    """Return the ``handlerkit`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="handlerkit", description="Work with a handlerkit app directory."
    )
    parser.add_argument("--version", action="version", version=f"handlerkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    routes = commands.add_parser(
        "routes", help="list the routes, explain one request, or audit auth"
    )
    routes.add_argument("app_dir", **APP_DIR_ARGUMENT)
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
    check.add_argument("app_dir", **APP_DIR_ARGUMENT)
    check.add_argument("--json", action="store_true", help="print JSON")
    check.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    check.add_argument(
        "--worker-class", default="gthread", help="the gunicorn worker class to check against"
    )
    check.set_defaults(func=cmd_check)

    dev = commands.add_parser("dev", help="run the development server with reloading")
    dev.add_argument("app_dir", **APP_DIR_ARGUMENT)
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument(
        "--debugger",
        action="store_true",
        help="show Werkzeug's interactive debugger for a handler's unexpected errors "
        "(never in production)",
    )
    env_file_help = "read settings from this .env file (default ./.env; see handlerkit config)"
    dev.add_argument("--env-file", metavar="PATH", help=env_file_help)
    dev.set_defaults(func=cmd_dev)

    config = commands.add_parser(
        "config", help="print the settings that apply (flags, environment, .env), secrets masked"
    )
    config.add_argument("--env-file", metavar="PATH", help=env_file_help)
    config.add_argument("--json", action="store_true", help="print JSON")
    config.set_defaults(func=cmd_config)

    serve = commands.add_parser("serve", help="serve the app under gunicorn")
    serve.add_argument("app_dir", **APP_DIR_ARGUMENT)
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
    serve.add_argument("--env-file", metavar="PATH", help=env_file_help)
    serve.set_defaults(func=cmd_serve)

    new = commands.add_parser("new", help="scaffold files")
    kinds = new.add_subparsers(dest="kind", metavar="KIND", required=True)
    new_route = kinds.add_parser("route", help="a route.py and its test")
    new_route.add_argument("path", metavar="PATH", help="the folder path, e.g. api/posts/[id]")
    new_route.add_argument("--methods", default="GET", help="comma-separated methods (default GET)")
    new_route.add_argument(
        "--app-dir", default=None, help="the app directory (default ./app when it exists, else .)"
    )
    new_route.add_argument(
        "--tests-dir", default="tests", help="where the test goes (default tests)"
    )
    new_route.add_argument("--no-test", action="store_true", help="write only route.py")
    new_route.set_defaults(func=cmd_new)


    add_openapi(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``handlerkit`` command line and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "new":
        args.app_dir = default_app_dir(args.app_dir) or "."
    elif hasattr(args, "app_dir"):
        args.app_dir = default_app_dir(args.app_dir)
        if args.app_dir is None:
            parser.error(f"{args.command}: give APP_DIR (there is no ./app directory here)")
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The output went into `head` or similar, which stopped reading: end quietly.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
