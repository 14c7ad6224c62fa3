"""The seed's compose example, compose(with_logging, with_auth, with_cors) on an admin users route.

The layers run as listed. Preflights are answered from the with_cors policy before
any layer runs (so the seed's order still passes them), but the seed's with_auth
answers a missing token before with_cors runs: that 401 carries no CORS headers, the
page cannot read it, and the App warns at startup. The strict route lists with_cors
before with_auth, the order the warning asks for, and its refusals are readable.

Checked three ways: the handler called directly, through an App, and served by
gunicorn to real clients (requests, and headless Chromium making a real
cross-origin fetch, preflight included).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlerkit import NextRequest, RouteContext
from handlerkit.testing import Client, make_app, respond, write_app
from handlerkit.tokens import issue_token
from tests.support.servers import Server, gunicorn

SECRET = "seed-compose-key"

SEED_ROUTE = """
    import re

    from handlerkit import NextResponse, compose, with_auth, with_cors, with_logging

    USERS = [
        {"id": 1, "name": "Ada", "email": "ada@example.com", "role": "admin"},
        {"id": 2, "name": "Grace", "email": "grace@example.com", "role": "user"},
    ]

    def handler(request):
        return NextResponse.json(USERS)

    # The seed, verbatim in spirit: logging outermost, then auth, then CORS.
    GET = compose(with_logging, with_auth, with_cors)(handler)
"""

STRICT_ROUTE = """
    import re

    from handlerkit import NextResponse, compose, with_auth, with_cors, with_logging

    cors = with_cors(origins=[re.compile(r"http://localhost:[0-9]+")], credentials=True, max_age=86400)

    @compose(with_logging, cors, with_auth(roles=["admin"]))
    def GET(request, context):
        return NextResponse.json({"admin": context.state.user["sub"]})
"""

PAGE_ROUTE = """
    from handlerkit import NextResponse

    def GET():
        return NextResponse("<!doctype html><title>page</title><p>page</p>", headers={"Content-Type": "text/html"})
"""

FILES = {
    "api/admin/users/route.py": SEED_ROUTE,
    "api/strict/users/route.py": STRICT_ROUTE,
    "page/route.py": PAGE_ROUTE,
}

ORIGIN = "https://admin.example.com"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "authorization",
}


def token(roles: list[str] | None = None) -> str:
    return issue_token({"sub": "ada", "roles": roles or ["admin"]}, secret_key=SECRET)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return write_app(tmp_path / "seed", FILES)


@pytest.fixture
def client(tmp_path: Path) -> Client:
    return Client(make_app(tmp_path / "seed-app", FILES, secret_key=SECRET))


# ---------------------------------------------------------------- directly


def load_seed(app_dir: Path):  # type: ignore[no-untyped-def]
    app = make_app(app_dir, {}, secret_key=SECRET)
    [route] = [r for r in app.routes if r.pattern == "/api/admin/users"]
    return route.exports["GET"]


def test_direct_call_with_a_token(app_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    get = load_seed(app_dir)
    request = NextRequest(
        "/api/admin/users",
        headers={"Authorization": f"Bearer {token()}", "Origin": ORIGIN},
        secret_key=SECRET,
    )
    context = RouteContext()
    with caplog.at_level(logging.INFO, logger="handlerkit.access"):
        response = get(request, context)
    assert response.status_code == 200
    assert [u["name"] for u in response.json()] == ["Ada", "Grace"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert context.state.user == {"sub": "ada", "roles": ["admin"]}
    assert response.headers["X-Request-ID"] == context.state.request_id
    [line] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "handlerkit.access"]
    assert line["status"] == 200


def test_direct_call_without_a_token_is_401_and_logged(app_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    get = load_seed(app_dir)
    with caplog.at_level(logging.INFO, logger="handlerkit.access"):
        response = get(NextRequest("/api/admin/users", headers={"Origin": ORIGIN}, secret_key=SECRET), RouteContext())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    [line] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "handlerkit.access"]
    assert line["status"] == 401


def test_direct_preflight_is_answered_by_cors_as_the_app_answers_it(app_dir: Path) -> None:
    get = load_seed(app_dir)
    preflight = NextRequest("/api/admin/users", method="OPTIONS", headers=PREFLIGHT)
    for response in (get(preflight), respond(get, preflight)):
        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Access-Control-Allow-Headers"] == "Authorization"
        assert response.headers["Access-Control-Allow-Methods"] == "GET"
    # With a context given, the chain runs as listed (the App never calls a chain
    # for a preflight): the seed's with_auth, listed first, refuses it.
    assert get(preflight, RouteContext()).status_code == 401


# ------------------------------------------------------------ through an App


def test_app_preflight_is_204_with_cors_headers_and_no_token(client: Client) -> None:
    response = client.options("/api/admin/users", headers=PREFLIGHT)
    assert response.status_code == 204
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "GET"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization"
    assert int(response.headers["Access-Control-Max-Age"]) <= 7200
    assert response.get_data() == b""


def test_app_get_with_and_without_a_token(client: Client) -> None:
    ok = client.get("/api/admin/users", headers={"Origin": ORIGIN, "Authorization": f"Bearer {token()}"})
    assert ok.status_code == 200 and len(ok.json()) == 2
    assert ok.headers["Access-Control-Allow-Origin"] == "*" and "X-Request-ID" in ok.headers
    denied = client.get("/api/admin/users", headers={"Origin": ORIGIN})
    assert denied.status_code == 401
    # with_auth is listed before with_cors: its 401 is sent as it answered it.
    assert "Access-Control-Allow-Origin" not in denied.headers
    assert denied.headers["WWW-Authenticate"] == "Bearer"
    assert "X-Request-ID" in denied.headers


def test_the_seed_order_is_warned_about_at_startup(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="handlerkit"):
        make_app(tmp_path / "warned", FILES, secret_key=SECRET)
    warned = [r.getMessage() for r in caplog.records if "before with_cors" in r.getMessage()]
    assert len(warned) == 1
    assert warned[0].startswith("GET /api/admin/users in ")
    assert "with_auth is listed before with_cors" in warned[0]


def test_app_strict_route_roles_and_origins(client: Client) -> None:
    good = {"Origin": "http://localhost:3000", "Authorization": f"Bearer {token()}"}
    assert client.get("/api/strict/users", headers=good).json() == {"admin": "ada"}
    user = {"Origin": "http://localhost:3000", "Authorization": f"Bearer {token(['user'])}"}
    forbidden = client.get("/api/strict/users", headers=user)
    assert forbidden.status_code == 403
    assert forbidden.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    anonymous = client.get("/api/strict/users", headers={"Origin": "http://localhost:3000"})
    assert anonymous.status_code == 401
    assert anonymous.headers["Access-Control-Allow-Credentials"] == "true"
    evil = client.get("/api/strict/users", headers={**good, "Origin": "http://localhost.evil.com:3000"})
    assert "Access-Control-Allow-Origin" not in evil.headers


# -------------------------------------------------------------- real servers


@pytest.fixture
def server(app_dir: Path) -> Iterator[Server]:
    spec = f"handlerkit:create_app({str(app_dir)!r}, secret_key={SECRET!r})"
    with gunicorn(spec, workers=2, args=["--access-logfile", "-"]) as running:
        yield running


def test_served_by_gunicorn(server: Server) -> None:
    import requests

    url = f"{server.url}/api/admin/users"
    preflight = requests.options(url, headers=PREFLIGHT, timeout=10)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Headers"] == "Authorization"
    ok = requests.get(url, headers={"Authorization": f"Bearer {token()}", "Origin": ORIGIN}, timeout=10)
    assert ok.status_code == 200 and [u["id"] for u in ok.json()] == [1, 2]
    denied = requests.get(url, headers={"Authorization": "Bearer forged.token"}, timeout=10)
    assert denied.status_code == 401 and denied.json()["error"] == "invalid_token"


CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

FETCH = """
const [url, auth, done] = arguments;
const headers = auth ? {"Authorization": "Bearer " + auth} : {};
fetch(url, {headers, mode: "cors"})
  .then(async (r) => done({status: r.status, body: await r.text(), expose: r.headers.get("X-Request-ID")}))
  .catch((e) => done({error: String(e)}));
"""


@pytest.mark.browser
def test_a_real_browser_cross_origin_fetch_with_preflight(server: Server, tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for binary in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} is missing; .ci/run installs chromium and chromium-driver with apt-get")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log")), options=options)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(20)
    try:
        port = server.port
        # The page's origin is http://localhost:PORT; the API is at http://127.0.0.1:PORT.
        driver.get(f"http://localhost:{port}/page")
        seed = f"http://127.0.0.1:{port}/api/admin/users"
        strict = f"http://127.0.0.1:{port}/api/strict/users"
        ok = driver.execute_async_script(FETCH, seed, token())
        assert ok["status"] == 200 and [u["name"] for u in json.loads(ok["body"])] == ["Ada", "Grace"]
        # The seed lists with_auth before with_cors: the page cannot read its 401.
        hidden = driver.execute_async_script(FETCH, seed, "")
        assert "error" in hidden and "TypeError" in hidden["error"]
        allowed = driver.execute_async_script(FETCH, strict, token())
        assert allowed["status"] == 200 and json.loads(allowed["body"]) == {"admin": "ada"}
        # with_cors listed first: the page reads the refusal.
        denied = driver.execute_async_script(FETCH, strict, "")
        assert denied["status"] == 401 and json.loads(denied["body"])["error"] == "unauthorized"
        # From http://127.0.0.1:PORT the strict route's allowlist refuses the origin:
        # the browser blocks the response.
        driver.get(f"http://127.0.0.1:{port}/page")
        blocked = driver.execute_async_script(FETCH, f"http://localhost:{port}/api/strict/users", token())
        assert "error" in blocked and "TypeError" in blocked["error"]
    finally:
        driver.quit()
    # The browser really sent preflights, and they were answered 204 before auth.
    log = server.output()
    assert '"OPTIONS /api/admin/users HTTP/1.1" 204' in log
    assert '"OPTIONS /api/strict/users HTTP/1.1" 204' in log
