"""Edges of the security-critical code that the catalogue rows reach only sideways.

Routing and segment decoding, tokens, webhook signatures, CORS, rate limiting and the error
boundary are held to 100 % line and branch coverage (tests/coverage_check.py); these are
the inputs that take their remaining paths, each asserting what the path does.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response

from handlerkit import App, NextRequest, NextResponse, RouteContext, Router, with_cors, with_rate_limit
from handlerkit.errors import RouteDefinitionError
from handlerkit.handlers import wrapper_chain
from handlerkit.middleware.errors import http_exception_response
from handlerkit.tokens import TokenError, verify_token
from handlerkit.webhooks import SignatureError, verify_github


@pytest.mark.parametrize(
    ("config", "word"),
    [
        ("revalidate = 'soon'", "revalidate"),
        ("dynamic = 'sometimes'", "dynamic"),
        ("max_body_size = -1", "max_body_size"),
    ],
)
def test_invalid_segment_config_fails_at_startup(make_app, config: str, word: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RouteDefinitionError, match=word):
        make_app({"x/route.py": f"{config}\ndef GET(): return {{}}\n"})


@pytest.mark.parametrize("token", ["", None])
def test_an_empty_token_is_refused_without_touching_the_serializer(token: Any) -> None:
    with pytest.raises(TokenError) as info:
        verify_token(token, secret_key="k")
    assert info.value.status == 401


@pytest.mark.parametrize("header", [None, ""])
def test_verify_github_without_a_header_is_400(header: str | None) -> None:
    with pytest.raises(SignatureError) as info:
        verify_github(b"{}", header, "s")
    assert info.value.status == 400 and info.value.code == "missing_signature"


# ------------------------------------------------------------------ App._resolve / _raw_segments


def _app() -> App:
    router = Router()

    @router.route("/users/[id]")
    def GET(request: Any, context: Any) -> dict[str, Any]:
        return context.params  # type: ignore[no-any-return]

    return App(router, trailing_slash=True)


def test_a_raw_uri_with_a_trailing_slash_matches_the_route() -> None:
    route, params = _app().resolve("/users/a/b/", {"RAW_URI": "/users/a%2Fb/"})  # type: ignore[misc]
    assert route.pattern == "/users/[id]" and params == {"id": "a/b"}


def test_an_absolute_form_raw_uri_is_reduced_to_its_path() -> None:
    route, params = _app().resolve("/users/a/b", {"RAW_URI": "http://localhost/users/a%2Fb?x=1"})  # type: ignore[misc]
    assert params == {"id": "a/b"}
    result = _app().resolve("/users/x", {"RAW_URI": "http://localhost"})
    assert result is None or not isinstance(result, tuple) or result[1] == {"id": "x"}


# ------------------------------------------------------------------ middleware/errors.py


def test_http_exceptions_keep_their_own_response_or_redirect() -> None:
    own = Response("custom", status=418)
    assert http_exception_response(HTTPException(response=own), {}) is own
    redirect = http_exception_response(
        RequestRedirect("http://localhost/new"), {"wsgi.url_scheme": "http"}
    )
    assert redirect.status_code == 308 and redirect.headers["Location"] == "http://localhost/new"
    missing = http_exception_response(NotFound(), {})
    assert missing.status_code == 404 and missing.get_json() == {
        "error": "not_found",
        "message": "Not Found.",
    }


# ------------------------------------------------------------------ CORS


def test_vary_star_is_left_alone() -> None:
    handler = with_cors(
        lambda: NextResponse("x", headers={"Vary": "*"}), origins=["https://a.example"]
    )
    response = handler(NextRequest("/x", headers={"Origin": "https://a.example"}))
    assert response.headers["Vary"] == "*"
    assert response.headers["Access-Control-Allow-Origin"] == "https://a.example"


def test_star_with_listed_origins_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="already allows every origin"):
        with_cors(origins=["*", "https://a.example"])


def test_a_non_response_result_passes_through_cors_untouched() -> None:
    handler = with_cors(lambda: "not a response", origins=["https://a.example"])
    request = NextRequest("/x", headers={"Origin": "https://a.example"})
    # Inside a chain it is passed on, for the App to report as a 500 ...
    assert handler(request, RouteContext()) == "not a response"
    # ... and called directly it is reported at once, as the App would.
    with pytest.raises(TypeError, match="for GET /x: it returned a str; return a NextResponse"):
        handler(request)


def test_an_outermost_with_cors_is_left_as_listed(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(
        {
            "x/route.py": """
        from handlerkit import with_cors

        @with_cors(origins=["https://a.example"])
        def GET(request, context):
            return {"ok": True}
    """
        }
    )
    route = next(r for r in app.routes if r.pattern == "/x")
    assert [layer["name"] for layer in wrapper_chain(route.handlers["GET"])][0] == "with_cors"


def test_an_exported_options_answers_non_preflight_requests(make_app) -> None:  # type: ignore[no-untyped-def]
    from handlerkit.testing import Client

    client = Client(
        make_app(
            {
                "x/route.py": """
        from handlerkit import NextResponse, with_cors

        @with_cors(origins=["https://a.example"])
        def GET():
            return {"ok": True}

        def OPTIONS():
            return NextResponse(None, 200, headers={"X-Own": "yes"})
    """
            }
        )
    )
    plain = client.options("/x")
    assert plain.status_code == 200 and plain.headers["X-Own"] == "yes"
    preflight = client.options(
        "/x", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 204 and "X-Own" not in preflight.headers


# ------------------------------------------------------------------ rate limiting


def test_non_string_keys_and_non_response_results() -> None:
    handler = with_rate_limit(lambda: "plain text", limit=1, key=lambda request, context: 42)
    assert handler(NextRequest("/x"), RouteContext()) == "plain text"  # nothing to put headers on
    assert handler(NextRequest("/x")).status_code == 429  # the int key 42 named one bucket


def test_a_limiter_built_by_another_thread_is_reused() -> None:
    import os

    handler = with_rate_limit(lambda: {"ok": True}, limit=5)
    holder = wrapper_chain(handler)[0]["state"]
    built: list[Any] = []
    with holder._lock:  # another thread is building it
        thread = threading.Thread(target=lambda: built.append(holder.get()))
        thread.start()
        thread.join(0.2)
        assert thread.is_alive()  # waiting for the lock, after seeing no limiter
        sentinel = object()
        holder._limiter, holder._pid = sentinel, os.getpid()
    thread.join(5)
    assert built == [sentinel]


def test_methods_without_with_cors_are_left_alone(make_app) -> None:  # type: ignore[no-untyped-def]
    from handlerkit.testing import Client

    app = make_app(
        {
            "x/route.py": """
        from handlerkit import with_cors

        @with_cors(origins=["https://a.example"])
        def GET():
            return {"ok": True}

        def POST():
            return {"posted": True}
    """
        }
    )
    route = next(r for r in app.routes if r.pattern == "/x")
    assert "cors_front" not in [layer["name"] for layer in wrapper_chain(route.handlers["POST"])]
    response = Client(app).post("/x", headers={"Origin": "https://a.example"})
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers


def test_backtracking_past_a_static_dead_end() -> None:
    router = Router()
    router.route("/a/b/c", methods=["GET"])(lambda: {})
    router.route("/[x]/b", methods=["GET"])(lambda: {})
    app = App(router)
    route, params = app.resolve("/a/b")  # type: ignore[misc]
    assert route.pattern == "/[x]/b" and params == {"x": "a"}


def test_a_500_under_with_logging_names_the_logged_request_id(make_app) -> None:  # type: ignore[no-untyped-def]
    from handlerkit.testing import Client

    client = Client(
        make_app(
            {
                "x/route.py": """
        from handlerkit import with_logging

        @with_logging
        def GET():
            raise RuntimeError("boom")
    """
            }
        )
    )
    response = client.get("/x", headers={"X-Request-ID": "edge-request-0001"})
    assert response.status_code == 500
    assert (
        response.json()["details"]["request_id"]
        == response.headers["X-Request-ID"]
        == "edge-request-0001"
    )
