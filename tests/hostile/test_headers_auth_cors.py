"""BAD_INPUTS.md rows E (headers, cookies, redirects, logs), F (auth, tokens), I (CORS) and J (methods), in-process."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest

from handlerkit import App, NextResponse
from handlerkit.response import CookieError
from handlerkit.testing import Client
from handlerkit.tokens import issue_token, verify_token
from tests.hostile.app_files import APP_SECRET, OLD_SECRET
from tests.hostile.conftest import call, check

ROOT = Path(__file__).resolve().parents[2]
GOOD = "https://good.example"


def token(payload: object, key: str = APP_SECRET, salt: str | None = None) -> str:
    return issue_token(payload, secret_key=key, **({"salt": salt} if salt else {}))


# ----------------------------------------------------------------------------- E


@pytest.mark.parametrize(
    ("name", "value", "options"),
    [
        ("a", "x\r\nSet-Cookie: admin=1", {}),
        ("a", "x\nb", {}),
        ("a", "x\rb", {}),
        ("a", "x\x00b", {}),
        ("a\r\nX-Evil: 1", "v", {}),
        ("a;b", "v", {}),
        ("a", "v", {"path": "/\r\nX-Evil: 1"}),
        ("a", "v", {"domain": "good.example\r\nX-Evil: 1"}),
        ("a", "v\x7f", {}),
    ],
)
def test_E1_crlf_in_cookies_is_refused_at_set_time(
    name: str, value: str, options: dict[str, str]
) -> None:
    response = NextResponse.json({"ok": True})
    with pytest.raises(CookieError):
        response.cookies.set(name, value, **options)
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "http:///evil.example",
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,x",
        "/\r\nX: 1",
        "/\x00x",
        "https://good.example@evil.example",
        "https://evil.example#@good.example",
        "\t//evil.example",
        " /x",
        "x",
    ],
)
def test_E2_open_redirect_targets_are_refused(client: Client, target: str) -> None:
    response = client.get("/redirect", query_string={"next": target})
    check(response, 400, "unsafe_redirect", Location=None)
    assert "evil" not in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["/dashboard", "/a/b?c=d", "https://good.example/x", "/"])
def test_E2_safe_redirect_targets_pass(client: Client, target: str) -> None:
    check(client.get("/redirect", query_string={"next": target}), 303, Location=target)


@pytest.mark.parametrize(
    "header",
    [
        "=__Host-x=bad",
        'a="unterminated',
        'a="x\\"y',
        "a=\x01\x02; b=2",
        "a=" + "x" * 8192,
        ";;;;",
        "=",
        "a",
        "a=1;" * 2000,
        "a=\x1b[31m; b=2",
        "\u00e9=1; b=2".encode().decode("latin-1"),
        "b=2; a=1, c=3",
    ],
    ids=[
        "host-prefix",
        "unterminated",
        "escaped-quote",
        "control",
        "8kb",
        "semicolons",
        "equals",
        "bare",
        "2000",
        "ansi",
        "latin1",
        "comma",
    ],
)
def test_E3_hostile_cookie_headers_parse_leniently(app: App, header: str) -> None:
    status, _, body = call(app, "GET", "/whoami", HTTP_COOKIE=header)
    document = json.loads(body)
    assert status == 200 and isinstance(document["cookies"], dict)
    if "b=2" in header:
        assert document["cookies"].get("b") == "2"  # the well-formed pairs survive


def test_E4_duplicate_cookies_first_wins(app: App) -> None:
    for header, first in (
        ("a=1; a=2", "1"),
        ("a=2; b=0; a=1", "2"),
        ("a=; a=x", ""),
        ("a=1;a=2;a=3", "1"),
    ):
        status, _, body = call(app, "GET", "/whoami", HTTP_COOKIE=header)
        assert status == 200 and json.loads(body)["a"] == first, header


def test_E5_forged_hosts_are_400_and_never_build_urls(client: Client, app: App) -> None:
    for host in (
        "evil.example",
        "good.example.evil.example",
        "localhost@evil.example",
        "evil.example:80",
        "localhost\r\nX: 1",
        "",
    ):
        status, headers, body = call(app, "GET", "/whoami", HTTP_HOST=host)
        if host == "":
            status, headers, body = call(
                app, "GET", "/whoami", HTTP_HOST=host, SERVER_NAME="evil.example"
            )
        assert status == 400 and json.loads(body)["error"] in ("invalid_host", "bad_request"), (
            host,
            status,
            body,
        )
        assert "evil" not in body.decode()
    # X-Forwarded-Host is ignored without trusted proxies; the URL is built from the trusted Host.
    for forwarded in (
        {"X-Forwarded-Host": "evil.example"},
        {"X-Forwarded-For": "6.6.6.6"},
        {"Forwarded": "host=evil.example;for=6.6.6.6"},
    ):
        environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in forwarded.items()}
        status, _, body = call(app, "GET", "/whoami", HTTP_HOST="good.example", **environ)
        document = json.loads(body)
        assert (
            status == 200 and document["host"] == "good.example" and document["ip"] == "127.0.0.1"
        )
    # The trailing-slash redirect never names another host.
    response = client.get(
        "/whoami/", headers={"Host": "good.example", "X-Forwarded-Host": "evil.example"}
    )
    assert response.status_code == 308 and "evil" not in response.headers["Location"]


@pytest.mark.parametrize(
    "raw", ["//evil.example/", "/\\evil.example/", "/%2F%2Fevil.example/", "///evil.example//"]
)
def test_E2_trailing_slash_redirects_are_never_protocol_relative(make_app, raw: str) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import unquote

    app = make_app({"[...p]/route.py": "def GET(): return {}\n"})
    status, headers, _ = call(app, "GET", unquote(raw), raw_uri=raw)
    assert status == 308
    location = headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location


@pytest.mark.parametrize(
    "target", ["javascript:alert(1)", "data:text/html,x", "/x\r\nSet-Cookie: a=1", "vbscript:x"]
)
def test_E2_redirect_refuses_control_characters_and_foreign_schemes(target: str) -> None:
    with pytest.raises(ValueError):
        NextResponse.redirect(target)


def test_E6_logs_escape_crlf_and_ansi(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    forged = '\r\n{"method":"GET","path":"/admin","status":200}\x1b[2J\u202e'
    with caplog.at_level(logging.DEBUG):
        response = client.get(
            "/logged",
            query_string={"q": forged, "token": "tok-secret-1", "access_token": "tok-2"},
            headers={
                "User-Agent": "ua" + forged.strip(),
                "Authorization": "Bearer auth-secret-3",
                "Cookie": "session=cookie-secret-4",
            },
            environ_overrides={
                "HTTP_X_REQUEST_ID": "id\r\nforged",
                "HTTP_USER_AGENT": "ua" + forged,
            },
        )
        check(response, 200)
        status, _, _ = call(client.application, "GET", "/logged%0d%0aforged\x1b[31m")  # type: ignore[arg-type]
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("handlerkit") and '"path"' in r.getMessage()
    ]
    assert len(lines) == 1
    for line in lines:
        assert "\r" not in line and "\n" not in line and "\x1b" not in line and "\u202e" not in line
        entry = json.loads(line)
        assert entry["path"] == "/logged" and entry["user_agent"].startswith("ua")
        assert "forged" not in entry["request_id"]
        for secret in ("tok-secret-1", "tok-2", "auth-secret-3", "cookie-secret-4"):
            assert secret not in line  # never logged
    assert response.headers["X-Request-ID"] != "id\r\nforged"


def test_E6_logged_path_with_control_characters(make_app, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    app = make_app(
        {
            "[...p]/route.py": "from handlerkit import with_logging\n\n@with_logging\ndef GET(): return {}\n"
        }
    )
    with caplog.at_level(logging.DEBUG):
        status, _, _ = call(app, "GET", '/a\r\n{"forged":1}\x1b[2J')
    assert status == 200
    lines = [r.getMessage() for r in caplog.records if '"path"' in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0] and "\x1b" not in lines[0]
    assert json.loads(lines[0])["path"] == '/a\r\n{"forged":1}\x1b[2J'


@pytest.mark.parametrize(
    "headers",
    [
        {"x-middleware-subrequest": "middleware:middleware:middleware:middleware:middleware"},
        {"x-middleware-subrequest": "src/middleware"},
        {"X-Internal": "1", "X-Skip-Middleware": "1", "X-Forwarded-For": "127.0.0.1"},
        {
            "X-Authenticated-User": "admin",
            "X-User": "admin",
            "X-Remote-User": "admin",
            "X-Auth": "ok",
        },
        {"X-Original-URL": "/whoami", "X-Rewrite-URL": "/whoami"},
        {
            "X-HTTP-Method-Override": "GET",
            "X-Middleware-Rewrite": "/whoami",
            "X-Middleware-Next": "1",
        },
    ],
)
def test_E7_no_header_bypasses_a_wrapper(client: Client, headers: dict[str, str]) -> None:
    check(client.get("/internal", headers=headers), 403, "forbidden")
    check(client.get("/protected", headers=headers), 401, "unauthorized", WWW_Authenticate="Bearer")
    check(client.get("/admin", headers=headers), 401)


# ----------------------------------------------------------------------------- F


def test_F1_no_authorization_is_401_with_www_authenticate(client: Client) -> None:
    for path in ("/protected", "/admin"):
        response = client.get(path)
        check(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "value",
    [
        "Bearer",
        "Bearer ",
        "Bearer  ",
        "Basic dXNlcjpwYXNz",
        "Bearer a b",
        "Bearer\ta",
        "bearer",
        "Token abc",
        "Bearer " + "a" * 10_000,
        "Bearer a\x00b",
        "Bearer ä",
        "Bearer a,b",
        "Digest x",
        "",
    ],
)
def test_F2_malformed_authorization_is_401(client: Client, value: str) -> None:
    response = client.get("/protected", headers={"Authorization": value})
    check(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_F3_tampered_truncated_or_empty_tokens_are_401_generic(client: Client) -> None:
    good = token({"sub": "ada"})
    assert check(client.get("/protected", headers={"Authorization": f"Bearer {good}"}), 200)[
        "user"
    ] == {"sub": "ada"}
    flipped = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    payload_changed = token({"sub": "eve"}).split(".")[0] + "." + ".".join(good.split(".")[1:])
    messages = set()
    for bad in (
        flipped,
        good[:-1],
        good[: len(good) // 2],
        good.split(".")[0],
        "a.b.c",
        payload_changed,
        good + "x",
        token({"sub": "ada"}, key="someone-else"),
    ):
        document = check(
            client.get("/protected", headers={"Authorization": f"Bearer {bad}"}),
            401,
            "invalid_token",
        )
        messages.add(document["message"])
    assert len(messages) == 1  # one generic message whatever the reason


def test_F3_signed_cookies_tampered_read_as_none() -> None:
    from handlerkit.request import RequestCookies

    response = NextResponse.json({})
    response.cookies.set_signed("session", {"sub": "ada"}, secret_key=APP_SECRET)
    value = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    assert RequestCookies(f"session={value}", secret_key=APP_SECRET).get_signed("session") == {
        "sub": "ada"
    }
    for bad in (value[:-1], value + "x", "", "x.y.z", value.replace(".", "", 1)):
        assert RequestCookies(f"session={bad}", secret_key=APP_SECRET).get_signed("session") is None


def test_F4_expired_or_foreign_purpose_tokens_are_401(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    foreign = token({"sub": "ada"}, salt="password-reset")
    check(
        client.get("/protected", headers={"Authorization": f"Bearer {foreign}"}),
        401,
        "invalid_token",
    )
    old = token({"sub": "ada"})
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 10_000)
    from handlerkit.tokens import TokenError

    with pytest.raises(TokenError) as info:
        verify_token(old, secret_key=APP_SECRET, max_age=60)
    assert info.value.status == 401


def test_F5_older_rotation_keys_verify_newest_signs(client: Client) -> None:
    legacy = token({"sub": "ada"}, key=OLD_SECRET)
    assert (
        check(client.get("/protected", headers={"Authorization": f"Bearer {legacy}"}), 200)["user"][
            "sub"
        ]
        == "ada"
    )
    fresh = issue_token({"sub": "bob"}, secret_key=[OLD_SECRET, APP_SECRET])
    assert verify_token(fresh, secret_key=APP_SECRET) == {"sub": "bob"}
    from handlerkit.tokens import TokenError

    with pytest.raises(TokenError):
        verify_token(fresh, secret_key=OLD_SECRET)
    # A key dropped from the rotation list no longer verifies.
    with pytest.raises(TokenError):
        verify_token(legacy, secret_key=[APP_SECRET])


_SECRETISH = r"(?:signature|digest|token|secret|mac|hmac|expected|given|password|key)s?\b"


def test_F6_secret_comparisons_use_compare_digest() -> None:
    offenders = []
    pattern = re.compile(rf"\b\w*{_SECRETISH}\s*(?:==|!=)|(?:==|!=)\s*\w*{_SECRETISH}", re.I)
    allowed = re.compile(r"\bis None|== None|len\(|== ['\"]|!= ['\"]|\bkey ==|key_func|== \d")
    for path in sorted((ROOT / "handlerkit").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code) and not allowed.search(code):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
    sources = "".join(p.read_text() for p in (ROOT / "handlerkit").rglob("*.py"))
    assert sources.count("compare_digest") >= 2
    # itsdangerous (tokens, signed cookies) compares with hmac.compare_digest too.
    import itsdangerous.signer

    assert "compare_digest" in Path(itsdangerous.signer.__file__).read_text()


def test_F7_brute_force_is_limited_by_account_and_by_ip(client: Client) -> None:
    for _ in range(3):
        check(client.post("/login", query_string={"user": "ada"}), 200)
    response = client.post("/login", query_string={"user": "ada"})
    check(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1
    # Other accounts from the same IP go on until the per-IP limit (10) is spent.
    statuses = [client.post("/login", query_string={"user": f"u{i}"}).status_code for i in range(8)]
    assert statuses == [200] * 6 + [429] * 2
    response = client.post(
        "/login", query_string={"user": "fresh"}, environ_overrides={"REMOTE_ADDR": "10.0.0.2"}
    )
    check(response, 200)


# ----------------------------------------------------------------------------- I


def test_I1_unlisted_origins_get_no_cors_headers(client: Client) -> None:
    auth = {"Authorization": f"Bearer {token({'sub': 'ada'})}"}
    for origin in (
        "https://evil.example",
        "https://good.example.evil.example",
        "https://evilgood.example",
        "http://good.example",
        "https://good.example:444",
        "null",
        "https://GOOD.example",
        "*",
        "",
    ):
        response = client.get("/protected", headers={"Origin": origin, **auth})
        check(response, 200)
        assert not [
            h for h, _ in response.headers if h.lower().startswith("access-control-allow")
        ], origin
    response = client.get("/protected", headers={"Origin": GOOD, **auth})
    assert response.headers["Access-Control-Allow-Origin"] == GOOD
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in response.headers["Vary"]


def test_I2_preflight_with_disallowed_method_or_headers(client: Client) -> None:
    asks = {"Origin": GOOD, "Access-Control-Request-Method": "DELETE"}
    response = client.options("/protected", headers=asks)
    assert response.status_code < 500
    assert "DELETE" not in response.headers.get("Access-Control-Allow-Methods", "")
    response = client.options(
        "/protected",
        headers={
            "Origin": GOOD,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, X-Evil, Cookie, Content-Type",
        },
    )
    allowed = {
        h.strip().lower()
        for h in response.headers.get("Access-Control-Allow-Headers", "").split(",")
    }
    assert "x-evil" not in allowed and "cookie" not in allowed
    assert {"authorization", "content-type"} <= allowed
    # A disallowed origin's preflight gets nothing at all.
    response = client.options(
        "/protected",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert not [h for h, _ in response.headers if h.lower().startswith("access-control-")]


def test_I3_preflight_to_an_auth_route_is_answered_before_auth(client: Client) -> None:
    response = client.options(
        "/protected",
        headers={
            "Origin": GOOD,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    check(response, 204)
    assert response.headers["Access-Control-Allow-Origin"] == GOOD
    assert 0 < int(response.headers["Access-Control-Max-Age"]) <= 7200  # 86400 asked, capped
    assert "WWW-Authenticate" not in response.headers


# ----------------------------------------------------------------------------- J


def test_J1_unexported_method_is_405_with_allow(client: Client) -> None:
    for method in ("PUT", "DELETE", "PATCH", "TRACE", "CONNECT"):
        response = client.open("/methods", method=method)
        check(response, 405, "method_not_allowed")
        allow = {m.strip() for m in response.headers["Allow"].split(",")}
        assert {"GET", "HEAD", "POST", "OPTIONS"} <= allow and method not in allow
    status, headers, _ = call(client.application, "BREW", "/methods")  # type: ignore[arg-type]
    assert status == 501


def test_J2_method_override_is_ignored(client: Client) -> None:
    for kwargs in (
        {"headers": {"X-HTTP-Method-Override": "DELETE"}},
        {"headers": {"X-HTTP-Method": "DELETE", "X-Method-Override": "PUT"}},
        {"query_string": {"_method": "DELETE"}},
        {"data": {"_method": "DELETE"}},
    ):
        assert check(client.post("/methods", **kwargs), 200) == {"method": "POST"}
    check(client.get("/methods", headers={"X-HTTP-Method-Override": "DELETE"}), 200)


def test_J3_head_is_get_without_a_body(client: Client, app: App) -> None:
    get = client.get("/users/me")
    head = client.head("/users/me")
    assert head.status_code == get.status_code == 200 and head.get_data() == b""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    status, headers, body = call(
        app, "HEAD", "/users/me", body=b'{"x":1}' * 100, CONTENT_TYPE="application/json"
    )
    assert status == 200 and body == b""
    status, _, body = call(app, "HEAD", "/nowhere")
    assert status == 404 and body == b""


def test_J4_options_outside_cors_is_204_with_allow(client: Client) -> None:
    response = client.options("/methods")
    check(response, 204)
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {
        "GET",
        "HEAD",
        "POST",
        "OPTIONS",
    }
    assert response.get_data() == b""
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    ("query", "value"),
    [
        ("q=\xc3\xa9t\xc3\xa9", "été"),
        ("q=\xff\xfe", "\ufffd\ufffd"),
        ("q=%C3%A9", "é"),
        ("q=%ff", "\ufffd"),
    ],
)
def test_E3_non_utf8_query_strings_decode_leniently(make_app, query: str, value: str) -> None:  # type: ignore[no-untyped-def]
    app = make_app(
        {"q/route.py": "def GET(request): return {'q': request.next_url.search_params.get('q')}\n"}
    )
    status, _, body = call(app, "GET", "/q", QUERY_STRING=query)
    assert status == 200 and json.loads(body) == {"q": value}
