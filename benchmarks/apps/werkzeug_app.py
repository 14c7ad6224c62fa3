"""Werkzeug alone: a routing ``Map`` and its ``Request``/``Response`` wrappers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from benchmarks.workload import EXTRA_ROUTES, extra_paths

ENDPOINTS = ("A", "B", "C")


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status, mimetype="application/json")


def create(extra_routes: int = EXTRA_ROUTES) -> Callable[..., Any]:
    """Return the Werkzeug app."""
    rules = [
        Rule(p.replace("[id]", "<id>"), endpoint="extra", methods=["GET"])
        for p in extra_paths(extra_routes)
    ]
    rules += [
        Rule("/hello", endpoint="hello", methods=["GET"]),
        Rule("/users/<id>", endpoint="user", methods=["GET"]),
        Rule("/q", endpoint="query", methods=["GET"]),
    ]
    url_map = Map(rules)

    def hello(request: Request) -> Response:
        return _json({"message": "Hello, World!"})

    def user(request: Request, id: str) -> Response:  # noqa: A002 - the route's param name
        return _json({"id": id})

    def query(request: Request) -> Response:
        return _json(
            {
                "page": request.args.get("page"),
                "limit": request.args.get("limit"),
                "session": request.cookies.get("session"),
            }
        )

    def extra(request: Request, id: str | None = None) -> Response:  # noqa: A002
        return _json({"id": id})

    views = {"hello": hello, "user": user, "query": query, "extra": extra}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        adapter = url_map.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
            response = views[endpoint](request, **args)
        except HTTPException as exc:
            response = exc  # type: ignore[assignment]
        return response(environ, start_response)

    return app
