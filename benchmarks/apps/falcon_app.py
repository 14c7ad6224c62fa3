"""Falcon 4 (WSGI), one resource class per endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.workload import EXTRA_ROUTES, extra_paths

ENDPOINTS = ("A", "B", "C")


def create(extra_routes: int = EXTRA_ROUTES) -> Callable[..., Any]:
    """Return the Falcon app."""
    import falcon

    class Hello:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.media = {"message": "Hello, World!"}

    class User:
        def on_get(self, req: falcon.Request, resp: falcon.Response, id: str) -> None:  # noqa: A002
            resp.media = {"id": id}

    class Query:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            session = req.get_cookie_values("session")
            resp.media = {
                "page": req.get_param("page"),
                "limit": req.get_param("limit"),
                "session": session[0] if session else None,
            }

    class Extra:
        def on_get(self, req: falcon.Request, resp: falcon.Response, id: str | None = None) -> None:  # noqa: A002
            resp.media = {"id": id}

    app = falcon.App()
    extra = Extra()
    for pattern in extra_paths(extra_routes):
        app.add_route(pattern.replace("[id]", "{id}"), extra)
    app.add_route("/hello", Hello())
    app.add_route("/users/{id}", User())
    app.add_route("/q", Query())
    return app
