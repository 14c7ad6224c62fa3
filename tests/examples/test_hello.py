"""examples/hello, in-process: every route of the example answers as its README says."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlerkit import App
from handlerkit.testing import Client

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello"


@pytest.fixture
def client() -> Client:
    return Client(App(HELLO))  # a fresh App re-imports the routes: a fresh store


def test_the_tree_has_the_documented_routes() -> None:
    assert sorted(r.pattern for r in App(HELLO).routes) == [
        "/",
        "/about",
        "/api/docs/[...slug]",
        "/api/shop/[[...slug]]",
        "/api/stream",
        "/api/users",
        "/api/users/[id]",
    ]


def test_root(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.json() == {"message": "Hello, World!"}


def test_users_list_and_limit(client: Client) -> None:
    assert client.get("/api/users").json() == {
        "data": [{"id": "1", "name": "Ada Lovelace"}, {"id": "2", "name": "Alan Turing"}],
        "count": 2,
    }
    assert client.get("/api/users?limit=1").json()["count"] == 1
    assert client.get("/api/users?limit=abc").json()["count"] == 2


def test_users_create_and_read_back(client: Client) -> None:
    created = client.post("/api/users", json={"name": "  Grace Hopper "})
    assert created.status_code == 201
    user = created.json()
    assert user == {"id": "3", "name": "Grace Hopper"}
    assert client.get("/api/users/3").json() == user
    invalid = client.post("/api/users", json={"name": ""})
    assert invalid.status_code == 422
    assert invalid.json()["error"] == "validation_error"
    assert client.post("/api/users", data=b"{", content_type="application/json").status_code == 400


def test_user_by_id_and_404(client: Client) -> None:
    assert client.get("/api/users/1").json() == {"id": "1", "name": "Ada Lovelace"}
    missing = client.get("/api/users/404")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "User not found."}


def test_catch_all_and_optional_catch_all(client: Client) -> None:
    assert client.get("/api/docs/a/b/c").json() == {"slug": ["a", "b", "c"], "path": "a/b/c"}
    assert client.get("/api/docs").status_code == 404
    assert client.get("/api/shop").json() == {"slug": []}
    assert client.get("/api/shop/shoes/red").json() == {"slug": ["shoes", "red"]}


def test_group_and_private_folder(client: Client) -> None:
    assert client.get("/about").json() == {"about": "handlerkit hello example"}
    assert client.get("/(marketing)/about").status_code == 404
    assert client.get("/_lib/store").status_code == 404
    assert client.get("/_lib").status_code == 404


def test_stream_concatenates_the_chunks(client: Client) -> None:
    response = client.get("/api/stream")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "Content-Length" not in response.headers
    assert response.text == "Hello streamed World!"


def test_methods_head_options_and_405(client: Client) -> None:
    head = client.head("/api/users/1")
    assert (head.status_code, head.data, head.headers["Content-Type"]) == (
        200,
        b"",
        "application/json",
    )
    options = client.options("/api/users")
    assert (options.status_code, options.headers["Allow"]) == (204, "GET, HEAD, OPTIONS, POST")
    refused = client.delete("/api/users/1")
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert client.get("/api/users/").headers["Location"] == "/api/users"
