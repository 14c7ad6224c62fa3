"""Test helpers: a Client whose responses read like Fetch responses, and app-from-dict builders.

``NextRequest`` itself is test-friendly (``NextRequest("/x", method="POST",
json={...})``). ``respond(handler, request)`` calls any handler, wrapped or not,
and returns the response the App would send for it (errors in the JSON shape,
a ``dict`` as JSON); a wrapped handler called as ``handler(request)`` does the same.
"""

from __future__ import annotations

import json as _json
import os
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from werkzeug.test import Client as _WerkzeugClient
from werkzeug.test import TestResponse as _WerkzeugTestResponse

from .app import App
from .context import RouteContext
from .direct import respond
from .request import NextRequest
from .response import ResponseCookies

__all__ = [
    "Client",
    "NextRequest",
    "RouteContext",
    "TestResponse",
    "make_app",
    "respond",
    "write_app",
]


class TestResponse(_WerkzeugTestResponse):
    """A test client response: ``status_code``, ``headers``, ``text``, ``json()`` and ``cookies``.

    ``json()`` is a method, as in Fetch (Werkzeug: a property).
    """

    __test__ = False  # not a pytest test class

    def json(self) -> Any:
        """Parse the body as JSON."""
        return _json.loads(self.get_data())

    @property
    def cookies(self) -> ResponseCookies:
        """The cookies this response sets (its ``Set-Cookie`` headers)."""
        return ResponseCookies(self)


class Client(_WerkzeugClient):
    """A Werkzeug test client for an :class:`~handlerkit.App` (or any WSGI app).

    Cookies persist between requests, as in a browser. Use ``client.get(...)``,
    ``client.post(..., json=...)``, ``client.query(..., json=...)`` and friends.
    """

    def __init__(self, app: Any, **options: Any) -> None:
        options.setdefault("response_wrapper", TestResponse)
        super().__init__(app, **options)

    def query(self, *args: Any, **kw: Any) -> TestResponse:
        """Send a ``QUERY`` request (a safe request with a body); takes what :meth:`post` takes."""
        kw["method"] = "QUERY"
        return cast(TestResponse, self.open(*args, **kw))


def write_app(root: str | os.PathLike[str], files: Mapping[str, str]) -> Path:
    """Write ``{relative_path: source}`` under *root* and return *root* as a Path.

    Sources are dedented, so they can be written as indented triple-quoted strings.
    """
    base = Path(root)
    for relative, source in files.items():
        target = base / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    base.mkdir(parents=True, exist_ok=True)
    return base


def make_app(root: str | os.PathLike[str], files: Mapping[str, str], **options: Any) -> App:
    """Write *files* under *root* and return ``App(root, **options)``."""
    return App(write_app(root, files), **options)
