"""Mounting: an App under a SCRIPT_NAME prefix (Flask, DispatcherMiddleware) and with base_path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask
import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from handlerkit import App
from handlerkit.testing import Client

MakeApp = Callable[..., App]

FILES = {
    "route.py": "def GET(request):\n    return {'root': request.next_url.pathname}\n",
    "users/route.py": """
        def GET(request):
            url = request.next_url
            return {"pathname": url.pathname, "href": url.href, "base_path": url.base_path,
                    "search": url.search, "script_root": request.root_path}
        """,
    "users/[id]/route.py": "def GET(request, context):\n    return {'id': context.params['id']}\n",
}


def _flask_host(api: App) -> Any:
    host = flask.Flask("host")

    @host.get("/")
    def home() -> dict[str, str]:
        return {"from": "flask"}

    host.wsgi_app = DispatcherMiddleware(host.wsgi_app, {"/api": api})  # type: ignore[method-assign]
    return host


def _plain_host(api: App) -> Any:
    def fallback(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"outer app"]

    return DispatcherMiddleware(fallback, {"/api": api})


@pytest.fixture(params=["flask", "dispatcher"])
def mounted(request: pytest.FixtureRequest, make_app: MakeApp) -> Client:
    api = make_app(FILES)
    host = _flask_host(api) if request.param == "flask" else _plain_host(api)
    return Client(host)


def test_pathname_excludes_the_mount_prefix_and_href_includes_it(mounted: Client) -> None:
    body = mounted.get("/api/users?page=2").json()
    assert body == {
        "pathname": "/users",
        "href": "http://localhost/api/users?page=2",
        "base_path": "",
        "search": "?page=2",
        "script_root": "/api",
    }


def test_params_and_the_root_route_work_under_the_prefix(mounted: Client) -> None:
    assert mounted.get("/api/users/7").json() == {"id": "7"}
    assert mounted.get("/api").json() == {"root": "/"}
    assert mounted.get("/api/").json() == {"root": "/"}


def test_trailing_slash_redirect_keeps_the_prefix_and_the_query(mounted: Client) -> None:
    response = mounted.get("/api/users/?page=2")
    assert response.status_code == 308
    assert response.headers["Location"] == "/api/users?page=2"
    followed = mounted.get("/api/users/", follow_redirects=True)
    assert followed.json()["pathname"] == "/users"


def test_404s_under_the_prefix_are_json(mounted: Client) -> None:
    response = mounted.get("/api/nope")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"


def test_the_outer_app_still_answers_outside_the_prefix(make_app: MakeApp) -> None:
    api = make_app(FILES)
    assert Client(_flask_host(api)).get("/").json() == {"from": "flask"}
    assert Client(_plain_host(api)).get("/").data == b"outer app"


def test_percent_2f_with_the_raw_uri_under_a_prefix(mounted: Client) -> None:
    assert mounted.get("/api/users/a%2Fb").json() == {"id": "a/b"}


def test_trailing_slash_true_under_a_prefix(make_app: MakeApp) -> None:
    client = Client(_plain_host(make_app(FILES, trailing_slash=True)))
    response = client.get("/api/users?x=1")
    assert (response.status_code, response.headers["Location"]) == (308, "/api/users/?x=1")
    assert client.get("/api/users/").json()["pathname"] == "/users/"


BASE_FILES = {
    "users/route.py": FILES["users/route.py"],
    "route.py": FILES["route.py"],
}


def test_base_path_prefixes_every_route(make_app: MakeApp) -> None:
    client = Client(make_app(BASE_FILES, base_path="/v1/"))
    body = client.get("/v1/users").json()
    assert body["pathname"] == "/users"
    assert body["base_path"] == "/v1"
    assert body["href"] == "http://localhost/v1/users"
    assert client.get("/v1").json() == {"root": "/"}
    assert client.get("/users").status_code == 404
    assert client.get("/v1x/users").status_code == 404
    assert client.get("/users").json()["error"] == "not_found"
    redirect = client.get("/v1/users/?a=b")
    assert (redirect.status_code, redirect.headers["Location"]) == (308, "/v1/users?a=b")


def test_base_path_inside_a_mount(make_app: MakeApp) -> None:
    client = Client(_plain_host(make_app(BASE_FILES, base_path="v1")))
    body = client.get("/api/v1/users").json()
    assert (body["pathname"], body["base_path"]) == ("/users", "/v1")
    assert body["href"] == "http://localhost/api/v1/users"
    redirect = client.get("/api/v1/users/")
    assert redirect.headers["Location"] == "/api/v1/users"
    missing = client.get("/api/users")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
