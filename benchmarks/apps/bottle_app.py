"""Bottle 0.13, one ``Bottle()`` instance (not the module-level default app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.workload import EXTRA_ROUTES, extra_paths

ENDPOINTS = ("A", "B", "C")


def create(extra_routes: int = EXTRA_ROUTES) -> Callable[..., Any]:
    """Return the Bottle app."""
    import bottle

    app = bottle.Bottle()
    request = bottle.request

    def extra(id: str | None = None) -> Any:  # noqa: A002 - the route's param name
        return {"id": id}

    for pattern in extra_paths(extra_routes):
        app.route(pattern.replace("[id]", "<id>"), "GET", extra)

    @app.get("/hello")
    def hello() -> Any:
        return {"message": "Hello, World!"}

    @app.get("/users/<id>")
    def user(id: str) -> Any:  # noqa: A002
        return {"id": id}

    @app.get("/q")
    def query() -> Any:
        return {
            "page": request.query.get("page"),
            "limit": request.query.get("limit"),
            "session": request.get_cookie("session"),
        }

    return app
