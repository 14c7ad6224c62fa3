"""The resolver on its own: every outcome it can give, from an environ built by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from handlerkit import App
from handlerkit.routing.resolve import Redirect, Refusal, Resolver, select_handler
from handlerkit.testing import write_app

TREE = {
    "users/route.py": "def GET():\n    return {}\n\ndef POST():\n    return {}\n",
    "users/[id]/route.py": "def GET(request, context):\n    return {}\n",
    "docs/[...slug]/route.py": "def GET(request, context):\n    return {}\n",
}


@pytest.fixture
def resolver(tmp_path: Path) -> Resolver:
    app = App(write_app(tmp_path / "app", TREE), base_path="/api", trusted_hosts=["api.example"])
    return app.resolver


def environ(path: str, method: str = "GET", host: str = "api.example", raw: str | None = None) -> dict[str, Any]:
    env = EnvironBuilder(path, method=method, headers={"Host": host}).get_environ()
    if raw is not None:
        env["RAW_URI"] = raw
    return env


def test_a_match_is_the_route_and_its_decoded_params(resolver: Resolver) -> None:
    route, params = resolver(environ("/api/users/a%20b", raw="/api/users/a%20b"))  # type: ignore[misc]
    assert (route.pattern, params) == ("/users/[id]", {"id": "a b"})
    route, params = resolver(environ("/api/users"))  # type: ignore[misc]
    assert (route.pattern, params) == ("/users", {})


@pytest.mark.parametrize(
    ("env", "status", "code"),
    [
        (environ("/api/users", method="BREW"), 501, "not_implemented"),
        (environ("/api/users", host="evil.example"), 400, "invalid_host"),
        (environ("/api/users", host="bad host"), 400, "invalid_host"),
        (environ("/users"), 404, "not_found"),
        (environ("/api/nope"), 404, "not_found"),
        (environ("/api/users/%zz", raw="/api/users/%zz"), 400, "invalid_path"),
        (environ("/api/users/x", raw="/api/users/%C0%AE"), 400, "invalid_path"),
        (environ("/api/docs/a/../b", raw="/api/docs/a/../b"), 400, "invalid_param"),
    ],
)
def test_each_refusal_has_its_status_and_code(
    resolver: Resolver, env: dict[str, Any], status: int, code: str
) -> None:
    refused = resolver(env)
    assert isinstance(refused, Refusal) and (refused.status, refused.code) == (status, code)
    assert repr(refused) == f"Refusal({status}, {code!r})"
    response = refused.to_response()
    assert response.status_code == status and response.json()["error"] == code


def test_the_slash_policy_redirects_with_the_query_kept(resolver: Resolver) -> None:
    env = environ("/api/users/", raw="/api/users/?q=a%20b")
    env["QUERY_STRING"] = "q=a b<"
    redirect = resolver(env)
    assert isinstance(redirect, Redirect)
    assert redirect.location == "/api/users?q=a%20b%3C" and repr(redirect).startswith("Redirect(")
    response = redirect.to_response()
    assert response.status_code == 308 and response.headers["Location"] == redirect.location


def test_an_absolute_raw_uri_is_read_by_its_path(resolver: Resolver) -> None:
    # A server may pass the request target in absolute form (a proxy request).
    env = environ("/api/users/a/b", raw="http://api.example/api/users/a%2Fb")
    route, params = resolver(env)  # type: ignore[misc]
    assert params == {"id": "a/b"}


def test_select_handler_names_how_the_method_is_answered(resolver: Resolver) -> None:
    route, _ = resolver(environ("/api/users"))  # type: ignore[misc]
    assert select_handler(route, "GET")[1] == "handler"
    assert select_handler(route, "HEAD")[1] == "head_via_get"
    assert select_handler(route, "OPTIONS") == (None, "automatic_options")
    assert select_handler(route, "DELETE") == (None, "method_not_allowed")
    assert select_handler(route, "QUERY") == (None, "method_not_allowed")
