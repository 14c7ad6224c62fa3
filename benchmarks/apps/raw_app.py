"""The floor: a hand-written WSGI callable with a dict router and no framework."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from benchmarks.workload import EXTRA_ROUTES, extra_paths

ENDPOINTS = ("A", "B", "C", "D")

_JSON = [("Content-Type", "application/json")]


def _answer(start_response: Callable[..., Any], status: str, data: Any) -> list[bytes]:
    body = json.dumps(data).encode()
    start_response(status, [*_JSON, ("Content-Length", str(len(body)))])
    return [body]


def create(extra_routes: int = EXTRA_ROUTES) -> Callable[..., Iterable[bytes]]:
    """Return the raw WSGI app."""
    from benchmarks.workload import UserSchema

    schema = UserSchema()

    def hello(
        environ: dict[str, Any], start_response: Callable[..., Any], param: str
    ) -> list[bytes]:
        return _answer(start_response, "200 OK", {"message": "Hello, World!"})

    def user(
        environ: dict[str, Any], start_response: Callable[..., Any], param: str
    ) -> list[bytes]:
        return _answer(start_response, "200 OK", {"id": param})

    def query(
        environ: dict[str, Any], start_response: Callable[..., Any], param: str
    ) -> list[bytes]:
        args = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        cookies = dict(
            part.strip().split("=", 1)
            for part in environ.get("HTTP_COOKIE", "").split(";")
            if "=" in part
        )
        data = {
            "page": args.get("page"),
            "limit": args.get("limit"),
            "session": cookies.get("session"),
        }
        return _answer(start_response, "200 OK", data)

    def create_user(
        environ: dict[str, Any], start_response: Callable[..., Any], param: str
    ) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            data = schema.load(json.loads(environ["wsgi.input"].read(length)))
        except Exception as exc:  # noqa: BLE001 - the floor answers 422 for anything
            return _answer(start_response, "422 UNPROCESSABLE ENTITY", {"error": str(exc)})
        return _answer(start_response, "201 CREATED", data)

    def extra(
        environ: dict[str, Any], start_response: Callable[..., Any], param: str
    ) -> list[bytes]:
        return _answer(start_response, "200 OK", {"id": param})

    static: dict[tuple[str, str], Callable[..., list[bytes]]] = {
        ("GET", "/hello"): hello,
        ("GET", "/q"): query,
        ("POST", "/users"): create_user,
    }
    dynamic: dict[tuple[str, str], Callable[..., list[bytes]]] = {("GET", "/users"): user}
    for pattern in extra_paths(extra_routes):
        if pattern.endswith("/[id]"):
            dynamic["GET", pattern[: -len("/[id]")]] = extra
        else:
            static["GET", pattern] = extra

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ["PATH_INFO"]
        handler = static.get((method, path))
        if handler is not None:
            return handler(environ, start_response, "")
        head, _, tail = path.rpartition("/")
        handler = dynamic.get((method, head))
        if handler is not None and tail:
            return handler(environ, start_response, tail)
        start_response("404 NOT FOUND", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return [b""]

    return app
