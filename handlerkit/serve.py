"""Serving an app directory under gunicorn through its application API (``handlerkit serve``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]  # no stubs

from .app import App, create_app
from .workers import worker_class_for

__all__ = ["HandlerKitApplication", "default_workers", "serve"]

#: The most workers ``handlerkit serve`` starts unless told otherwise.
MAX_DEFAULT_WORKERS = 8


def default_workers() -> int:
    """Return ``2 x usable CPUs + 1``, at most :data:`MAX_DEFAULT_WORKERS`."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return min(2 * cpus + 1, MAX_DEFAULT_WORKERS)


class HandlerKitApplication(BaseApplication):  # type: ignore[misc]  # gunicorn ships no types
    """A gunicorn application that builds ``create_app(app_dir, **app_options)`` in each worker.

    Args:
        app_dir: The app directory.
        options: gunicorn settings by name (``bind``, ``workers``, ``worker_class`` ...).
        app_options: Keyword arguments for :func:`~handlerkit.create_app`.
    """

    def __init__(
        self,
        app_dir: str | os.PathLike[str],
        options: dict[str, Any] | None = None,
        app_options: dict[str, Any] | None = None,
    ) -> None:
        self.app_dir = os.path.abspath(app_dir)
        self.options = options or {}
        self.app_options = app_options or {}
        super().__init__(prog="handlerkit serve")

    def load_config(self) -> None:
        """Copy :attr:`options` into gunicorn's config (unknown names fail at startup)."""
        for name, value in self.options.items():
            if value is not None:
                self.cfg.set(name, value)

    def load(self) -> App:
        """Build the app; gunicorn calls this in each worker (or once, with ``preload_app``)."""
        return create_app(self.app_dir, **self.app_options)


def serve(
    app_dir: str | os.PathLike[str],
    *,
    bind: Sequence[str] = ("127.0.0.1:8000",),
    workers: int | None = None,
    threads: int = 4,
    timeout: int = 30,
    worker_class: str = "gthread",
    trusted_proxies: int | None = None,
    trusted_hosts: Sequence[str] | None = None,
    access_log: bool = False,
    log_level: str = "info",
    control_socket: str | None = None,
    **settings: Any,
) -> int:
    """Run gunicorn in the foreground until it is stopped; return its exit code.

    Args:
        app_dir: The app directory.
        bind: Addresses to listen on (``HOST:PORT`` or ``unix:PATH``).
        workers: Worker processes; ``None`` for :func:`default_workers`.
        threads: Threads per worker (``gthread``).
        timeout: Seconds a worker may stay silent before gunicorn restarts it.
        worker_class: The gunicorn worker class; ``gthread`` keeps streaming
            responses (SSE) from blocking a whole worker. ``gthread`` and
            ``sync`` run handlerkit's subclasses (:mod:`handlerkit.workers`),
            which refuse malformed requests in the JSON error shape.
        trusted_proxies: Passed to the app (``ProxyFix``); ``None`` leaves it
            to ``HANDLERKIT_TRUSTED_PROXIES`` (default ``0``: trust no
            ``X-Forwarded-*`` header).
        trusted_hosts: Passed to the app; other ``Host`` values get 400.
        access_log: Write gunicorn's access log to stdout.
        log_level: gunicorn's log level.
        control_socket: A path for gunicorn's control socket (``gunicornc``).
            ``None`` (default) creates none, so several servers on one
            machine never fight over gunicorn's default path.
        settings: Any other gunicorn setting by name.
    """
    options: dict[str, Any] = {
        "bind": list(bind),
        "workers": workers if workers is not None else default_workers(),
        "threads": threads,
        "timeout": timeout,
        "worker_class": worker_class_for(worker_class, threads),
        "loglevel": log_level,
        "proc_name": "handlerkit",
        **settings,
    }
    if access_log:
        options["accesslog"] = "-"
    if control_socket:
        options["control_socket"] = control_socket
    else:
        options["control_socket_disable"] = True
    app_options: dict[str, Any] = {}
    if trusted_proxies is not None:
        app_options["trusted_proxies"] = trusted_proxies
    if trusted_hosts:
        app_options["trusted_hosts"] = list(trusted_hosts)
    HandlerKitApplication(app_dir, options, app_options).run()
    return 0
