"""with_cors: allowlists, credentials, Vary, preflights (I1-I3), errors, and the App's automatic OPTIONS."""

from __future__ import annotations

import logging

import re

import pytest

from handlerkit import (
    ApiError,
    NextRequest,
    NextResponse,
    RouteContext,
    compose,
    with_auth,
    with_cors,
)
from handlerkit.middleware.cors import MAX_AGE_CAP, find_policy
from handlerkit.tokens import issue_token

APP_ORIGIN = "https://app.example.com"
EVIL = "https://evil.example.net"


def hello(request, context):  # type: ignore[no-untyped-def]
    return NextResponse.json({"hello": "world"}, headers={"X-Request-ID": "r1"})


def acah(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.strip() for h in response.headers.get("Access-Control-Allow-Headers", "").split(",") if h.strip()]


def vary(response) -> set[str]:  # type: ignore[no-untyped-def]
    return {v.strip().lower() for v in response.headers.get("Vary", "").split(",") if v.strip()}


def allow_headers(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-allow-")}


def get(handler, origin=None, method="GET", headers=None):  # type: ignore[no-untyped-def]
    sent = dict(headers or {})
    if origin is not None:
        sent["Origin"] = origin
    return handler(NextRequest("/x", method=method, headers=sent), RouteContext())


def preflight(handler, origin=APP_ORIGIN, method="PUT", request_headers=None):  # type: ignore[no-untyped-def]
    headers = {"Access-Control-Request-Method": method}
    if request_headers:
        headers["Access-Control-Request-Headers"] = request_headers
    return get(handler, origin, "OPTIONS", headers)


strict = with_cors(
    origins=[APP_ORIGIN, re.compile(r"https://[a-z0-9-]+\.preview\.example\.com")],
    methods=["GET", "PUT"],
    headers=["Content-Type", "Authorization", "X-Client"],
    expose_headers=["X-Request-ID"],
    credentials=True,
    max_age=86400,
)


# ------------------------------------------------------------------ configuration


def test_star_with_credentials_is_refused_at_configuration_time() -> None:
    with pytest.raises(ValueError, match="credentials"):
        with_cors(origins="*", credentials=True)
    with pytest.raises(ValueError, match="credentials"):
        with_cors(origins=["*"], credentials=True)


@pytest.mark.parametrize("origin", ["https://app.example.com/", "https://app.example.com/path", "app.example.com", ""])
def test_malformed_origins_are_refused(origin: str) -> None:
    with pytest.raises(ValueError, match="not an origin"):
        with_cors(origins=[origin])


def test_max_age_is_capped_and_validated() -> None:
    assert MAX_AGE_CAP == 7200
    assert preflight(strict(hello)).headers["Access-Control-Max-Age"] == "7200"
    assert preflight(with_cors(origins=[APP_ORIGIN], methods=["PUT"], max_age=30)(hello)).headers[
        "Access-Control-Max-Age"
    ] == "30"
    assert "Access-Control-Max-Age" not in preflight(with_cors(origins=[APP_ORIGIN], methods=["PUT"], max_age=None)(hello)).headers
    with pytest.raises(ValueError, match="max_age"):
        with_cors(max_age=-1)


def test_lists_are_required_for_methods_and_headers() -> None:
    with pytest.raises(TypeError):
        with_cors(methods="GET")  # type: ignore[arg-type]


# ------------------------------------------------------------ actual requests


def test_an_allowed_origin_is_echoed_with_credentials_expose_and_vary() -> None:
    response = get(strict(hello), APP_ORIGIN)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Expose-Headers"] == "X-Request-ID"
    assert "origin" in vary(response)


@pytest.mark.parametrize(
    "origin",
    [
        EVIL,
        "https://app.example.com.evil.net",
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://APP.example.com",
        "null",
        "https://x.preview.example.com.evil.net",
        "https://evil.net?https://a.preview.example.com",
        "https://a.b.preview.example.com",
    ],
)
def test_i1_a_refused_origin_gets_no_allow_headers(origin: str) -> None:
    response = get(strict(hello), origin)
    assert response.status_code == 200
    assert allow_headers(response) == {}
    assert "Access-Control-Expose-Headers" not in response.headers
    assert "origin" in vary(response)


def test_patterns_match_the_whole_origin() -> None:
    response = get(strict(hello), "https://pr-12.preview.example.com")
    assert response.headers["Access-Control-Allow-Origin"] == "https://pr-12.preview.example.com"


def test_vary_origin_is_sent_even_without_an_origin_and_merged_with_existing_vary() -> None:
    def varying(request, context):  # type: ignore[no-untyped-def]
        return NextResponse.json({}, headers={"Vary": "Accept-Encoding"})

    assert "origin" in vary(get(strict(hello)))
    assert vary(get(strict(varying), APP_ORIGIN)) == {"accept-encoding", "origin"}


def test_bare_with_cors_allows_any_origin_without_credentials_or_vary() -> None:
    response = get(with_cors(hello), EVIL)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "origin" not in vary(response)


def test_cors_headers_are_added_to_error_responses_keeping_the_error_shape() -> None:
    def failing(request, context):  # type: ignore[no-untyped-def]
        raise ApiError(409, "conflict", "Already exists.", {"id": 1}, headers={"X-Extra": "1"})

    response = get(strict(failing), APP_ORIGIN)
    assert response.status_code == 409
    assert response.json() == {"error": "conflict", "message": "Already exists.", "details": {"id": 1}}
    assert response.headers["X-Extra"] == "1"
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_unexpected_exceptions_still_reach_the_app_boundary() -> None:
    def broken(request, context):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        get(strict(broken), APP_ORIGIN)


def test_dict_results_are_decorated_too() -> None:
    response = get(strict(lambda request: {"a": 1}), APP_ORIGIN)
    assert response.json() == {"a": 1}
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


# ------------------------------------------------------------------ preflights


def test_a_preflight_is_answered_without_calling_the_handler() -> None:
    called: list[int] = []

    def handler(request, context):  # type: ignore[no-untyped-def]
        called.append(1)
        return NextResponse.json({})

    response = preflight(strict(handler), request_headers="content-type, x-client")
    assert response.status_code == 204 and called == []
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, PUT"
    assert acah(response) == ["Content-Type", "X-Client"]
    assert {"origin", "access-control-request-method", "access-control-request-headers"} <= vary(response)
    assert response.get_data() == b""


def test_i2_a_preflight_for_a_refused_method_gets_no_allow_headers() -> None:
    response = preflight(strict(hello), method="DELETE", request_headers="content-type")
    assert response.status_code == 204
    assert allow_headers(response) == {}


def test_i2_only_allowlisted_request_headers_are_echoed() -> None:
    response = preflight(strict(hello), request_headers="X-Client, X-Evil, Cookie, authorization")
    assert acah(response) == ["X-Client", "Authorization"]
    response = preflight(strict(hello), request_headers="x-evil")
    assert "Access-Control-Allow-Headers" not in response.headers


def test_i2_a_preflight_from_a_refused_origin_gets_no_allow_headers() -> None:
    response = preflight(strict(hello), origin=EVIL, request_headers="content-type")
    assert allow_headers(response) == {}
    assert "Access-Control-Max-Age" not in response.headers


def test_without_methods_the_method_asked_about_is_allowed() -> None:
    # A policy answers only preflights about the methods whose chain holds it.
    handler = with_cors(hello)
    assert preflight(handler, method="POST").headers["Access-Control-Allow-Methods"] == "POST"
    assert preflight(handler, method="DELETE").headers["Access-Control-Allow-Methods"] == "DELETE"
    # A value that is not a method token is refused, never echoed.
    assert allow_headers(preflight(handler, method="GET, evil")) == {}
    assert allow_headers(with_cors(methods=["GET"])(hello) and preflight(
        with_cors(methods=["GET"])(hello), method="DELETE")) == {}


def test_the_policy_is_found_along_the_wrapped_chain() -> None:
    handler = with_auth(secret_key="k")(strict(hello))
    policy = find_policy(handler)
    assert policy is not None and policy.credentials
    assert find_policy(with_auth(secret_key="k")(hello)) is None


# --------------------------------------------------------------- through an App

ROUTES = {
    # The seed order: auth outside cors.
    "auth-outside/route.py": """
        from handlerkit import NextResponse, compose, with_auth, with_cors

        cors = with_cors(origins=["https://app.example.com"], credentials=True, max_age=99999)

        @compose(with_auth, cors)
        def GET(request, context):
            return NextResponse.json({"user": context.state.user["sub"]})

        @compose(with_auth, cors)
        def DELETE(request, context):
            return NextResponse(None, 204)
    """,
    # The recommended order: cors outside auth.
    "auth-inside/route.py": """
        from handlerkit import NextResponse, compose, with_auth, with_cors

        @compose(with_cors(origins=["https://app.example.com"]), with_auth)
        def GET(request, context):
            return NextResponse.json({"user": context.state.user["sub"]})
    """,
    # The route exports OPTIONS itself, unprotected by cors.
    "exports-options/route.py": """
        from handlerkit import NextResponse, compose, with_auth, with_cors

        @compose(with_auth, with_cors(origins=["https://app.example.com"], methods=["GET", "PATCH"]))
        def PATCH(request, context):
            return NextResponse.json({"patched": True})

        def OPTIONS(request):
            raise RuntimeError("the preflight reached the handler")
    """,
    "plain/route.py": """
        def GET(request):
            return {"plain": True}
    """,
}

PREFLIGHT = {
    "Origin": APP_ORIGIN,
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "authorization",
}


@pytest.mark.parametrize("path", ["/auth-outside", "/auth-inside"])
def test_i3_preflight_to_an_auth_route_is_answered_before_auth_whatever_the_order(make_client, path: str) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROUTES, secret_key="k")
    response = client.options(path, headers=PREFLIGHT)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert acah(response) == ["Authorization"]
    assert int(response.headers["Access-Control-Max-Age"]) <= 7200
    assert "OPTIONS" in response.headers["Allow"]
    assert "WWW-Authenticate" not in response.headers


def test_app_preflight_allows_the_method_whose_chain_holds_the_policy(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROUTES, secret_key="k")
    response = client.options("/auth-outside", headers={**PREFLIGHT, "Access-Control-Request-Method": "DELETE"})
    assert response.headers["Access-Control-Allow-Methods"] == "DELETE"
    assert response.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS"
    # HEAD asks GET's chain; PUT has no chain: the automatic OPTIONS, no CORS headers.
    response = client.options("/auth-outside", headers={**PREFLIGHT, "Access-Control-Request-Method": "HEAD"})
    assert response.headers["Access-Control-Allow-Methods"] == "HEAD"
    response = client.options("/auth-outside", headers={**PREFLIGHT, "Access-Control-Request-Method": "PUT"})
    assert response.status_code == 204 and allow_headers(response) == {}


def test_preflight_never_reaches_an_exported_options_handler(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROUTES, secret_key="k")
    response = client.options("/exports-options", headers={**PREFLIGHT, "Access-Control-Request-Method": "PATCH"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "GET, PATCH"


def test_layers_outside_with_cors_answer_as_listed_and_startup_warns(make_client, caplog) -> None:  # type: ignore[no-untyped-def]
    # First listed = outermost, always: with_auth's 401 is answered before with_cors
    # runs, so it carries no CORS headers, and the App says so at startup.
    with caplog.at_level(logging.WARNING, logger="handlerkit"):
        client = make_client(ROUTES, secret_key="k")
    warned = [r.getMessage() for r in caplog.records if "listed before with_cors" in r.getMessage()]
    assert sorted(w.split(" in ")[0] for w in warned) == [
        "DELETE /auth-outside",
        "GET /auth-outside",
        "PATCH /exports-options",
    ]
    assert all("with_auth is listed before with_cors" in w for w in warned)
    response = client.get("/auth-outside", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert allow_headers(response) == {}
    # Listed first, with_cors decorates the 401 too.
    response = client.get("/auth-inside", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "origin" in vary(response)


def test_actual_requests_through_the_app(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROUTES, secret_key="k")
    token = issue_token({"sub": "ada"}, secret_key="k")
    for path in ("/auth-outside", "/auth-inside"):
        response = client.get(path, headers={"Origin": APP_ORIGIN, "Authorization": f"Bearer {token}"})
        assert response.json() == {"user": "ada"}
        assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
        head = client.head(path, headers={"Origin": APP_ORIGIN, "Authorization": f"Bearer {token}"})
        assert head.status_code == 200 and head.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_an_outer_layer_that_replaces_the_response_replaces_its_cors_headers(make_client) -> None:  # type: ignore[no-untyped-def]
    routes = {
        "x/route.py": """
            import functools

            from handlerkit import NextResponse, compose, with_cors

            def replace_on_query(handler):
                @functools.wraps(handler)
                def wrapped(request, context):
                    response = handler(request, context)
                    if request.args.get("replace"):
                        return NextResponse.json({"replaced": True})
                    return response
                return wrapped

            @compose(replace_on_query, with_cors(origins=["https://app.example.com"]))
            def GET(request):
                return {"ok": True}
        """,
    }
    client = make_client(routes)
    response = client.get("/x", headers={"Origin": APP_ORIGIN})
    assert response.json() == {"ok": True}
    assert response.headers.getlist("Access-Control-Allow-Origin") == [APP_ORIGIN]
    assert response.headers.getlist("Vary") == ["Origin"]
    # The outer layer runs last and its answer is what is sent, as listed.
    replaced = client.get("/x?replace=1", headers={"Origin": APP_ORIGIN})
    assert replaced.json() == {"replaced": True} and allow_headers(replaced) == {}


def test_a_vary_the_handler_already_set_is_kept_and_not_repeated() -> None:
    def handler(request):  # type: ignore[no-untyped-def]
        return NextResponse.json({}, headers={"Vary": "Accept-Encoding, origin"})

    response = with_cors(origins=[APP_ORIGIN])(handler)(NextRequest("/x", headers={"Origin": APP_ORIGIN}))
    assert response.headers.getlist("Vary") == ["Accept-Encoding, origin"]
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_a_refused_origin_leaves_a_complete_vary_and_everything_else_alone() -> None:
    def handler(request):  # type: ignore[no-untyped-def]
        return NextResponse.json({}, headers={"Vary": "Origin", "X-Own": "1"})

    response = with_cors(origins=[APP_ORIGIN])(handler)(NextRequest("/x", headers={"Origin": EVIL}))
    assert list(response.headers) == [
        ("Content-Type", "application/json"),
        ("Content-Length", "2"),
        ("Vary", "Origin"),
        ("X-Own", "1"),
    ]


def test_routes_without_cors_are_untouched(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROUTES, secret_key="k")
    response = client.options("/plain", headers=PREFLIGHT)
    assert response.status_code == 204
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert allow_headers(response) == {}
    assert allow_headers(client.get("/plain", headers={"Origin": APP_ORIGIN})) == {}


def test_a_non_preflight_options_is_the_automatic_204(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROUTES, secret_key="k")
    for headers in ({"Origin": APP_ORIGIN}, {"Access-Control-Request-Method": "GET"}, {}):
        response = client.options("/auth-inside", headers=headers)
        assert response.status_code == 204
        assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
        assert allow_headers(response) == {}


def test_app_wide_cors_through_wrap(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROUTES, secret_key="k", wrap=compose(with_cors(origins=[APP_ORIGIN])))
    response = client.options("/plain", headers=PREFLIGHT)
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert client.get("/plain", headers={"Origin": APP_ORIGIN}).headers["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_the_app_adds_no_layers(make_app) -> None:  # type: ignore[no-untyped-def]
    from handlerkit.handlers import wrapper_chain

    app = make_app(ROUTES, secret_key="k")
    routes = {route.pattern: route for route in app.routes}
    names = [layer["name"] for layer in wrapper_chain(routes["/auth-outside"].handlers["GET"])]
    assert names == ["with_auth", "with_cors"]
    names = [layer["name"] for layer in wrapper_chain(routes["/auth-inside"].handlers["GET"])]
    assert names == ["with_cors", "with_auth"]
    assert wrapper_chain(routes["/exports-options"].handlers["OPTIONS"]) == []
    assert set(routes["/auth-outside"].preflights) == {"GET", "HEAD", "DELETE"}
    assert routes["/plain"].preflights == {}


PER_METHOD = {
    "api/posts/route.py": """
        from handlerkit import with_cors

        @with_cors(origins=["https://app.example.com"], credentials=True)
        def GET(request, context):
            return {"posts": []}

        @with_cors(origins=["https://admin.example.com"], credentials=True)
        def DELETE(request, context):
            return {"deleted": True}
    """,
}


def test_a_preflight_advertises_only_its_own_policys_methods(make_client) -> None:  # type: ignore[no-untyped-def]
    """Regression: GET's policy advertised DELETE (another policy's method) to GET's origin."""
    client = make_client(PER_METHOD)

    def preflight(origin: str, method: str):  # type: ignore[no-untyped-def]
        return client.open(
            "/api/posts",
            method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": method},
        )

    app_get = preflight("https://app.example.com", "GET")
    assert app_get.status_code == 204
    assert app_get.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert app_get.headers["Access-Control-Allow-Methods"] == "GET"
    admin_delete = preflight("https://admin.example.com", "DELETE")
    assert admin_delete.headers["Access-Control-Allow-Origin"] == "https://admin.example.com"
    assert admin_delete.headers["Access-Control-Allow-Methods"] == "DELETE"
    # The other policy's origin gets nothing for a method it does not govern.
    app_delete = preflight("https://app.example.com", "DELETE")
    assert app_delete.status_code == 204
    assert not [k for k, _ in app_delete.headers.items() if k.startswith("Access-Control-")]
    # A method no policy governs is refused outright.
    put = preflight("https://app.example.com", "PUT")
    assert put.status_code == 204
    assert not [k for k, _ in put.headers.items() if k.startswith("Access-Control-")]
    assert "GET" in put.headers["Allow"]
