"""Arbitrary JSON, lone surrogate escapes included, through every built-in wrapper and the blog: never a 5xx.

The JSON values are drawn with every Unicode category, surrogates (``Cs``) among them,
and sent as the ASCII text ``json.dumps`` writes, so a lone surrogate arrives as the
valid JSON escape ``"\\ud800"``. Each route echoes what it parsed; each wrapper works
on the same body. The answer may be any status below 500 and is always JSON.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlerkit import App
from handlerkit.testing import Client, write_app
from handlerkit.tokens import issue_token
from handlerkit.webhooks import sign_github, sign_stripe
from tests.support.servers import ROOT

SECRET = "no-5xx-secret"
HOOK = "whsec_no_5xx"

TEXT = st.text(st.characters(exclude_categories=[]), max_size=12)  # surrogates included
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=10,
)

ECHO = "    return {'got': request.json()}\n"
WRAPPED = {
    "auth": "@with_auth\n",
    "cache": "@with_cache(ttl=60)\n",
    "conditional": "@with_conditional\n",
    "cors": "@with_cors(origins=['https://a.example'])\n",
    "errors": "@with_error_handling\n",
    "idempotency": "@with_idempotency(required=False)\n",
    "logging": "@with_logging\n",
    "rate_limit": "@with_rate_limit(limit=100000, window=60)\n",
    "validation": "@with_validation(body=Body)\n",
    "stripe": f"@with_webhook_signature(scheme='stripe', secret={HOOK!r}, dedupe=False)\n",
    "github": f"@with_webhook_signature(scheme='github', secret={HOOK!r}, dedupe=False)\n",
    "all": (
        "@compose(with_logging, with_cors(origins=['https://a.example']), with_error_handling,\n"
        "         with_rate_limit(limit=100000, window=60), with_idempotency(required=False),\n"
        "         with_validation(body=Body))\n"
    ),
}
HEADER = (
    "from marshmallow import INCLUDE, Schema, fields\n"
    "from handlerkit import *\n\n"
    "class Body(Schema):\n"
    "    class Meta:\n"
    "        unknown = INCLUDE\n"
    "    name = fields.String()\n\n"
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Client:
    files = {
        f"{name}/route.py": HEADER + wrapper + "def POST(request, context):\n" + ECHO
        for name, wrapper in WRAPPED.items()
    }
    app_dir = write_app(tmp_path_factory.mktemp("no5xx") / "app", files)
    return Client(App(app_dir, secret_key=SECRET))


def _headers(name: str, body: bytes, count: int) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Origin": "https://a.example"}
    if name == "auth":
        headers["Authorization"] = f"Bearer {issue_token({'sub': '1'}, secret_key=SECRET)}"
    if name in ("idempotency", "all"):
        headers["Idempotency-Key"] = f"key-{count}"
    if name == "stripe":
        headers["Stripe-Signature"] = sign_stripe(body, HOOK, timestamp=int(time.time()))
    if name == "github":
        headers["X-Hub-Signature-256"] = sign_github(body, HOOK)
    return headers


_sent = iter(range(10**9))


def _assert_no_5xx(response: Any) -> None:
    assert response.status_code < 500, response.get_data()[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    json.loads(response.get_data())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=JSON, name=st.sampled_from(sorted(WRAPPED)))
def test_any_json_through_any_builtin_wrapper_is_never_a_5xx(client: Client, value: object, name: str) -> None:
    body = json.dumps(value).encode("ascii")  # lone surrogates become "\ud800" escapes
    response = client.post(f"/{name}", data=body, headers=_headers(name, body, next(_sent)))
    _assert_no_5xx(response)
    if "\\ud" not in body.decode().lower() and response.status_code == 200:
        assert response.json() == {"got": value}


@pytest.fixture(scope="module")
def blog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Client, dict[str, str]]:
    mp = pytest.MonkeyPatch()
    base = tmp_path_factory.mktemp("blog-no5xx")
    for name, value in {
        "BLOG_DB": str(base / "blog.sqlite3"),
        "BLOG_SECRET_KEY": "no-5xx-blog-key",
        "BLOG_PBKDF2_ITERATIONS": "1000",
        "BLOG_RATE_LIMIT_STORAGE": "memory://",
    }.items():
        mp.setenv(name, value)
    app = App(ROOT / "examples" / "blog")
    client = Client(app)
    login = client.post(
        "/api/auth/login",
        json={"username": "bob", "password": "bob-can-fix-it"},
        environ_base={"REMOTE_ADDR": "10.1.1.1"},
    )
    assert login.status_code == 200, login.get_data()
    yield client, {"Authorization": f"Bearer {login.json()['token']}"}
    mp.undo()


def _post_fields() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"title": TEXT, "content": TEXT},
        optional={"tags": st.lists(TEXT, max_size=3), "published": st.booleans(), "extra": JSON},
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(["create", "update", "login"]),
    value=st.one_of(JSON, _post_fields(), st.fixed_dictionaries({"username": TEXT, "password": TEXT})),
)
def test_any_json_to_the_blogs_create_update_and_login_is_never_a_5xx(
    blog: tuple[Client, dict[str, str]], route: str, value: object
) -> None:
    client, auth = blog
    body = json.dumps(value).encode("ascii")
    headers = {"Content-Type": "application/json", **auth}
    address = {"REMOTE_ADDR": f"10.2.{next(_sent) % 250}.{next(_sent) % 250}"}
    if route == "create":
        response = client.post("/api/posts", data=body, headers=headers, environ_base=address)
    elif route == "update":
        response = client.patch(
            "/api/posts/wrappers-all-the-way-down", data=body, headers=headers, environ_base=address
        )
    else:
        response = client.post("/api/auth/login", data=body, headers=headers, environ_base=address)
    assert response.status_code < 500, response.get_data()[:300]
    if response.status_code >= 400:
        _assert_no_5xx(response)


def test_the_blog_refuses_a_lone_surrogate_in_create_update_and_login(
    blog: tuple[Client, dict[str, str]], tmp_path: Path
) -> None:
    client, auth = blog
    headers = {"Content-Type": "application/json", **auth}
    cases = [
        ("post", "/api/posts", b'{"title":"T\\ud800","content":"long enough content"}'),
        ("patch", "/api/posts/wrappers-all-the-way-down", b'{"content":"\\udfff and more text"}'),
        ("post", "/api/auth/login", b'{"username":"bob","password":"\\ud800"}'),
    ]
    for method, path, body in cases:
        response = client.open(path, method=method.upper(), data=body, headers=headers)
        assert response.status_code == 400, (path, response.get_data())
        assert response.json()["error"] == "invalid_json"
