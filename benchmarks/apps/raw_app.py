"""The floor: a hand-written WSGI callable with a dict router and no framework.

For E it does by hand what the wrappers do, with the same libraries and no
more: a request id, the CORS headers, a fixed-window counter in a dict, the
stock itsdangerous serializer, a marshmallow load and one access line through
the same logger. It shows what E costs before any framework code runs.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from benchmarks.workload import EXTRA_ROUTES, extra_paths

ENDPOINTS = ("A", "B", "C", "D", "E")

_JSON = [("Content-Type", "application/json")]


def _answer(start_response: Callable[..., Any], status: str, data: Any) -> list[bytes]:
    body = json.dumps(data).encode()
    start_response(status, [*_JSON, ("Content-Length", str(len(body)))])
    return [body]


def create(extra_routes: int = EXTRA_ROUTES) -> Callable[..., Iterable[bytes]]:
    """Return the raw WSGI app."""
    from itsdangerous import BadSignature, URLSafeTimedSerializer

    from benchmarks.workload import (
        ORIGIN,
        RATE_LIMIT,
        RATE_WINDOW,
        SECRET_KEY,
        TOKEN_SALT,
        ItemSchema,
        UserSchema,
        access_logger,
    )

    schema, items = UserSchema(), ItemSchema()
    signer = URLSafeTimedSerializer(SECRET_KEY, salt=TOKEN_SALT)
    log = access_logger("bench.raw.access")
    counters: dict[str, list[float]] = {}

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

    def create_item(
        environ: dict[str, Any], start_response: Callable[..., Any], param: str
    ) -> list[bytes]:
        started = time.perf_counter()
        rid = os.urandom(16).hex()
        headers = [("X-Request-ID", rid), ("Vary", "Origin")]
        if environ.get("HTTP_ORIGIN") == ORIGIN:
            headers.append(("Access-Control-Allow-Origin", ORIGIN))
        now = time.time()
        bucket = environ.get("REMOTE_ADDR", "") + "|/items"
        counter = counters.get(bucket)
        if counter is None or counter[1] <= now:
            counter = counters[bucket] = [0, now + RATE_WINDOW]
        counter[0] += 1
        headers += [
            ("X-RateLimit-Limit", str(RATE_LIMIT)),
            ("X-RateLimit-Remaining", str(max(0, RATE_LIMIT - int(counter[0])))),
            ("X-RateLimit-Reset", str(math.ceil(counter[1] - now))),
        ]
        status = "201 CREATED"
        auth = environ.get("HTTP_AUTHORIZATION", "")
        try:
            user = signer.loads(auth[7:]) if auth.startswith("Bearer ") else None
        except BadSignature:
            user = None
        if user is None:
            status, data = "401 UNAUTHORIZED", {"error": "unauthorized"}
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                data = items.load(json.loads(environ["wsgi.input"].read(length)))
                data["owner"] = user["sub"]
            except Exception as exc:  # noqa: BLE001 - the floor answers 422 for anything
                status, data = "422 UNPROCESSABLE ENTITY", {"error": str(exc)}
        body = json.dumps(data).encode()
        entry = {
            "method": "POST",
            "path": environ["PATH_INFO"],
            "query": environ.get("QUERY_STRING") or None,
            "route": "/items",
            "status": int(status[:3]),
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "request_id": rid,
            "ip": environ.get("REMOTE_ADDR"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        log.info(json.dumps(entry), extra={"access": entry})
        start_response(status, [*_JSON, ("Content-Length", str(len(body))), *headers])
        return [body]

    def extra(
        environ: dict[str, Any], start_response: Callable[..., Any], param: str
    ) -> list[bytes]:
        return _answer(start_response, "200 OK", {"id": param})

    static: dict[tuple[str, str], Callable[..., list[bytes]]] = {
        ("GET", "/hello"): hello,
        ("GET", "/q"): query,
        ("POST", "/users"): create_user,
        ("POST", "/items"): create_item,
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
