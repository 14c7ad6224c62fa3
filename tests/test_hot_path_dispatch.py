"""Issue 7 shortcuts for endpoints B and C (dispatch, request views) answer as the generic code."""

from __future__ import annotations

import copy
import io
import logging
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder, run_wsgi_app

from handlerkit import App, NextRequest, NextResponse, RouteContext, Router
from handlerkit import cookies as request_module
from handlerkit.errors import ApiError
from handlerkit.request import NextURL, RequestCookie, RequestCookies, parse_query
from handlerkit.tokens import make_serializer

QUERY_ALPHABET = st.sampled_from(
    list("ab=&+%2F41e9C3A;x ") + ["%C3%A9", "%e9", "%", "\u00e9", "\xc3\xa9"]
)


def environ(path: str, query: str = "", *, raw: str | None = None, **extra: Any) -> dict[str, Any]:
    env = EnvironBuilder(method="GET").get_environ()
    env.pop("REQUEST_URI", None)
    env.update(PATH_INFO=path, QUERY_STRING=query, RAW_URI=raw if raw is not None else path)
    env.update(extra)
    return env


def answer(app: App, env: dict[str, Any]) -> tuple[int, bytes]:
    app_iter, status, _headers = run_wsgi_app(app, env, buffered=True)
    return int(status.split()[0]), b"".join(app_iter)


# -- search_params --------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.lists(QUERY_ALPHABET, max_size=14).map("".join))
def test_search_params_are_parse_query_of_the_decoded_query(query: str) -> None:
    env = environ("/x", query)
    expected = parse_query(query.encode("latin-1", "replace").decode("utf-8", "replace"))
    assert (
        NextRequest.from_environ(dict(env), None, None, "").next_url.search_params.items()
        == expected
    )
    # Once request.query_string was read, the same text comes from it.
    request = NextRequest.from_environ(dict(env), None, None, "")
    assert request.query_string == query.encode("latin-1", "replace")
    assert request.next_url.search_params.items() == expected


def test_search_params_are_made_once_per_request() -> None:
    request = NextRequest("http://localhost/x?a=1&b=&&c&a=2")
    params = request.next_url.search_params
    assert request.next_url is request.nextUrl
    assert params is request.next_url.search_params is request.next_url.searchParams
    assert params.items() == [("a", "1"), ("b", ""), ("c", ""), ("a", "2")]
    assert params.get("a") == "1" and params.get_all("a") == ["1", "2"]
    assert NextRequest("/x").next_url.search_params.items() == []


def test_the_lazy_views_read_as_descriptors_on_their_classes() -> None:
    assert "SearchParams" in (NextURL.search_params.__doc__ or "")
    assert "URL" in (NextRequest.next_url.__doc__ or "")
    assert "cookies" in (NextRequest.cookies.__doc__ or "")


# -- cookies --------------------------------------------------------------------


def test_request_cookies_are_read_only_and_survive_copy_and_pickle() -> None:
    cookie = RequestCookie("a", "1")
    with pytest.raises(AttributeError):
        cookie.value = "2"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del cookie.name
    assert (cookie.name, cookie.value) == ("a", "1")
    assert copy.copy(cookie) == cookie == pickle.loads(pickle.dumps(cookie))
    assert copy.deepcopy(cookie) == cookie


def test_a_cookie_header_is_parsed_once_and_shared_by_requests() -> None:
    header = "sid=abc; theme=dark; sid=other"
    first = NextRequest.from_environ(environ("/x", HTTP_COOKIE=header), None, None, "")
    second = NextRequest.from_environ(environ("/x", HTTP_COOKIE=header), None, None, "")
    assert first.cookies is second.cookies  # one immutable view per header and key
    assert first.cookies.get("sid") is second.cookies.get("sid")
    keyed = NextRequest.from_environ(environ("/x", HTTP_COOKIE=header), "k", None, "")
    assert keyed.cookies is not first.cookies
    assert keyed.cookies.get("sid") is first.cookies.get("sid")  # the parse is shared
    assert first.cookies.get("sid").value == "abc"  # type: ignore[union-attr]
    assert [c.value for c in first.cookies.get_all("sid")] == ["abc", "other"]
    assert [c.name for c in first.cookies] == ["sid", "sid", "theme"]
    assert first.cookies.has("theme") and "theme" in first.cookies and "nope" not in first.cookies
    assert 3 not in first.cookies  # not a name: never an error
    assert len(first.cookies) == 3
    assert repr(first.cookies).startswith("RequestCookies([RequestCookie('sid', 'abc')")
    assert RequestCookies(header).get("theme") == RequestCookie("theme", "dark")


def test_shared_cookies_verify_signatures_with_each_requests_own_key() -> None:
    token = make_serializer("k1", request_module.COOKIE_SALT).dumps({"uid": 7})
    header = f"s={token}"
    good = NextRequest.from_environ(environ("/x", HTTP_COOKIE=header), "k1", None, "")
    other = NextRequest.from_environ(environ("/x", HTTP_COOKIE=header), "k2", None, "")
    assert good.cookies.get_signed("s") == {"uid": 7}
    assert other.cookies.get_signed("s") is None
    again = NextRequest.from_environ(environ("/x", HTTP_COOKIE=header), "k1", None, "")
    assert again.cookies.get_signed("s") == {"uid": 7}
    assert RequestCookies(header, "k2").get_signed("s") is None
    assert RequestCookies(header, "k1").get_signed("s") == {"uid": 7}


def test_the_cookie_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(request_module, "_COOKIE_CACHE", {})
    monkeypatch.setattr(request_module, "_COOKIE_CACHE_SIZE", 3)
    cache = request_module._COOKIE_CACHE
    for n in range(3):
        assert RequestCookies(f"n={n}").get("n").value == str(n)  # type: ignore[union-attr]
    assert len(cache) == 3
    assert RequestCookies("n=3").get("n").value == "3"  # type: ignore[union-attr]
    assert list(cache) == ["n=3"]  # full: emptied, then the new one kept
    long_header = "big=" + "x" * request_module._COOKIE_CACHE_MAX_HEADER
    assert (
        RequestCookies(long_header).get("big").value
        == "x" * request_module._COOKIE_CACHE_MAX_HEADER
    )  # type: ignore[union-attr]
    assert long_header not in cache


# -- dispatch -------------------------------------------------------------------


def _router() -> Router:
    router = Router()

    @router.route("/hello")
    def GET(request: Any) -> Any:  # noqa: N802
        return NextResponse.json({"message": "hi"})

    @router.route("/users/[id]", methods=["GET"])
    def user(request: Any, context: Any) -> Any:
        return NextResponse.json({"id": context.params["id"], "route": context.route})

    @router.route("/files/[...path]", methods=["GET"])
    def files(request: Any, context: Any) -> Any:
        return {"path": context.params["path"]}

    @router.route("/caf\u00e9", methods=["GET"])
    def cafe(request: Any) -> Any:
        return {"cafe": True}

    @router.route("/q", methods=["GET"])
    def query(request: Any) -> Any:
        session = request.cookies.get("session")
        return {
            "page": request.next_url.search_params.get("page"),
            "session": session.value if session is not None else None,
        }

    return router


def test_the_dispatch_builds_the_request_from_environ_builds() -> None:
    seen: list[NextRequest] = []
    router = Router()

    @router.route("/x")
    def GET(request: NextRequest) -> Any:  # noqa: N802
        seen.append(request)
        return {}

    app = App(router, secret_key="k", base_path="/api", max_body_size=123)
    env = environ("/api/x")
    assert answer(app, env)[0] == 200
    expected = NextRequest.from_environ(env, "k", 123, "/api")
    assert type(seen[0]) is NextRequest
    assert seen[0].__dict__ == expected.__dict__


def test_static_routes_answer_alike_with_and_without_the_shortcut() -> None:
    app = App(_router())
    assert answer(app, environ("/hello")) == (200, b'{"message":"hi"}')
    assert answer(app, environ("/hello", raw=""))[0] == 200  # no raw URI
    assert answer(app, environ("/hello", raw="/hel%6Co"))[0] == 200  # decoded from the raw URI
    # "%" only in the query: the raw path still agrees with PATH_INFO.
    assert answer(app, environ("/hello", "a=%20", raw="/hello?a=%20"))[0] == 200
    # A non-ASCII path reaches the static route through _resolve's decoding.
    cafe = "/caf\u00e9".encode().decode("latin-1")
    assert answer(app, environ(cafe, raw="/caf%C3%A9")) == (200, b'{"cafe":true}')
    assert answer(app, environ(cafe, raw=""))[0] == 200


def test_query_and_cookie_views_through_the_app() -> None:
    app = App(_router())
    env = environ("/q", "page=2&limit=10", raw="/q?page=2&limit=10", HTTP_COOKIE="session=abc")
    assert answer(app, env) == (200, b'{"page":"2","session":"abc"}')
    assert answer(app, environ("/q")) == (200, b'{"page":null,"session":null}')


@pytest.mark.parametrize(
    ("path", "raw", "status", "body"),
    [
        ("/users/42", None, 200, b'{"id":"42","route":"/users/[id]"}'),
        ("/users/a-b.c", None, 200, b'{"id":"a-b.c","route":"/users/[id]"}'),
        ("/users/42", "/users/42?x=%20", 200, b'{"id":"42","route":"/users/[id]"}'),
        ("/users/a/b", "/users/a%2Fb", 200, b'{"id":"a/b","route":"/users/[id]"}'),
        ("/users/../x", "/users/..%2Fx", 400, None),
        ("/users/..", "/users/%2E%2E", 400, None),
        ("/users/" + "9" * 1025, None, 400, None),
        ("/users/" + "a-" * 600, None, 400, None),
        ("/files/a/b", None, 200, b'{"path":["a","b"]}'),
        ("/files/a/..", "/files/a/%2E%2E", 400, None),
        ("/users/a\x00b", None, 400, None),
        ("/files/" + "ab/" * 400 + "c", None, 200, None),
    ],
)
def test_param_checks_with_the_letters_and_digits_shortcut(
    path: str, raw: str | None, status: int, body: bytes | None
) -> None:
    got_status, got_body = answer(App(_router()), environ(path, raw=raw))
    assert got_status == status
    if body is not None:
        assert got_body == body


def _failing_app(monkeypatch: pytest.MonkeyPatch, **options: Any) -> App:
    app = App(_router(), **options)

    def broken(environ: dict[str, Any]) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(app, "_respond", broken)
    return app


@pytest.mark.parametrize("trusted_proxies", [0, 1])
def test_a_failing_boundary_answers_the_static_500(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, trusted_proxies: int
) -> None:
    app = _failing_app(monkeypatch, trusted_proxies=trusted_proxies)
    with caplog.at_level(logging.ERROR, logger="handlerkit"):
        status, body = answer(app, environ("/hello"))
    assert status == 500
    assert body == b'{"error":"internal_error","message":"An internal error occurred."}'
    assert "the error boundary failed" in caplog.text


def _call_handler(app: App, handler: Callable[..., Any]) -> Any:
    """Call *handler* through the App's one error boundary for handlers (_call_route)."""
    route = app.routes[0]
    route.handlers["GET"] = handler
    request = NextRequest("/hello")
    return app._call_route(route, {}, "GET", request.environ, request, RouteContext(route=route.pattern))


def test_the_handler_boundary_maps_errors_and_checks_results(caplog: pytest.LogCaptureFixture) -> None:
    app = App(_router())
    ok = NextResponse.json({"a": 1})
    assert _call_handler(app, lambda request, context: ok) is ok
    assert _call_handler(app, lambda request, context: {"a": 2}).get_data() == b'{"a":2}'

    def api_error(request: Any, context: Any) -> Any:
        raise ApiError(409, "conflict", "Taken.")

    assert _call_handler(app, api_error).status_code == 409

    def crash(request: Any, context: Any) -> Any:
        raise RuntimeError("secret detail")

    with caplog.at_level(logging.ERROR, logger="handlerkit"):
        response = _call_handler(app, crash)
    assert response.status_code == 500 and b"secret" not in response.get_data()

    def lookup(request: Any, context: Any) -> Any:
        raise KeyError("x")  # mapped like any handler's exception

    assert _call_handler(app, lookup).status_code == 500
    assert _call_handler(app, lambda request, context: None).status_code == 500


def test_handler_results_other_than_a_plain_nextresponse_take_the_checked_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router()

    class Sub(NextResponse):
        pass

    @router.route("/sub", methods=["GET"])
    def sub(request: Any) -> Any:
        return Sub("ok")

    @router.route("/next", methods=["GET"])
    def nxt(request: Any) -> Any:
        return NextResponse.next()

    @router.route("/text", methods=["GET"])
    def text(request: Any) -> Any:
        return "not a response"

    app = App(router)
    assert answer(app, environ("/sub")) == (200, b"ok")
    with caplog.at_level(logging.ERROR, logger="handlerkit"):
        assert answer(app, environ("/next"))[0] == 500
        assert answer(app, environ("/text"))[0] == 500
    assert "next() and rewrite() are for middleware.py" in caplog.text


def test_uploads_are_still_closed_after_the_inlined_call() -> None:
    router = Router()
    kept: list[Any] = []

    @router.route("/up", methods=["POST"])
    def up(request: NextRequest) -> Any:
        upload = request.form_data().get("f")
        kept.append(upload)
        return {"size": upload.size}  # type: ignore[union-attr]

    builder = EnvironBuilder(
        path="/up", method="POST", data={"f": (io.BytesIO(b"x" * 10), "a.txt")}
    )
    env = builder.get_environ()
    env["RAW_URI"] = "/up"
    assert answer(App(router), env) == (200, b'{"size":10}')
    assert kept[0].stream.closed


def test_static_and_dynamic_routes_under_a_folder_middleware(
    make_client: Callable[..., Any],
) -> None:
    client = make_client(
        {
            "api/middleware.py": (
                "from handlerkit import NextResponse\n"
                "def middleware(request):\n"
                "    return NextResponse.next(headers={'X-Ran': 'yes'})\n"
            ),
            "api/ping/route.py": "def GET():\n    return {'ping': True}\n",
            "api/users/[id]/route.py": (
                "def GET(request, context):\n    return {'id': context.params['id']}\n"
            ),
        }
    )
    static = client.get("/api/ping")
    assert static.status_code == 200 and static.headers["X-Ran"] == "yes"
    dynamic = client.get("/api/users/7")
    assert dynamic.json() == {"id": "7"} and dynamic.headers["X-Ran"] == "yes"


def test_root_and_trailing_slash_paths_after_the_segment_shortcut() -> None:
    app = App(_router())
    assert answer(app, environ("/"))[0] == 404
    slash = App(_router(), trailing_slash=True)
    assert answer(slash, environ("/users/42/"))[1] == b'{"id":"42","route":"/users/[id]"}'
    assert answer(slash, environ("//", raw="//"))[0] == 404


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_nextresponse_json_body_is_json_dumps(value: object) -> None:
    from handlerkit.response import json_dumps

    response = NextResponse.json(value)
    assert response.get_data() == json_dumps(value)
    assert response.headers["Content-Length"] == str(len(json_dumps(value)))


def test_nextresponse_json_falls_back_like_json_dumps() -> None:
    assert NextResponse.json({"s": "\ud800"}).get_data() == b'{"s":"\\ud800"}'
    assert NextResponse.json(["\ud800"]).get_data() == b'["\\ud800"]'
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference"):
        NextResponse.json({"a": cycle})
    with pytest.raises(TypeError):
        NextResponse.json({"a": object()})
