"""with_auth: bearer tokens from a header or a cookie, itsdangerous or custom verification, roles, preflights."""

from __future__ import annotations

import hmac
import re
import time
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner

from handlerkit import ApiError, NextRequest, NextResponse, RouteContext, with_auth
from handlerkit.tokens import issue_token
from tests.support.leaks import assert_no_leak

KEY = "auth-test-key"


def whoami(request, context):  # type: ignore[no-untyped-def]
    return NextResponse.json({"user": context.state.user})


def call(handler, headers=None, cookies=None, method="GET", secret_key=None):  # type: ignore[no-untyped-def]
    request = NextRequest("/me", method=method, headers=headers or {}, cookies=cookies, secret_key=secret_key)
    context = RouteContext()
    try:
        return handler(request, context), context
    except ApiError as exc:
        return NextResponse.from_error(exc), context


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_401(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert set(body) == {"error", "message"}
    assert_no_leak(response.get_data(), secrets=[KEY])


def test_a_valid_token_puts_the_payload_on_context_state_user() -> None:
    token = issue_token({"sub": "42"}, secret_key=KEY)
    response, context = call(with_auth(secret_key=KEY)(whoami), bearer(token))
    assert response.status_code == 200
    assert response.json() == {"user": {"sub": "42"}}
    assert context.state.user == {"sub": "42"}


def test_f1_no_authorization_is_401_with_www_authenticate_bearer() -> None:
    response, context = call(with_auth(secret_key=KEY)(whoami))
    assert_401(response)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"
    assert not hasattr(context.state, "user")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer a b", "Bearer a\tb", "bearer ,,,", ""],
)
def test_f2_malformed_authorization_is_401(header: str) -> None:
    response, _ = call(with_auth(secret_key=KEY)(whoami), {"Authorization": header})
    assert_401(response)


def test_the_scheme_is_case_insensitive() -> None:
    token = issue_token({"sub": "1"}, secret_key=KEY)
    response, _ = call(with_auth(secret_key=KEY)(whoami), {"Authorization": f"bearer {token}"})
    assert response.status_code == 200


def _f3_tokens() -> dict[str, str]:
    token = issue_token({"sub": "1"}, secret_key=KEY)
    payload, _, signature = token.rpartition(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    return {
        "tampered signature": f"{payload}.{flipped}",
        "tampered payload": "x" + token[1:],
        "truncated": token[: len(token) // 2],
        "signature dropped": payload,
        "random": "abc.def.ghi",
        "other key": issue_token({"sub": "1"}, secret_key="another-key"),
    }


@pytest.mark.parametrize("name", list(_f3_tokens()))
def test_f3_tampered_or_truncated_tokens_get_one_generic_401(name: str) -> None:
    response, _ = call(with_auth(secret_key=KEY)(whoami), bearer(_f3_tokens()[name]))
    assert_401(response)
    assert response.json() == {"error": "invalid_token", "message": "The token is invalid or has expired."}


def test_f3_an_empty_or_tampered_cookie_is_401() -> None:
    handler = with_auth(secret_key=KEY, cookie="session")(whoami)
    for value in ["", "nonsense", _f3_tokens()["tampered signature"]]:
        response, _ = call(handler, cookies={"session": value})
        assert_401(response)


def test_f4_an_expired_token_is_401(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 3600)
    old = issue_token({"sub": "1"}, secret_key=KEY)
    monkeypatch.undo()
    handler = with_auth(secret_key=KEY, max_age=60)(whoami)
    assert_401(call(handler, bearer(old))[0])
    fresh = issue_token({"sub": "1"}, secret_key=KEY)
    assert call(handler, bearer(fresh))[0].status_code == 200


def test_f4_a_token_issued_for_another_salt_is_401() -> None:
    reset_token = issue_token({"sub": "1"}, secret_key=KEY, salt="password-reset")
    assert_401(call(with_auth(secret_key=KEY)(whoami), bearer(reset_token))[0])
    ok = call(with_auth(secret_key=KEY, salt="password-reset")(whoami), bearer(reset_token))[0]
    assert ok.status_code == 200


def test_f5_a_token_signed_with_an_older_key_in_the_rotation_list_is_accepted() -> None:
    old_token = issue_token({"sub": "old"}, secret_key="key-2023")
    handler = with_auth(secret_key=["key-2023", "key-2024"])(whoami)
    assert call(handler, bearer(old_token))[0].json() == {"user": {"sub": "old"}}
    # New tokens are signed with the newest key: they verify without the old one.
    new_token = issue_token({"sub": "new"}, secret_key=["key-2023", "key-2024"])
    assert call(with_auth(secret_key="key-2024")(whoami), bearer(new_token))[0].status_code == 200
    assert_401(call(with_auth(secret_key="key-2023")(whoami), bearer(new_token))[0])


def test_f6_signature_checks_use_compare_digest_on_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[type, type]] = []
    real = hmac.compare_digest

    def recording(a, b):  # type: ignore[no-untyped-def]
        seen.append((type(a), type(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    token = issue_token({"sub": "1"}, secret_key=KEY)
    handler = with_auth(secret_key=KEY)(whoami)
    assert call(handler, bearer(token))[0].status_code == 200
    assert_401(call(handler, bearer(_f3_tokens()["tampered signature"]))[0])
    assert seen and all(pair == (bytes, bytes) for pair in seen)


# Names that hold secrets; comparing them with == leaks timing.
_SECRET_NAME = r"\w*(?:token|secret|signature|digest|password|passwd|hmac)\w*"
_EQ_ON_SECRET = re.compile(
    rf"(?:\b{_SECRET_NAME}(?:\.\w+|\[[^\]]*\]|\(\))?\s*(?:==|!=))|(?:(?:==|!=)\s*{_SECRET_NAME}\b(?!\s*\())",
    re.I,
)


def test_f6_no_equality_comparison_on_secret_names_in_handlerkit_sources() -> None:
    root = Path(__file__).resolve().parents[2] / "handlerkit"
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if _EQ_ON_SECRET.search(code) and "is None" not in code:
                offenders.append(f"{path.relative_to(root.parent)}:{number}: {line.strip()}")
    assert not offenders, "use hmac.compare_digest on bytes:\n" + "\n".join(offenders)


def test_f6_the_grep_catches_what_it_should() -> None:
    assert _EQ_ON_SECRET.search("if token == expected:")
    assert _EQ_ON_SECRET.search("return expected_signature != sig")
    assert _EQ_ON_SECRET.search("if header_digest == computed:")
    assert not _EQ_ON_SECRET.search("if scheme.lower() != 'bearer':")
    assert not _EQ_ON_SECRET.search("return hmac.compare_digest(signature, expected)")


def test_verify_callable_replaces_itsdangerous() -> None:
    tokens = {"good-token": {"sub": "7", "roles": ["admin"]}}

    def verify(token: str):  # type: ignore[no-untyped-def]
        if token == "explode":  # a test double, not a secret comparison in handlerkit
            raise ValueError("bad jwt")
        return tokens.get(token)

    handler = with_auth(verify=verify)(whoami)
    assert call(handler, bearer("good-token"))[0].json() == {"user": {"sub": "7", "roles": ["admin"]}}
    assert_401(call(handler, bearer("unknown-token"))[0])  # verify returned None
    assert_401(call(handler, bearer("explode"))[0])  # verify raised


def test_an_api_error_from_verify_is_passed_on() -> None:
    def verify(token: str):  # type: ignore[no-untyped-def]
        raise ApiError(503, "auth_unavailable", "The key server is unavailable.")

    response, _ = call(with_auth(verify=verify)(whoami), bearer("abc"))
    assert response.status_code == 503


def test_token_from_a_cookie_and_the_header_wins() -> None:
    alice = issue_token({"sub": "alice"}, secret_key=KEY)
    bob = issue_token({"sub": "bob"}, secret_key=KEY)
    handler = with_auth(secret_key=KEY, cookie="session")(whoami)
    assert call(handler, cookies={"session": alice})[0].json() == {"user": {"sub": "alice"}}
    assert call(handler, bearer(bob), cookies={"session": alice})[0].json() == {"user": {"sub": "bob"}}
    # Without cookie=, a cookie is not a credential.
    assert_401(call(with_auth(secret_key=KEY)(whoami), cookies={"session": alice})[0])


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"sub": "1", "roles": ["admin"]}, 200),
        ({"sub": "1", "roles": ["editor", "admin"]}, 200),
        ({"sub": "1", "role": "admin"}, 200),
        ({"sub": "1", "roles": ["editor"]}, 403),
        ({"sub": "1", "role": "administrator"}, 403),
        ({"sub": "1"}, 403),
        ({"sub": "1", "roles": "admin,editor"}, 403),
        (["admin"], 403),
    ],
)
def test_roles(payload: object, status: int) -> None:
    token = issue_token(payload, secret_key=KEY)
    response, _ = call(with_auth(secret_key=KEY, roles=["admin"])(whoami), bearer(token))
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"] == "forbidden"
        assert "WWW-Authenticate" not in response.headers


def test_no_token_on_a_role_route_is_401_not_403() -> None:
    assert_401(call(with_auth(secret_key=KEY, roles=["admin"])(whoami))[0])


def test_roles_must_be_a_list() -> None:
    with pytest.raises(TypeError, match="list of role names"):
        with_auth(roles="admin")  # type: ignore[arg-type]


def test_the_secret_defaults_to_the_requests_secret_key() -> None:
    token = issue_token({"sub": "1"}, secret_key="app-key")
    handler = with_auth(whoami)
    assert call(handler, bearer(token), secret_key="app-key")[0].status_code == 200
    assert_401(call(handler, bearer(token), secret_key="other-key")[0])


def test_a_preflight_is_answered_before_the_chain_and_with_auth_never_special_cases_it() -> None:
    from handlerkit import with_cors
    from handlerkit.testing import respond

    seen: list[str] = []

    def options(request, context):  # type: ignore[no-untyped-def]
        seen.append(request.method)
        return NextResponse(None, 204)

    handler = with_auth(secret_key=KEY)(
        with_cors(origins=["https://app.example"], methods=["DELETE"])(options)
    )
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"}
    # As the App does: the chain's policy answers, no layer runs.
    response = respond(handler, NextRequest("/me", method="OPTIONS", headers=preflight))
    assert response.status_code == 204 and seen == []
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    # Run as listed (a context given), with_auth is first and refuses it.
    assert_401(call(handler, preflight, method="OPTIONS")[0])
    # An OPTIONS that is not a preflight needs a token, as does a GET with the preflight headers.
    assert_401(respond(handler, NextRequest("/me", method="OPTIONS", headers={"Origin": "https://app.example"})))
    assert_401(call(with_auth(secret_key=KEY)(whoami), preflight)[0])


def test_e7_no_header_claims_authentication() -> None:
    handler = with_auth(secret_key=KEY)(whoami)
    for name, value in [
        ("X-Authenticated-User", "admin"),
        ("X-User", "admin"),
        ("X-Remote-User", "admin"),
        ("X-Middleware-Subrequest", "middleware"),
        ("X-Forwarded-User", "admin"),
    ]:
        assert_401(call(handler, {name: value})[0])


def test_bare_and_configured_forms_keep_wrapped() -> None:
    bare = with_auth(whoami)
    configured = with_auth(secret_key=KEY, roles=["admin"])(whoami)
    assert bare.__wrapped__ is whoami and configured.__wrapped__ is whoami
    assert bare.__name__ == "whoami"


def test_handlers_of_any_arity() -> None:
    token = issue_token({"sub": "1"}, secret_key=KEY)
    handler = with_auth(secret_key=KEY)(lambda: NextResponse.json({"ok": True}))
    assert call(handler, bearer(token))[0].json() == {"ok": True}


# ----------------------------------------------------------------- through an App

APP = {
    "me/route.py": """
        from handlerkit import NextResponse, with_auth

        @with_auth
        def GET(request, context):
            return NextResponse.json(context.state.user)
    """,
    "admin/route.py": """
        from handlerkit import NextResponse, with_auth

        @with_auth(roles=["admin"], cookie="session", max_age=3600)
        def GET(request, context):
            return NextResponse.json({"admin": context.state.user["sub"]})
    """,
}


def test_through_an_app_with_the_apps_secret_key(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(APP, secret_key=["old-app-key", "app-key"])
    token = issue_token({"sub": "9", "roles": ["admin"]}, secret_key="app-key")
    assert client.get("/me", headers=bearer(token)).json() == {"sub": "9", "roles": ["admin"]}
    response = client.get("/me")
    assert_401(response)
    assert client.get("/admin", headers=bearer(token)).json() == {"admin": "9"}
    user_token = issue_token({"sub": "5", "roles": ["user"]}, secret_key="old-app-key")
    assert client.get("/admin", headers=bearer(user_token)).status_code == 403
    client.set_cookie("session", token)
    assert client.get("/admin").json() == {"admin": "9"}
    client.set_cookie("session", token[:-3])
    assert_401(client.get("/admin"))


def test_through_an_app_without_any_secret_key_is_a_logged_500(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(APP)
    response = client.get("/me", headers=bearer("abc.def"))
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"


def test_a_preflight_without_a_cors_policy_is_authenticated() -> None:
    # Regression: a request shaped like a preflight skipped with_auth even
    # though no with_cors layer would answer it, reaching the handler unauthenticated.
    seen: list[str] = []

    def options(request, context):  # type: ignore[no-untyped-def]
        seen.append(request.method)
        return NextResponse.json({"secret": "admin-only"})

    handler = with_auth(secret_key=KEY)(options)
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "DELETE"}
    response, context = call(handler, preflight, method="OPTIONS")
    assert_401(response)
    assert seen == [] and not hasattr(context.state, "user")
    token = issue_token({"sub": "u1"}, secret_key=KEY)
    response, context = call(handler, {**preflight, **bearer(token)}, method="OPTIONS")
    assert response.status_code == 200 and seen == ["OPTIONS"]
    assert context.state.user == {"sub": "u1"}


def test_a_verify_returning_false_is_a_401() -> None:
    # Regression: a boolean verifier returning False authenticated the request.
    valid = {"tok-alice"}
    handler = with_auth(verify=lambda token: token in valid)(whoami)
    response, context = call(handler, bearer("anything"))
    assert_401(response)
    assert not hasattr(context.state, "user")
    response, context = call(handler, bearer("tok-alice"))
    assert response.status_code == 200 and context.state.user is True
