"""examples/blog: the seeds' full REST API, through the App in-process and under gunicorn.

Every status of the seeds' REST example is exercised: 200, 201, 204, 400, 401,
403, 404, 409, 422 and 429 (plus 415 and the CORS answers). Each test gets its
own SQLite file; passwords are hashed with a low PBKDF2 work factor to keep the
suite fast (the stored format carries the factor, see ``_lib/passwords.py``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from handlerkit import App
from handlerkit.testing import Client
from handlerkit.tokens import issue_token
from tests.support.servers import ROOT, gunicorn

EXAMPLE = ROOT / "examples" / "blog"
ORIGIN = "https://app.example"
PASSWORDS = {"alice": "alice-wonderland", "bob": "bob-can-fix-it", "admin": "admin-change-me"}
NEW_POST = {
    "title": "Routing with files",
    "content": "A route.py per folder is the whole story.",
    "tags": ["python"],
}


class ClientAt(Client):
    """A test client whose requests come from the client address *ip*."""

    def __init__(self, app: App, ip: str) -> None:
        super().__init__(app)
        self.ip = ip

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("environ_base", {"REMOTE_ADDR": self.ip})
        return super().open(*args, **kwargs)


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data" / "blog.sqlite3"
    monkeypatch.setenv("BLOG_DB", str(path))
    monkeypatch.setenv("BLOG_SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("BLOG_PBKDF2_ITERATIONS", "1000")
    monkeypatch.setenv("BLOG_CORS_ORIGIN", ORIGIN)
    monkeypatch.delenv("BLOG_RATE_LIMIT_STORAGE", raising=False)
    return path


@pytest.fixture
def app(db_path: Path) -> App:
    return App(EXAMPLE)


@pytest.fixture
def client(app: App) -> Client:
    return Client(app)


@pytest.fixture
def login(app: App) -> Callable[[str], dict[str, str]]:
    """Return ``login(username) -> {"Authorization": "Bearer ..."}``, each from its own address."""
    counter = iter(range(2, 250))

    def log_in(username: str) -> dict[str, str]:
        fresh = ClientAt(app, f"10.9.0.{next(counter)}")
        response = fresh.post(
            "/api/auth/login", json={"username": username, "password": PASSWORDS[username]}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    return log_in


def create(client: Client, headers: dict[str, str], **changes: object) -> dict[str, object]:
    response = client.post("/api/posts", json={**NEW_POST, **changes}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


# -- storage -------------------------------------------------------------------


def test_the_schema_and_seed_data_are_created_on_first_start_at_the_configured_path(
    client: Client, db_path: Path
) -> None:
    assert not db_path.exists()
    assert client.get("/api/posts").status_code == 200
    assert db_path.is_file()
    with sqlite3.connect(db_path) as connection:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        hashes = [
            row[0] for row in connection.execute("SELECT password_hash FROM users ORDER BY id")
        ]
    assert {"users", "posts", "post_tags"} <= tables
    assert len(hashes) == 3 and all(h.startswith("pbkdf2_sha256$1000$") for h in hashes)
    assert not any(password in "".join(hashes) for password in PASSWORDS.values())


def test_data_outlives_the_app_and_seeding_happens_once(
    db_path: Path, login: Callable[[str], dict[str, str]], client: Client
) -> None:
    post = create(client, login("alice"), published=True)
    again = Client(App(EXAMPLE))
    listed = again.get("/api/posts").json()
    assert listed["meta"]["total"] == 3
    assert listed["data"][0]["slug"] == post["slug"]
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 3


# -- GET /api/posts -------------------------------------------------------------


def test_listing_returns_published_posts_newest_first_with_pagination_meta(
    client: Client, login: Callable[[str], dict[str, str]]
) -> None:
    response = client.get("/api/posts")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"] == {"page": 1, "limit": 10, "total": 2, "totalPages": 1}
    assert all(post["published"] for post in body["data"])
    headers = login("bob")
    for number in range(3):
        create(client, headers, title=f"Numbered post {number}", published=True)
    page = client.get("/api/posts?page=2&limit=2").json()
    assert page["meta"] == {"page": 2, "limit": 2, "total": 5, "totalPages": 3}
    assert [post["slug"] for post in page["data"]] == [
        "numbered-post-0",
        "wrappers-all-the-way-down",
    ]
    assert client.get("/api/posts?page=9").json()["data"] == []


def test_listing_filters_by_tag(client: Client) -> None:
    body = client.get("/api/posts?tag=intro").json()
    assert [post["slug"] for post in body["data"]] == ["hello-from-handlerkit"]
    assert body["meta"]["total"] == 1


@pytest.mark.parametrize(
    "query", ["page=0", "page=abc", "limit=0", "limit=51", "published=maybe", "sort=evil"]
)
def test_bad_query_parameters_get_422(client: Client, query: str) -> None:
    response = client.get(f"/api/posts?{query}")
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert "query" in response.json()["details"]


def test_drafts_need_a_login_and_are_listed_for_their_author_or_an_admin(
    client: Client, login: Callable[[str], dict[str, str]]
) -> None:
    anonymous = client.get("/api/posts?published=false")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    mine = client.get("/api/posts?published=false", headers=login("alice")).json()
    assert [post["slug"] for post in mine["data"]] == ["draft-sqlite-notes"]
    assert client.get("/api/posts?published=false", headers=login("bob")).json()["data"] == []
    assert (
        client.get("/api/posts?published=false", headers=login("admin")).json()["meta"]["total"]
        == 1
    )


# -- POST /api/posts --------------------------------------------------------------


def test_creating_a_post_answers_201_with_its_location(
    client: Client, login: Callable[[str], dict[str, str]]
) -> None:
    response = client.post(
        "/api/posts", json={**NEW_POST, "title": "Café au lait: a story!"}, headers=login("alice")
    )
    assert response.status_code == 201
    post = response.json()
    assert post["slug"] == "cafe-au-lait-a-story"
    assert response.headers["Location"] == "/api/posts/cafe-au-lait-a-story"
    assert post["author"]["username"] == "alice"
    assert post["published"] is False and post["publishedAt"] is None
    assert post["tags"] == ["python"]


def test_creating_without_a_token_gets_401(client: Client) -> None:
    response = client.post("/api/posts", json=NEW_POST)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        issue_token(
            {"sub": 1, "username": "alice", "role": "admin"},
            secret_key="another-key",
            salt="blog.login",
        ),
        issue_token(
            {"sub": 1, "username": "alice", "role": "admin"},
            secret_key="test-secret-key",
            salt="other.purpose",
        ),
    ],
)
def test_creating_with_a_forged_or_foreign_token_gets_401(client: Client, token: str) -> None:
    response = client.post(
        "/api/posts", json=NEW_POST, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_a_tampered_token_gets_401(client: Client, login: Callable[[str], dict[str, str]]) -> None:
    header = login("alice")["Authorization"]
    tampered = header[:-3] + ("AAA" if not header.endswith("AAA") else "BBB")
    response = client.post("/api/posts", json=NEW_POST, headers={"Authorization": tampered})
    assert response.status_code == 401


def test_malformed_json_gets_400(client: Client, login: Callable[[str], dict[str, str]]) -> None:
    response = client.post(
        "/api/posts", data="{bad", content_type="application/json", headers=login("alice")
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"


def test_a_body_that_is_not_json_gets_415(
    client: Client, login: Callable[[str], dict[str, str]]
) -> None:
    response = client.post(
        "/api/posts", data='{"title": "x"}', content_type="text/plain", headers=login("alice")
    )
    assert response.status_code == 415


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "long enough content"}, "title"),
        ({"title": "ok", "content": "short"}, "content"),
        ({"title": "x" * 201, "content": "long enough content"}, "title"),
        ({"title": "ok", "content": "long enough content", "author_id": 3}, "author_id"),
        ({"title": "ok", "content": "long enough content", "tags": "python"}, "tags"),
        ({"title": "ok", "content": "long enough content", "published": "yes"}, "published"),
        ({"title": "!!!", "content": "long enough content"}, "title"),
    ],
)
def test_invalid_posts_get_422_with_field_details(
    client: Client, login: Callable[[str], dict[str, str]], body: dict[str, object], field: str
) -> None:
    response = client.post("/api/posts", json=body, headers=login("alice"))
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["details"]["body"]


def test_a_top_level_array_gets_422(client: Client, login: Callable[[str], dict[str, str]]) -> None:
    response = client.post("/api/posts", json=[NEW_POST], headers=login("alice"))
    assert response.status_code == 422


def test_a_second_post_with_the_same_slug_gets_409(
    client: Client, login: Callable[[str], dict[str, str]]
) -> None:
    create(client, login("alice"))
    response = client.post(
        "/api/posts", json={**NEW_POST, "title": "Routing, with files!"}, headers=login("bob")
    )
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert response.json()["details"] == {"slug": "routing-with-files"}


# -- /api/posts/<slug> ------------------------------------------------------------


def test_reading_a_post_answers_200_and_an_unknown_slug_404(client: Client) -> None:
    response = client.get("/api/posts/hello-from-handlerkit")
    assert response.status_code == 200
    assert response.json()["author"] == {"id": 1, "username": "alice", "name": "Alice Liddell"}
    missing = client.get("/api/posts/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "No post has this slug."}


def test_a_draft_is_hidden_from_everyone_but_its_author_and_admins(
    client: Client, login: Callable[[str], dict[str, str]]
) -> None:
    url = "/api/posts/draft-sqlite-notes"
    assert client.get(url).status_code == 404
    assert client.get(url, headers=login("bob")).status_code == 404
    assert client.get(url, headers=login("alice")).status_code == 200
    assert client.get(url, headers=login("admin")).status_code == 200
    assert client.get(url, headers={"Authorization": "Bearer not-a-token"}).status_code == 404


def test_the_author_edits_a_post_and_the_slug_stays(
    client: Client, login: Callable[[str], dict[str, str]]
) -> None:
    alice = login("alice")
    post = create(client, alice)
    response = client.patch(
        f"/api/posts/{post['slug']}",
        json={"title": "A new title", "published": True},
        headers=alice,
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["title"] == "A new title" and updated["slug"] == post["slug"]
    assert updated["published"] is True and updated["publishedAt"] is not None
    assert updated["content"] == NEW_POST["content"]
    assert client.get(f"/api/posts/{post['slug']}").json()["title"] == "A new title"


def test_an_admin_may_edit_anyones_post(
    client: Client, login: Callable[[str], dict[str, str]]
) -> None:
    response = client.patch(
        "/api/posts/hello-from-handlerkit", json={"tags": ["moderated"]}, headers=login("admin")
    )
    assert response.status_code == 200
    assert response.json()["tags"] == ["moderated"]
    assert client.get("/api/posts?tag=moderated").json()["meta"]["total"] == 1
    assert client.get("/api/posts?tag=intro").json()["meta"]["total"] == 0


def test_someone_else_gets_403_on_edit_and_delete(
    client: Client, login: Callable[[str], dict[str, str]]
) -> None:
    bob = login("bob")
    edit = client.patch("/api/posts/hello-from-handlerkit", json={"title": "Mine now"}, headers=bob)
    assert edit.status_code == 403
    assert edit.json()["error"] == "forbidden"
    assert client.delete("/api/posts/hello-from-handlerkit", headers=bob).status_code == 403
    assert client.get("/api/posts/hello-from-handlerkit").json()["title"] == "Hello from handlerkit"


def test_editing_needs_a_login_an_existing_post_and_a_valid_body(
    client: Client, login: Callable[[str], dict[str, str]]
) -> None:
    alice = login("alice")
    assert client.patch("/api/posts/hello-from-handlerkit", json={"title": "x"}).status_code == 401
    assert client.patch("/api/posts/nope", json={"title": "x"}, headers=alice).status_code == 404
    invalid = client.patch(
        "/api/posts/hello-from-handlerkit", json={"content": "short", "slug": "x"}, headers=alice
    )
    assert invalid.status_code == 422
    assert set(invalid.json()["details"]["body"]) == {"content", "slug"}


def test_the_author_deletes_a_post_with_204(
    client: Client, login: Callable[[str], dict[str, str]]
) -> None:
    alice = login("alice")
    post = create(client, alice)
    response = client.delete(f"/api/posts/{post['slug']}", headers=alice)
    assert response.status_code == 204
    assert response.data == b"" and "Content-Type" not in response.headers
    assert client.get(f"/api/posts/{post['slug']}").status_code == 404
    assert client.delete(f"/api/posts/{post['slug']}", headers=alice).status_code == 404


def test_an_admin_deletes_anyones_post_and_anonymous_gets_401(
    client: Client, login: Callable[[str], dict[str, str]]
) -> None:
    assert client.delete("/api/posts/wrappers-all-the-way-down").status_code == 401
    assert (
        client.delete("/api/posts/wrappers-all-the-way-down", headers=login("admin")).status_code
        == 204
    )
    assert client.get("/api/posts").json()["meta"]["total"] == 1


# -- login ---------------------------------------------------------------------


def test_login_sets_an_http_only_same_site_lax_cookie_that_authenticates(client: Client) -> None:
    response = client.post(
        "/api/auth/login", json={"username": "alice", "password": PASSWORDS["alice"]}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["user"] == {"id": 1, "username": "alice", "name": "Alice Liddell", "role": "author"}
    assert "password" not in response.text and "pbkdf2" not in response.text
    [cookie] = response.headers.getlist("Set-Cookie")
    assert cookie.startswith(f"blog_token={body['token']};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http in this test; https requests get Secure
    created = client.post("/api/posts", json=NEW_POST)  # the client sends the cookie back
    assert created.status_code == 201
    assert created.json()["author"]["username"] == "alice"
    logout = client.post("/api/auth/logout")
    assert logout.status_code == 204
    assert "Max-Age=0" in logout.headers["Set-Cookie"]
    assert client.post("/api/posts", json={**NEW_POST, "title": "After logout"}).status_code == 401
    assert client.post("/api/auth/logout").status_code == 401


def test_the_cookie_is_secure_over_https(client: Client) -> None:
    response = client.post(
        "/api/auth/login",
        json={"username": "bob", "password": PASSWORDS["bob"]},
        base_url="https://localhost",
    )
    assert response.status_code == 200
    assert "Secure" in response.headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong-password"), ("nobody", "whatever"), ("ALICE", PASSWORDS["alice"])],
)
def test_wrong_credentials_get_one_401_whatever_was_wrong(
    client: Client, username: str, password: str
) -> None:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_credentials",
        "message": "The username or password is wrong.",
    }
    assert "Set-Cookie" not in response.headers


def test_a_login_body_missing_fields_gets_422(client: Client) -> None:
    response = client.post("/api/auth/login", json={"username": "alice"})
    assert response.status_code == 422
    assert "password" in response.json()["details"]["body"]


def test_guessing_one_accounts_password_is_limited_per_account_with_429(app: App) -> None:
    statuses = []
    for attempt in range(
        6
    ):  # a different address each time: only the per-account limit can stop it
        guesser = ClientAt(app, f"203.0.113.{attempt + 1}")
        statuses.append(
            guesser.post(
                "/api/auth/login", json={"username": "alice", "password": f"guess-{attempt}"}
            )
        )
    assert [r.status_code for r in statuses] == [401] * 5 + [429]
    limited = statuses[-1]
    assert limited.json()["error"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    right = ClientAt(app, "203.0.113.99")
    assert (
        right.post(
            "/api/auth/login", json={"username": "alice", "password": PASSWORDS["alice"]}
        ).status_code
        == 429
    )
    other = right.post("/api/auth/login", json={"username": "bob", "password": PASSWORDS["bob"]})
    assert other.status_code == 200


def test_many_logins_from_one_address_are_limited_per_address_with_429(app: App) -> None:
    one_address = ClientAt(app, "198.51.100.7")
    statuses = [
        one_address.post(
            "/api/auth/login", json={"username": f"user{n}", "password": "x"}
        ).status_code
        for n in range(11)
    ]
    assert statuses == [401] * 10 + [429]
    limited = one_address.post(
        "/api/auth/login", json={"username": "bob", "password": PASSWORDS["bob"]}
    )
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    elsewhere = ClientAt(app, "198.51.100.8")
    assert (
        elsewhere.post(
            "/api/auth/login", json={"username": "bob", "password": PASSWORDS["bob"]}
        ).status_code
        == 200
    )


# -- CORS and configuration -------------------------------------------------------


def test_the_configured_origin_may_call_the_api_with_credentials(client: Client) -> None:
    preflight = client.options(
        "/api/posts",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    listed = client.get("/api/posts", headers={"Origin": ORIGIN})
    assert listed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in listed.headers["Vary"]
    refused = client.post("/api/posts", json=NEW_POST, headers={"Origin": ORIGIN})
    assert refused.status_code == 401
    assert (
        refused.headers["Access-Control-Allow-Origin"] == ORIGIN
    )  # errors are readable by the page too


def test_other_origins_get_no_cors_headers(client: Client) -> None:
    preflight = client.options(
        "/api/posts",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    listed = client.get("/api/posts", headers={"Origin": "https://evil.example"})
    assert listed.status_code == 200
    assert "Access-Control-Allow-Origin" not in listed.headers


def test_tokens_signed_under_another_secret_key_are_refused(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, login: Callable[[str], dict[str, str]]
) -> None:
    headers = login("alice")
    monkeypatch.setenv("BLOG_SECRET_KEY", "a-brand-new-key")
    rotated = Client(App(EXAMPLE))
    assert rotated.post("/api/posts", json=NEW_POST, headers=headers).status_code == 401
    monkeypatch.setenv("BLOG_SECRET_KEY", "test-secret-key,a-brand-new-key")
    both = Client(App(EXAMPLE))
    assert both.post("/api/posts", json=NEW_POST, headers=headers).status_code == 201


def test_without_a_secret_key_the_blog_warns_about_the_development_key(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("BLOG_SECRET_KEY")
    with caplog.at_level(logging.WARNING, logger="blog"):
        App(EXAMPLE)
    assert any("BLOG_SECRET_KEY is not set" in record.getMessage() for record in caplog.records)


# -- under gunicorn ---------------------------------------------------------------


def test_the_blog_under_gunicorn_with_two_workers_sharing_one_database(tmp_path: Path) -> None:
    env = {
        "BLOG_DB": str(tmp_path / "served.sqlite3"),
        "BLOG_SECRET_KEY": "served-secret",
        "BLOG_PBKDF2_ITERATIONS": "1000",
    }
    spec = f"handlerkit:create_app({str(EXAMPLE)!r})"
    with gunicorn(spec, workers=2, env=env) as server, requests.Session() as session:
        listed = session.get(f"{server.url}/api/posts", timeout=10)
        assert listed.status_code == 200
        assert listed.json()["meta"]["total"] == 2
        logged_in = session.post(
            f"{server.url}/api/auth/login",
            json={"username": "bob", "password": PASSWORDS["bob"]},
            timeout=10,
        )
        assert logged_in.status_code == 200
        assert session.cookies.get("blog_token") == logged_in.json()["token"]
        created = session.post(
            f"{server.url}/api/posts", json={**NEW_POST, "published": True}, timeout=10
        )
        assert created.status_code == 201
        assert session.post(f"{server.url}/api/posts", json=NEW_POST, timeout=10).status_code == 409
        for _ in range(4):  # whichever worker answers sees the same file
            assert requests.get(f"{server.url}/api/posts", timeout=10).json()["meta"]["total"] == 3
        assert (
            session.delete(f"{server.url}/api/posts/routing-with-files", timeout=10).status_code
            == 204
        )
        assert (
            requests.get(f"{server.url}/api/posts/routing-with-files", timeout=10).status_code
            == 404
        )
        assert (
            requests.post(f"{server.url}/api/posts", json=NEW_POST, timeout=10).status_code == 401
        )


def test_login_limits_hold_across_gunicorn_workers_with_a_redis_store(
    tmp_path: Path, redis_url: str
) -> None:
    env = {
        "BLOG_DB": str(tmp_path / "served.sqlite3"),
        "BLOG_SECRET_KEY": "served-secret",
        "BLOG_PBKDF2_ITERATIONS": "1000",
        "BLOG_RATE_LIMIT_STORAGE": redis_url,
    }
    spec = f"handlerkit:create_app({str(EXAMPLE)!r})"
    with gunicorn(spec, workers=2, env=env) as server:
        statuses = []
        for attempt in range(8):  # a new connection each time, so both workers take turns
            response = requests.post(
                f"{server.url}/api/auth/login",
                json={"username": "alice", "password": f"guess-{attempt}"},
                headers={"Connection": "close"},
                timeout=10,
            )
            statuses.append(response.status_code)
        assert statuses == [401] * 5 + [429] * 3


def test_lone_surrogates_to_create_update_and_login_are_400_under_gunicorn(tmp_path: Path) -> None:
    """Regression: "\\ud800" in a title, a body or a password reached sqlite3 and PBKDF2 (500)."""
    env = {
        "BLOG_DB": str(tmp_path / "served.sqlite3"),
        "BLOG_SECRET_KEY": "served-secret",
        "BLOG_PBKDF2_ITERATIONS": "1000",
    }
    spec = f"handlerkit:create_app({str(EXAMPLE)!r})"
    with gunicorn(spec, workers=1, env=env) as server, requests.Session() as session:
        json_headers = {"Content-Type": "application/json"}
        login = session.post(
            f"{server.url}/api/auth/login",
            data=b'{"username":"bob","password":"\\ud800"}',
            headers=json_headers,
            timeout=10,
        )
        assert login.status_code == 400 and login.json()["error"] == "invalid_json"
        assert session.post(
            f"{server.url}/api/auth/login",
            json={"username": "bob", "password": PASSWORDS["bob"]},
            timeout=10,
        ).status_code == 200
        for method, path, body in (
            ("POST", "/api/posts", b'{"title":"T\\ud800","content":"long enough content"}'),
            ("PATCH", "/api/posts/wrappers-all-the-way-down", b'{"content":"\\udfff and more"}'),
        ):
            answer = session.request(
                method, f"{server.url}{path}", data=body, headers=json_headers, timeout=10
            )
            assert answer.status_code == 400, (path, answer.text)
            assert answer.json()["error"] == "invalid_json"
        assert "Traceback" not in server.output()
