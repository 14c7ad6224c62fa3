"""Fuzz targets: each takes raw bytes and must never let an exception escape or answer 5xx.

The same functions run under atheris (``python -m tests.fuzz.run``) and under pytest, which
replays the committed corpus in ``tests/fuzz/corpus/<target>/`` so every crash the fuzzer
ever found stays a regression test.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from handlerkit import App, NextRequest
from handlerkit.errors import ApiError
from handlerkit.request import RequestCookies
from handlerkit.testing import write_app

_ROUTES = {
    "route.py": "def GET():\n    return {'ok': True}\n",
    "users/[id]/route.py": "def GET(request, context):\n    return {'id': context.params['id']}\n",
    "docs/[...slug]/route.py": "def GET(request, context):\n    return {'slug': context.params['slug']}\n",
    "shop/[[...slug]]/route.py": "def GET(request, context):\n    return context.params\n",
    "echo/route.py": (
        "def POST(request):\n"
        "    return {'json': request.json()}\n"
        "def PUT(request):\n"
        "    form = request.form_data()\n"
        "    return {'fields': sorted(form.keys())}\n"
        "def PATCH(request):\n"
        "    return {'text': request.text()[:10], 'cookies': len(request.cookies), 'q': len(request.next_url.search_params)}\n"
    ),
}


class Consumer:
    """A tiny stand-in for atheris.FuzzedDataProvider that works without atheris."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, limit: int) -> bytes:
        size = min(self.byte() * 4, limit)
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        return chunk

    def rest(self) -> bytes:
        chunk = self.data[self.pos :]
        self.pos = len(self.data)
        return chunk


@cache
def _app() -> App:
    root = Path(tempfile.mkdtemp(prefix="handlerkit-fuzz-"))
    return App(write_app(root, _ROUTES), secret_key="fuzz-key", trusted_hosts=None)


_METHODS = [b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"HEAD", b"OPTIONS", b"BREW", b"get", b""]
_CTYPES = [
    b"application/json",
    b"multipart/form-data; boundary=xyz",
    b"multipart/form-data",
    b"application/x-www-form-urlencoded",
    b"text/plain; charset=latin-1",
    b"",
]


def wsgi(data: bytes) -> None:
    """The app's WSGI entry from an arbitrary environ, path, query, headers and body."""
    c = Consumer(data)
    method = _METHODS[c.byte() % len(_METHODS)].decode()
    path = c.take(300).decode("latin-1")
    raw = c.take(300).decode("latin-1")
    body = c.take(4000)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path if path.startswith("/") else "/" + path,
        "QUERY_STRING": c.take(200).decode("latin-1"),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": c.take(40).decode("latin-1") or "localhost",
        "HTTP_COOKIE": c.take(200).decode("latin-1"),
        "HTTP_AUTHORIZATION": c.take(100).decode("latin-1"),
        "CONTENT_TYPE": _CTYPES[c.byte() % len(_CTYPES)].decode(),
        "CONTENT_LENGTH": str(len(body)) if c.byte() % 4 else c.take(8).decode("latin-1"),
        "wsgi.input": io.BytesIO(body + c.rest()),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    if c.byte() % 2:
        environ["RAW_URI"] = raw if raw.startswith("/") else "/" + raw
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        status.append(line)

    result = _app()(environ, start_response)
    try:
        for _ in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    code = int(status[-1].split()[0])
    if code >= 500 and code != 501:
        raise AssertionError(f"{code} for {environ['REQUEST_METHOD']} {environ['PATH_INFO']!r}")


def json_body(data: bytes) -> None:
    """The JSON body reader: a value or an ApiError 400/413, nothing else."""
    request = NextRequest("/", method="POST", data=data, content_type="application/json")
    try:
        json.dumps(request.json())
    except ApiError as exc:
        assert exc.status in (400, 413), exc.status


def multipart(data: bytes) -> None:
    """The multipart parser: a FormData or an ApiError 400/413/415."""
    boundary = "xyz"
    request = NextRequest(
        "/", method="POST", data=data, content_type=f"multipart/form-data; boundary={boundary}"
    )
    try:
        form = request.form_data()
        for _name, value in form.items():
            if not isinstance(value, str):
                assert "/" not in value.name and "\\" not in value.name and "\x00" not in value.name
                value.read()
    except ApiError as exc:
        assert exc.status in (400, 413, 415), exc.status
    finally:
        request.close()


def cookies(data: bytes) -> None:
    """The Cookie header parser and signed-cookie verification."""
    header = data.decode("latin-1")
    jar = RequestCookies(header, secret_key=["old", "new"])
    for cookie in jar:
        assert isinstance(cookie.value, str)
        jar.get_signed(cookie.name)


def segments(data: bytes) -> None:
    """The per-segment path decoder and trie, through App.resolve with a raw URI."""
    raw = "/" + data.decode("latin-1")
    from urllib.parse import unquote_to_bytes

    path = unquote_to_bytes(raw.partition("?")[0]).decode("latin-1")
    result = _app().resolve(path, {"RAW_URI": raw})
    if isinstance(result, tuple):
        route, params = result
        for value in params.values():
            for item in value if isinstance(value, list) else [value]:
                assert item not in (".", "..") and "\x00" not in item


def _protected(request: Any, context: Any) -> dict[str, Any]:
    return {"user": context.state.user}


@cache
def _auth_handlers() -> tuple[Callable[..., Any], Callable[..., Any]]:
    from handlerkit import with_auth

    return (
        with_auth(_protected, secret_key=["fuzz-old", "fuzz-key"], max_age=3600),
        with_auth(_protected, secret_key="fuzz-key", cookie="session", roles=["admin"]),
    )


def authorization(data: bytes) -> None:
    """with_auth's Authorization header / token-cookie parsing and token verification.

    Invariant: a response naming the user (only for a token we issued) or a 400/401/403 answer.
    """
    from handlerkit.tokens import issue_token

    c = Consumer(data)
    mode = c.byte() % 4
    raw = c.rest().decode("latin-1")
    if mode == 1:  # a real token with fuzzed surroundings or a fuzzed tail
        token = issue_token({"sub": "fuzz", "roles": ["admin"]}, secret_key="fuzz-key")
        raw = f"Bearer {token}{raw}" if len(raw) % 2 else f"{raw[:8]} {token}"
    by_header, by_cookie = _auth_handlers()
    environ = dict(NextRequest("http://localhost/x").environ)
    environ["HTTP_AUTHORIZATION" if mode != 2 else "HTTP_COOKIE"] = (
        raw if mode != 2 else f"session={raw}"
    )
    request = NextRequest(environ)
    for handler in (by_header, by_cookie):
        # Called directly, a wrapped handler answers as the App would (handlerkit.direct).
        result = handler(request)
        if result.status_code == 200:
            assert result.json()["user"]["sub"] == "fuzz", result
        else:
            assert result.status_code in (400, 401, 403), result.status_code
            assert result.status_code != 401 or "WWW-Authenticate" in result.headers


def stripe_header(data: bytes) -> None:
    """handlerkit.webhooks.verify_stripe header parsing: a timestamp or SignatureError 400/401."""
    from handlerkit.webhooks import SignatureError, sign_stripe, verify_stripe

    c = Consumer(data)
    payload = c.take(256)
    header = c.rest().decode("latin-1")
    if c.byte() % 3 == 0 or (payload and payload[0] % 3 == 0):
        header = sign_stripe(payload, "whsec_fuzz", 1_700_000_000) + header
    try:
        stamp = verify_stripe(
            payload, header, ["whsec_old", "whsec_fuzz"], tolerance=300, now=1_700_000_000
        )
    except SignatureError as exc:
        assert exc.status in (400, 401), exc.status
    else:
        assert stamp == 1_700_000_000  # only our own signature verifies


TARGETS: dict[str, Callable[[bytes], None]] = {
    "wsgi": wsgi,
    "json_body": json_body,
    "multipart": multipart,
    "cookies": cookies,
    "segments": segments,
    "authorization": authorization,
    "stripe_header": stripe_header,
}
