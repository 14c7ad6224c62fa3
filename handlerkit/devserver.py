"""The development server: Werkzeug's ``run_simple``, reloading on new and deleted files too.

Werkzeug's stat reloader watches files it has seen before: a ``route.py``
created after start is only recorded, and a deleted one is skipped, so
neither restarts the server. Here the serving process also runs a small
watcher over the app directory; when the set of ``.py`` files (or one of
their modification times) changes, it touches a stamp file that Werkzeug's
reloader watches through ``extra_files``, and Werkzeug restarts the process
the usual way. Everything else (watching imported modules, keeping the
listening socket across restarts) is Werkzeug's.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import is_running_from_reloader, run_simple

from .app import App
from .boundary import exception_response
from .config import load_settings
from .errors import RouteDefinitionError

__all__ = ["DebuggerApp", "DevApp", "run_dev", "snapshot"]

logger = logging.getLogger("handlerkit")

_STAMP_ENV = "HANDLERKIT_DEV_STAMP"
_SKIP_DIRS = frozenset({"__pycache__", "node_modules"})

DEBUGGER_WARNING = """\
**********************************************************************
 WARNING: the Werkzeug debugger is ON (--debugger).
 Anyone who can reach {where} can run Python code on this machine
 once they have the PIN: a handler's unexpected error shows its
 traceback page, with a console.
 Use it on your own machine only, never in production.
**********************************************************************
"""


def snapshot(app_dir: str) -> dict[str, float]:
    """Return ``{path: mtime}`` for every ``.py`` file below *app_dir*, private folders included."""
    found: dict[str, float] = {}
    for directory, dirs, files in os.walk(app_dir):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                with contextlib.suppress(OSError):
                    found[path] = os.stat(path).st_mtime
    return found


class DebuggerApp(App):
    """An App whose unexpected handler errors reach Werkzeug's interactive debugger.

    ``handlerkit dev --debugger`` serves this: an exception the one error mapping
    does not turn into a 4xx (``ApiError``, validation, bad tokens) propagates out
    of the WSGI call, so Werkzeug's ``DebuggedApplication`` shows its traceback
    page with a console, instead of the App's JSON 500.
    """

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self._send(self._respond(environ), environ, start_response)

    def _handler_failed(self, exc: Exception, request: Any, context: Any) -> Any:
        mapped = exception_response(exc, request.environ)
        if mapped is not None:
            return mapped
        raise exc


class DevApp:
    """The app as the dev server sees it: a load error is shown, not fatal.

    When ``App(app_dir)`` raises a :class:`RouteDefinitionError`, every request
    gets a 500 in the JSON error shape naming the problem and its files, and
    the watcher keeps running, so saving the fix reloads the server.
    """

    def __init__(self, app_dir: str, *, debug: bool = False) -> None:
        self.error: RouteDefinitionError | None = None
        self.app: App | None = None
        try:
            options = load_settings().options  # the same settings as create_app and serve
            self.app = DebuggerApp(app_dir, **{**options, "debug": True}) if debug else App(app_dir, **options)
        except RouteDefinitionError as exc:
            self.error = exc
            logger.error("handlerkit dev: the app failed to load: %s", exc)
        except ValueError as exc:  # a malformed setting, its variable named
            self.error = RouteDefinitionError(str(exc), [])
            logger.error("handlerkit dev: a setting is malformed: %s", exc)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if self.app is not None:
            return self.app(environ, start_response)
        assert self.error is not None
        body = json.dumps(
            {
                "error": "route_definition_error",
                "message": f"The app failed to load: {self.error.message}",
                "details": {"files": list(self.error.files)},
            }
        ).encode("utf-8")
        start_response(
            "500 INTERNAL SERVER ERROR",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]


def _watch(app_dir: str, stamp: str, interval: float) -> None:
    parent = os.getppid()
    before = snapshot(app_dir)
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            # The reloader process is gone: do not linger as an orphan.
            os.kill(os.getpid(), signal.SIGTERM)
            return
        now = snapshot(app_dir)
        if now != before:
            changed = sorted(set(now) ^ set(before)) or sorted(
                p for p in now if now[p] != before.get(p)
            )
            logger.info("handlerkit dev: %s changed, reloading", ", ".join(changed[:3]))
            latest = max(time.time(), os.stat(stamp).st_mtime + 1)
            os.utime(stamp, (latest, latest))
            before = now


def run_dev(
    app_dir: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    debugger: bool = False,
    interval: float = 0.5,
) -> int:
    """Serve *app_dir* with reloading until interrupted.

    Args:
        app_dir: The app directory.
        host: The interface to listen on.
        port: The port to listen on.
        debugger: Let unexpected handler errors reach Werkzeug's interactive
            debugger (:class:`DebuggerApp`).
            Off by default; a loud warning is printed when on.
        interval: Seconds between checks of the app directory.
    """
    app_dir = os.path.abspath(app_dir)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not is_running_from_reloader():
        # The reloader's supervising process: it serves nothing itself.
        fd, stamp = tempfile.mkstemp(prefix="handlerkit-dev-", suffix=".stamp")
        os.close(fd)
        os.environ[_STAMP_ENV] = stamp
        atexit.register(_remove, stamp)
        sys.stderr.write(
            f"handlerkit dev: serving {app_dir} on http://{host}:{port} (reloading on changes)\n"
        )
        with contextlib.suppress(ValueError):  # a malformed one is shown by the serving process
            for line in load_settings().lines():
                sys.stderr.write(f"handlerkit dev: {line}\n")
        if debugger:
            sys.stderr.write(DEBUGGER_WARNING.format(where=f"http://{host}:{port}"))
        application: Any = _never_called
    else:
        stamp = os.environ[_STAMP_ENV]
        application = DevApp(app_dir, debug=debugger)
        threading.Thread(target=_watch, args=(app_dir, stamp, interval), daemon=True).start()
    run_simple(
        host,
        port,
        application,
        use_reloader=True,
        reloader_type="stat",
        reloader_interval=interval,  # type: ignore[arg-type]  # annotated int; it is slept, floats work
        extra_files=[stamp],
        use_debugger=debugger,
        threaded=True,
    )
    return 0


def _never_called(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    raise RuntimeError("the reloader process does not serve requests")  # pragma: no cover


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
