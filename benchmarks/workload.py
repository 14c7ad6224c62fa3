"""The benchmark endpoints: their routes, requests, expected answers and shared pieces (schema, token).

Every app in ``benchmarks/apps`` serves the same endpoints:

- **A** ``GET /hello`` -> ``{"message": "Hello, World!"}``
- **B** ``GET /users/42`` -> ``{"id": "42"}``, with ``EXTRA_ROUTES`` other routes registered
- **C** ``GET /q?page=2&limit=10`` + ``Cookie: session=abc`` -> the three values echoed
- **D** ``POST /users`` with a JSON body validated by marshmallow -> 201 and the loaded data
- **E** ``POST /items``: logging, CORS, rate limit, bearer-token auth and marshmallow
  validation on one route -> 201
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, validate

#: Routes registered besides the benchmark endpoints (endpoint B's "1000 other routes").
EXTRA_ROUTES = 1000

#: The key that signs E's bearer tokens (``handlerkit.tokens`` and itsdangerous alike).
SECRET_KEY = "benchmark-secret-key-not-for-production"
TOKEN_SALT = "handlerkit.token"  # handlerkit.tokens.DEFAULT_SALT, what with_auth verifies
ORIGIN = "https://app.example.com"
RATE_LIMIT = 10**9  # high enough never to trip: the benchmark measures the bookkeeping
RATE_WINDOW = 60

USER_BODY = {"name": "Ada Lovelace", "email": "ada@example.com", "age": 36}
ITEM_BODY = {"title": "Difference engine", "quantity": 3}

#: Distinct requests the varied-traffic endpoints Bv and Cv cycle through.
VARIED_POOL = 5000

ENDPOINTS = ("A", "B", "Bv", "C", "Cv", "D", "E")
#: The varied-traffic variants and the endpoint whose route and goal each shares.
VARIED = {"Bv": "B", "Cv": "C"}
DESCRIPTIONS = {
    "A": "GET /hello",
    "B": f"GET /users/42 (+{EXTRA_ROUTES} routes)",
    "Bv": f"B with {VARIED_POOL} distinct ids and a browser's headers",
    "C": "GET /q?page=2&limit=10 + cookie",
    "Cv": f"C with {VARIED_POOL} distinct queries and session cookies, a browser's headers",
    "D": "POST /users, marshmallow, 201",
    "E": "POST /items, log+CORS+limit+auth+validation",
}


class UserSchema(Schema):
    """Endpoint D's body."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    email = fields.Email(required=True)
    age = fields.Integer(load_default=None, validate=validate.Range(min=0, max=150))


class ItemSchema(Schema):
    """Endpoint E's body."""

    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    quantity = fields.Integer(required=True, validate=validate.Range(min=1))


def extra_paths(count: int) -> list[str]:
    """Return *count* route patterns (folder syntax) that never match A-E: half static, half ``[id]``."""
    return [f"/extra/r{i}/[id]" if i % 2 else f"/extra/r{i}" for i in range(count)]


def bench_token() -> str:
    """Return a bearer token for E, signed the way ``handlerkit.tokens.issue_token`` signs."""
    from handlerkit.tokens import issue_token

    return issue_token(
        {"sub": "user-1", "roles": ["writer"]}, secret_key=SECRET_KEY, salt=TOKEN_SALT
    )


def access_logger(name: str) -> logging.Logger:
    """Return a logger that formats every record and writes it to ``/dev/null`` (work done, no noise)."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - lives with the process
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
    return logger


_BASE_ENVIRON: dict[str, Any] = {
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "SCRIPT_NAME": "",
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "50000",
    "HTTP_HOST": "127.0.0.1:8000",
    "HTTP_USER_AGENT": "handlerkit-bench",
    "HTTP_ACCEPT": "*/*",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.errors": io.StringIO(),
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
}


def _environ(method: str, path: str, query: str = "", **extra: Any) -> dict[str, Any]:
    environ = dict(_BASE_ENVIRON)
    environ.update(REQUEST_METHOD=method, PATH_INFO=path, QUERY_STRING=query)
    environ["RAW_URI"] = path + ("?" + query if query else "")
    environ.update(extra)
    return environ


#: What a browser sends besides the URL: caches keyed by header text see these vary too.
_BROWSER_HEADERS = {
    "HTTP_ACCEPT": "application/json, text/plain, */*",
    "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9,de;q=0.8",
    "HTTP_ACCEPT_ENCODING": "gzip, deflate, br, zstd",
    "HTTP_USER_AGENT": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    ),
    "HTTP_SEC_FETCH_MODE": "cors",
    "HTTP_SEC_FETCH_SITE": "same-origin",
    "HTTP_REFERER": "http://127.0.0.1:8000/app/dashboard",
}


def _varied(endpoint: str) -> Callable[[], dict[str, Any]]:
    """Cycle through VARIED_POOL distinct requests to B's or C's route; the first is B's or C's own."""
    empty = io.BytesIO(b"")
    pool: list[dict[str, Any]] = []
    for n in range(VARIED_POOL):
        if endpoint == "Bv":
            user = "42" if n == 0 else str(1000 + n * 7919 % 900000)
            environ = _environ("GET", f"/users/{user}", **_BROWSER_HEADERS)
        else:
            page, limit, session = ("2", "10", "abc") if n == 0 else (str(n % 97 + 1), str(n % 50 + 1), f"s{n:08x}{n * 2654435761 % 2**32:08x}")
            environ = _environ(
                "GET",
                "/q",
                f"page={page}&limit={limit}",
                HTTP_COOKIE=f"session={session}; _ga=GA1.1.{n}.1733500000; theme=dark",
                **_BROWSER_HEADERS,
            )
        environ["wsgi.input"] = empty
        pool.append(environ)
    position = [0]

    def next_request() -> dict[str, Any]:
        index = position[0]
        position[0] = (index + 1) % VARIED_POOL
        return pool[index].copy()

    return next_request


def request_factory(endpoint: str) -> Callable[[], dict[str, Any]]:
    """Return a function that builds a fresh environ for *endpoint* (a dict copy, a new body stream)."""
    if endpoint in VARIED:
        return _varied(endpoint)
    empty = io.BytesIO(b"")
    if endpoint == "A":
        base = _environ("GET", "/hello", **{"wsgi.input": empty})
    elif endpoint == "B":
        base = _environ("GET", "/users/42", **{"wsgi.input": empty})
    elif endpoint == "C":
        base = _environ(
            "GET", "/q", "page=2&limit=10", HTTP_COOKIE="session=abc", **{"wsgi.input": empty}
        )
    elif endpoint in ("D", "E"):
        body = json.dumps(USER_BODY if endpoint == "D" else ITEM_BODY).encode()
        extra: dict[str, Any] = {
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
        }
        if endpoint == "E":
            extra.update(HTTP_AUTHORIZATION=f"Bearer {bench_token()}", HTTP_ORIGIN=ORIGIN)
        base = _environ("POST", "/users" if endpoint == "D" else "/items", **extra)
        stream = io.BytesIO

        def make_post() -> dict[str, Any]:
            environ = base.copy()
            environ["wsgi.input"] = stream(body)
            return environ

        return make_post
    else:
        raise ValueError(endpoint)
    return base.copy


def http_request(endpoint: str) -> tuple[str, str, dict[str, str], bytes]:
    """Return ``(method, path_and_query, headers, body)`` for driving *endpoint* over HTTP."""
    if endpoint == "A":
        return "GET", "/hello", {}, b""
    if endpoint == "B":
        return "GET", "/users/42", {}, b""
    if endpoint == "C":
        return "GET", "/q?page=2&limit=10", {"Cookie": "session=abc"}, b""
    if endpoint == "D":
        return (
            "POST",
            "/users",
            {"Content-Type": "application/json"},
            json.dumps(USER_BODY).encode(),
        )
    if endpoint == "E":
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {bench_token()}",
            "Origin": ORIGIN,
        }
        return "POST", "/items", headers, json.dumps(ITEM_BODY).encode()
    raise ValueError(endpoint)


#: What each endpoint must answer: (status, JSON body).
EXPECTED: dict[str, tuple[int, Any]] = {
    "A": (200, {"message": "Hello, World!"}),
    "B": (200, {"id": "42"}),
    "Bv": (200, {"id": "42"}),  # the first request of the pool
    "C": (200, {"page": "2", "limit": "10", "session": "abc"}),
    "Cv": (200, {"page": "2", "limit": "10", "session": "abc"}),
    "D": (201, USER_BODY),
    "E": (201, {**ITEM_BODY, "owner": "user-1"}),
}
