"""Every fast path against the slow path it shortcuts: the same inputs give the same outputs.

A shortcut lives inside the function it speeds up (docs/architecture.md); each one is
checked here on generated inputs against the general code it skips, status and headers
included. One section per pair:

- sending: ``NextResponse.__call__``'s direct send against Werkzeug's ``Response.__call__``;
- resolving: the resolver's static-route and safe-param shortcuts against the full walk;
- the query parser's no-escape branch against its decoding branch (and ``parse_qsl``);
- building a request: ``NextRequest.from_environ`` against ``NextRequest(environ)``;
- a direct call (``handlerkit.testing.respond``, a wrapped handler without a context)
  against the App's answer, CORS preflights included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from hypothesis import example, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from handlerkit import NextRequest, NextResponse
from handlerkit.request import SearchParams, parse_query

# -- sending ------------------------------------------------------------------------

HEADER_VALUES = {
    "Content-Type": st.sampled_from(["application/json", "text/plain; charset=utf-8"]),
    "X-Custom": st.sampled_from(["1", "a b", "\u00e9"]),
    "Location": st.sampled_from(["/x", "/caf\u00e9?q=a b", "http://example.com/p", "//h/x", "?p=1"]),
    "Content-Location": st.sampled_from(["/doc", "/d\u00f6c"]),
    "Cache-Control": st.just("no-store"),
    "Vary": st.just("Origin"),
}


@st.composite
def responses(draw: st.DrawFn) -> tuple[NextResponse, str]:
    body = draw(st.sampled_from([b"", b"{}", b'{"a":1}', b"x" * 300]))
    status = draw(st.sampled_from([200, 201, 202, 204, 206, 301, 304, 307, 400, 404, 500]))
    if draw(st.booleans()):
        response = NextResponse.json(None, status)
        response.set_data(body)
    else:
        response = NextResponse(body, status)
    names = draw(st.lists(st.sampled_from(sorted(HEADER_VALUES)), unique=True, max_size=4))
    for name in names:
        response.headers[name] = draw(HEADER_VALUES[name])
    if draw(st.booleans()):
        response.headers.pop("Content-Length", None)  # a handler removed it
    elif draw(st.booleans()):
        response.headers["Content-Length"] = str(len(body))
    return response, draw(st.sampled_from(["GET", "HEAD", "POST"]))


def _sent(send: Callable[..., Any], environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    started: list[Any] = []
    body = b"".join(send(environ, lambda status, headers, exc_info=None: started.append((status, headers))))
    ((status, headers),) = started
    return status, list(headers), body


@settings(max_examples=400, deadline=None)
@given(responses())
def test_the_direct_send_is_what_werkzeugs_generic_send_gives(case: tuple[NextResponse, str]) -> None:
    response, method = case
    environ = EnvironBuilder("/p", method=method).get_environ()
    fast = _sent(response, environ)
    generic = _sent(lambda e, s: Response.__call__(response, e, s), environ)
    assert fast == generic


def test_a_response_whose_handler_removed_content_length_still_sends_one() -> None:
    """Regression: the App's copy of the fast path sent none where Response.__call__ adds it."""
    response = NextResponse.json({"a": 1})
    del response.headers["Content-Length"]
    status, headers, body = _sent(response, EnvironBuilder("/").get_environ())
    assert dict(headers)["Content-Length"] == str(len(body)) == "7"


def test_a_subclass_with_its_own_header_pass_is_always_sent_the_generic_way() -> None:
    class Tagged(NextResponse):
        def get_wsgi_headers(self, environ: Any) -> Any:
            headers = super().get_wsgi_headers(environ)
            headers["X-Tagged"] = "yes"
            return headers

    _, headers, _ = _sent(Tagged.json({"a": 1}), EnvironBuilder("/").get_environ())
    assert ("X-Tagged", "yes") in headers


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){1,2}", fullmatch=True),
    st.text(st.sampled_from("abc/%?#= \u00e9\u2603&+"), max_size=12),
)
def test_location_is_encoded_as_werkzeug_encodes_it_for_hosts_idna_accepts(
    scheme: str, host: str, rest: str
) -> None:
    response = NextResponse(None, 302, {"Location": f"{scheme}://{host}/{rest}"})
    environ = EnvironBuilder("/").get_environ()
    ours = response.get_wsgi_headers(environ)
    werkzeugs = Response.get_wsgi_headers(response, environ)
    assert ours["Location"] == werkzeugs["Location"]


# -- the query parser ----------------------------------------------------------------

QUERY_PIECES = st.sampled_from(list("ab=&+;x ") + ["%C3%A9", "%e9", "%", "%2F", "%41", "\u00e9"])


@settings(max_examples=400, deadline=None)
@given(st.lists(QUERY_PIECES, max_size=14).map("".join))
def test_the_query_views_no_escape_branch_matches_the_decoding_parser(query: str) -> None:
    environ = EnvironBuilder("/", query_string=query.encode("utf-8").decode("latin-1")).get_environ()
    environ["QUERY_STRING"] = query.encode("utf-8").decode("latin-1")
    view = NextRequest(environ).next_url.search_params
    assert view.items() == SearchParams(query).items() == parse_query(query)
    assert parse_query(query) == parse_qsl(query, keep_blank_values=True, errors="replace")


# -- building a request --------------------------------------------------------------

REQUEST_VIEWS = (
    "method",
    "scheme",
    "path",
    "root_path",
    "query_string",
    "remote_addr",
    "host",
    "max_content_length",
    "secret_key",
    "base_path",
)


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["GET", "post", "PATCH"]),
    path=st.text(st.sampled_from("ab/%\u00e9 ."), max_size=10),
    query=st.text(st.sampled_from("a=b&%+\u00e9"), max_size=8),
    script=st.sampled_from(["", "/mount", "/m/"]),
    host=st.sampled_from(["localhost", "Example.COM:8080", "[::1]:80", "a..b"]),
)
@example(method="GET", path="///.", query="", script="", host="localhost")  # "////." broke the old harness
def test_from_environ_builds_the_request_the_constructor_builds(
    method: str, path: str, query: str, script: str, host: str
) -> None:
    environ = EnvironBuilder("/", method=method).get_environ()
    # PATH_INFO and HTTP_HOST set directly, as a server hands them over: the test builder
    # reads a path starting "//" as a host (and IDNA-encodes a Host header: a..b fails).
    environ.update(
        PATH_INFO=("/" + path).encode("utf-8").decode("latin-1"),
        SCRIPT_NAME=script,
        QUERY_STRING=query.encode("utf-8").decode("latin-1"),
        HTTP_HOST=host,
    )
    lazy = NextRequest.from_environ(dict(environ), "key", 512, "/base")
    eager = NextRequest(dict(environ), secret_key="key", max_body_size=512, base_path="/base")
    for name in REQUEST_VIEWS:
        assert getattr(lazy, name) == getattr(eager, name), name
    assert dict(lazy.headers) == dict(eager.headers)
    assert lazy.next_url.href == eager.next_url.href


# -- resolving: routes --explain and the App --------------------------------------------

EXPLAIN_TREE = {
    "api/posts/route.py": "def GET(request):\n    return {'list': 1}\n\ndef POST(request):\n    return {}\n",
    "api/posts/[id]/route.py": "def GET(request, context):\n    return {'id': context.params['id']}\n",
    "files/[...path]/route.py": "def GET(request, context):\n    return {'path': context.params['path']}\n",
    "posts/route.py": "def GET(request):\n    return {'posts': 1}\n",
}
EXPLAIN_APPS: dict[str, Any] = {}


def _explain_app(options: str) -> Any:
    if options not in EXPLAIN_APPS:
        import tempfile
        from pathlib import Path

        from handlerkit import App
        from handlerkit.testing import write_app

        root = write_app(Path(tempfile.mkdtemp()) / "app", EXPLAIN_TREE)
        kwargs = {
            "plain": {},
            "base": {"base_path": "/v1"},
            "slash": {"trailing_slash": True},
            "hosts": {"trusted_hosts": ["localhost"]},
        }[options]
        EXPLAIN_APPS[options] = App(root, **kwargs)
    return EXPLAIN_APPS[options]


PATH_PIECES = st.sampled_from(["api", "posts", "7", "files", "v1", "%2F", "", " ", "<", "\u00e9", "..", "%zz"])


@settings(max_examples=500, deadline=None)
@given(
    options=st.sampled_from(["plain", "base", "slash", "hosts"]),
    method=st.sampled_from(["GET", "HEAD", "OPTIONS", "POST", "DELETE", "TRACE", "QUERY", "CONNECT", "BREW"]),
    pieces=st.lists(PATH_PIECES, min_size=1, max_size=5),
    query=st.sampled_from(["", "q=a b<", "x=%41&y", "a=\u00e9"]),
)
def test_routes_explain_gives_the_status_and_location_the_app_sends(
    options: str, method: str, pieces: list[str], query: str
) -> None:
    """Regression: explain's copy of the App's steps said 501 for TRACE and QUERY (the App
    answers 405) and built another slash-redirect Location (`?q=a b<` against `?q=a%20b%3C`)."""
    from urllib.parse import quote, unquote_to_bytes

    from handlerkit.introspect import explain_request

    app = _explain_app(options)
    path = "/" + "/".join(pieces)
    url = path + (f"?{query}" if query else "")
    explained = explain_request(app, method, url)
    raw_path = quote(path, safe="/%:@!$&'()*+,;=-._~")  # what a client sends
    environ = EnvironBuilder("/", method=method).get_environ()
    environ.update(
        PATH_INFO=unquote_to_bytes(raw_path).decode("latin-1"),
        RAW_URI=raw_path + (f"?{query}" if query else ""),
        QUERY_STRING=query,
    )
    status, headers, _ = _sent(app, environ)
    if explained["outcome"] in ("handler", "head_via_get"):
        assert status.startswith("200"), (explained, status)
    else:
        assert int(status.split()[0]) == explained["status"], (explained, status)
    assert dict(headers).get("Location") == explained.get("location")
    if explained["status"] == 405:
        assert dict(headers)["Allow"].split(", ") == explained["allow"]


# -- the route context ---------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    params=st.dictionaries(st.sampled_from(["id", "slug"]), st.text(max_size=4) | st.lists(st.text(max_size=3))),
    route=st.sampled_from(["", "/users/[id]", "/docs/[...slug]"]),
)
def test_route_context_of_is_the_constructors_context(params: dict[str, Any], route: str) -> None:
    from handlerkit import RouteContext

    fast, slow = RouteContext.of(dict(params), route), RouteContext(dict(params), route=route)
    assert type(fast) is type(slow)
    assert (fast.params, fast.route, fast._state) == (slow.params, slow.route, slow._state)
    fast.state.touched = slow.state.touched = True
    assert vars(fast.state) == vars(slow.state)


# -- resolving: the shortcuts inside Resolver.route ----------------------------------

ROUTE_PIECES = st.sampled_from(["api", "posts", "7", "files", "a.b", "x", "", "..", "\u00e9", "A"])


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(ROUTE_PIECES, min_size=1, max_size=4))
def test_the_static_and_safe_param_shortcuts_match_the_full_decode(pieces: list[str]) -> None:
    """Resolver.route takes a static path straight from the table's dict and skips the param
    checks for a path that provably passes them; with an escape in the raw URI (``%61`` for
    ``a``, which decodes the same) it must take the full per-segment decode instead."""
    from urllib.parse import quote

    app = _explain_app("plain")
    path = "/" + "/".join(pieces)
    wsgi_path = path.encode("utf-8").decode("latin-1")
    fast = app.resolver.route({"PATH_INFO": wsgi_path, "RAW_URI": quote(path)}, wsgi_path)
    raw = quote(path).replace("a", "%61", 1) if "a" in quote(path) else None
    if raw is None or "%" not in raw:
        return
    slow = app.resolver.route({"PATH_INFO": wsgi_path, "RAW_URI": raw}, wsgi_path)
    if isinstance(fast, tuple):
        assert isinstance(slow, tuple) and (fast[0].pattern, fast[1]) == (slow[0].pattern, slow[1])
    else:
        assert (fast.status, fast.code) == (slow.status, slow.code)  # type: ignore[union-attr]


# -- a direct call against the App ---------------------------------------------------

DIRECT_ROUTE = """
    from handlerkit import ApiError, NextResponse, compose, with_auth, with_cors, with_logging

    def handler(request, context):
        if request.args.get("fail"):
            raise ApiError(409, "conflict", "Taken.")
        if request.args.get("dict"):
            return {"user": context.state.user["sub"]}
        return NextResponse.json({"user": context.state.user["sub"]}, 201)

    cors = with_cors(origins=["https://app.example"], credentials=True)
    GET = compose(with_logging, cors, with_auth)(handler)
    DELETE = compose(with_auth, cors)(handler)
"""

_CORS_NAMES = ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers")


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["GET", "DELETE", "OPTIONS"]),
    origin=st.sampled_from([None, "https://app.example", "https://evil.example"]),
    asked=st.sampled_from([None, "GET", "DELETE", "HEAD", "PUT", "GET, X"]),
    token=st.booleans(),
    query=st.sampled_from(["", "?fail=1", "?dict=1"]),
)
def test_a_direct_call_answers_what_the_app_sends(
    tmp_path_factory: Any, method: str, origin: str | None, asked: str | None, token: bool, query: str
) -> None:
    """handlerkit.testing.respond (and a wrapped handler called without a context) against the App."""
    from handlerkit.testing import respond
    from handlerkit.tokens import issue_token

    app = _direct_app(tmp_path_factory)
    headers = {"Access-Control-Request-Headers": "authorization"}
    if origin is not None:
        headers["Origin"] = origin
    if asked is not None:
        headers["Access-Control-Request-Method"] = asked
    if token:
        headers["Authorization"] = "Bearer " + issue_token({"sub": "ada"}, secret_key="k")
    builder = EnvironBuilder(path="/x" + query, method=method, headers=headers)
    environ = builder.get_environ()
    sent = Response.from_app(app, environ)
    route = app.routes[0]
    target = "GET" if method == "OPTIONS" and asked in (None, "HEAD") else asked if method == "OPTIONS" else method
    handler = route.exports.get(target or "")
    if method == "OPTIONS" and (origin is None or asked is None or handler is None):
        return  # the automatic OPTIONS: no handler to call directly
    assert handler is not None
    request = NextRequest(dict(environ), secret_key="k")
    for direct in (respond(handler, request), handler(NextRequest(dict(environ), secret_key="k"))):
        assert direct.status_code == sent.status_code
        assert direct.get_data() == sent.get_data()
        for name in _CORS_NAMES:
            assert direct.headers.get(name) == sent.headers.get(name), name


_DIRECT_APPS: dict[str, Any] = {}


def _direct_app(tmp_path_factory: Any) -> Any:
    from handlerkit.testing import make_app

    if "app" not in _DIRECT_APPS:
        _DIRECT_APPS["app"] = make_app(tmp_path_factory.mktemp("direct"), {"x/route.py": DIRECT_ROUTE}, secret_key="k")
    return _DIRECT_APPS["app"]
