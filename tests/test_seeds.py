"""The seed examples (tests/seed_app), called directly and through the App, behave as described."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from handlerkit import ApiError, App, NextRequest, NextResponse, RouteContext
from handlerkit.testing import Client

SEED_APP = Path(__file__).parent / "seed_app"


@pytest.fixture(scope="module")
def app() -> App:
    return App(SEED_APP)


@pytest.fixture
def client(app: App) -> Client:
    return Client(app)


@pytest.fixture(autouse=True)
def fresh_db(app: App) -> Iterator[None]:
    users = sys.modules[handler(app, "/api/users", "GET").__module__]
    users.db.reset()  # the _lib/db.py the routes imported
    yield
    users.db.reset()


def handler(app: App, pattern: str, method: str) -> Any:
    """The exported function itself, as a test would import it from route.py."""
    route = next(r for r in app.routes if r.pattern == pattern)
    return route.exports[method]


def test_the_seed_tree_maps_to_the_seed_urls(app: App) -> None:
    assert sorted(r.pattern for r in app.routes) == [
        "/api/auth/login",
        "/api/products/[...slug]",
        "/api/search",
        "/api/users",
        "/api/users/[id]",
        "/rss.xml",
    ]


# -- users ------------------------------------------------------------------------------------


def test_users_list_directly_with_defaults(app: App) -> None:
    response = handler(app, "/api/users", "GET")(NextRequest("/api/users"))
    assert isinstance(response, NextResponse) and response.status_code == 200
    body = response.json()
    assert (body["page"], body["limit"], body["total"]) == (1, 10, 2)
    assert [u["name"] for u in body["data"]] == ["Ada Lovelace", "Alan Turing"]
    assert body["signed_in"] is False


def test_users_list_pages_reads_cookie_and_user_agent_through_the_app(client: Client) -> None:
    client.set_cookie("session-token", "t1")
    body = client.get("/api/users?page=2&limit=1", headers={"User-Agent": "seed-test/1"}).json()
    assert [u["name"] for u in body["data"]] == ["Alan Turing"]
    assert (body["page"], body["limit"], body["has_next"], body["has_prev"]) == (2, 1, False, True)
    assert body["signed_in"] is True
    assert body["user_agent"] == "seed-test/1"
    assert client.get("/api/users?page=abc&limit=-3").json()["page"] == 1


def test_users_create_directly_returns_201(app: App) -> None:
    post = handler(app, "/api/users", "POST")
    response = post(
        NextRequest(
            "/api/users", method="POST", json={"name": "Grace Hopper", "email": "grace@example.com"}
        )
    )
    assert response.status_code == 201
    assert response.json() == {
        "id": "3",
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "role": "user",
    }


def test_users_create_through_the_app_from_json_and_from_a_form(client: Client) -> None:
    created = client.post(
        "/api/users", json={"name": "Grace", "email": "g@example.com", "role": "admin"}
    )
    assert created.status_code == 201 and created.json()["role"] == "admin"
    form = client.post("/api/users", data={"name": "Edsger", "email": "e@example.com"})
    assert form.status_code == 201 and form.json()["name"] == "Edsger"
    assert client.get("/api/users").json()["total"] == 4


def test_users_create_refuses_bad_input(client: Client, app: App) -> None:
    invalid = client.post("/api/users", json={"name": "A", "email": "nope", "role": "root"})
    assert invalid.status_code == 422
    assert invalid.json()["error"] == "validation_error"
    assert set(invalid.json()["details"]) == {"name", "email", "role"}
    duplicate = client.post("/api/users", json={"name": "Ada again", "email": "ada@example.com"})
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "conflict"
    unsupported = client.post("/api/users", data=b"name=x", content_type="text/plain")
    assert unsupported.status_code == 415
    assert (
        client.post("/api/users", data=b"{oops", content_type="application/json").status_code == 400
    )
    with pytest.raises(ApiError) as info:
        handler(app, "/api/users", "POST")(
            NextRequest("/api/users", method="POST", json=["not", "an", "object"])
        )
    assert info.value.status == 422


# -- users/[id] ------------------------------------------------------------------------------


def test_user_by_id_directly(app: App) -> None:
    get = handler(app, "/api/users/[id]", "GET")
    found = get(NextRequest("/api/users/1"), RouteContext(params={"id": "1"}))
    assert found.json()["name"] == "Ada Lovelace"
    with pytest.raises(ApiError) as info:
        get(NextRequest("/api/users/99"), RouteContext(params={"id": "99"}))
    assert (info.value.status, info.value.message) == (404, "User not found.")


def test_user_delete_directly_is_204_without_a_body(app: App) -> None:
    delete = handler(app, "/api/users/[id]", "DELETE")
    response = delete(
        NextRequest("/api/users/2", method="DELETE"), RouteContext(params={"id": "2"})
    )
    assert response.status_code == 204
    assert response.get_data() == b"" and "Content-Type" not in response.headers


def test_user_by_id_through_the_app(client: Client) -> None:
    assert client.get("/api/users/2").json()["name"] == "Alan Turing"
    missing = client.get("/api/users/99")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "User not found."}
    deleted = client.delete("/api/users/2")
    assert (deleted.status_code, deleted.data) == (204, b"")
    assert "Content-Type" not in deleted.headers
    assert client.get("/api/users/2").status_code == 404
    assert client.delete("/api/users/2").status_code == 404


# -- products/[...slug], search, rss.xml -----------------------------------------------------


def test_products_catch_all_directly_and_through_the_app(app: App, client: Client) -> None:
    get = handler(app, "/api/products/[...slug]", "GET")
    assert get(
        NextRequest("/api/products/a/b/c"), RouteContext(params={"slug": ["a", "b", "c"]})
    ) == {
        "slug": ["a", "b", "c"],
        "path": "a/b/c",
        "depth": 3,
    }
    assert client.get("/api/products/a/b/c").json() == {
        "slug": ["a", "b", "c"],
        "path": "a/b/c",
        "depth": 3,
    }
    assert client.get("/api/products/shoes").json()["slug"] == ["shoes"]
    assert client.get("/api/products").status_code == 404  # a required catch-all needs one segment


def test_search_reads_the_query_parameter(app: App, client: Client) -> None:
    get = handler(app, "/api/search", "GET")
    assert get(NextRequest("/api/search?query=hello")).json() == {"query": "hello"}
    assert client.get("/api/search?query=hello").json() == {"query": "hello"}
    assert client.get("/api/search?query=caf%C3%A9+au+lait").json() == {"query": "café au lait"}
    assert client.get("/api/search").json() == {"query": None}


def test_rss_feed_is_xml(app: App, client: Client) -> None:
    direct = handler(app, "/rss.xml", "GET")()
    assert direct.headers["Content-Type"] == "application/xml"
    response = client.get("/rss.xml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/xml"
    assert response.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert b'<rss version="2.0">' in response.data and b"<channel>" in response.data


# -- auth/login ------------------------------------------------------------------------------

CREDENTIALS = {"email": "ada@example.com", "password": "correct horse battery staple"}


def test_login_directly_sets_a_week_long_http_only_cookie(app: App) -> None:
    post = handler(app, "/api/auth/login", "POST")
    response = post(NextRequest("/api/auth/login", method="POST", json=CREDENTIALS))
    assert response.json() == {"success": True}
    cookie = response.cookies.get("session-token")
    assert cookie is not None and len(cookie.value) >= 24
    assert cookie.http_only and cookie.same_site == "Lax" and cookie.path == "/"
    assert cookie.max_age == 60 * 60 * 24 * 7
    assert cookie.secure is False  # not production


def test_login_cookie_is_secure_in_production(
    app: App, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    response = client.post("/api/auth/login", json=CREDENTIALS)
    header = response.headers["Set-Cookie"]
    for part in (
        "session-token=",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Max-Age=604800",
        "Path=/",
    ):
        assert part in header
    assert response.cookies.get("session-token").secure  # type: ignore[union-attr]


def test_login_then_the_users_list_sees_the_session(client: Client) -> None:
    assert client.post("/api/auth/login", json=CREDENTIALS).status_code == 200
    assert client.get("/api/users").json()["signed_in"] is True


def test_login_refuses_wrong_credentials_without_a_cookie(client: Client) -> None:
    for body in (
        {**CREDENTIALS, "password": "wrong"},
        {"email": "x@example.com", "password": "p"},
        {},
    ):
        response = client.post("/api/auth/login", json=body)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_credentials"
        assert "Set-Cookie" not in response.headers
    assert client.post("/api/auth/login", json=[1]).status_code == 422
