"""The hot-path shortcuts (issue 7) give exactly the results of the generic code they replace."""

from __future__ import annotations

import gc
import io
import json
import logging
import random
import re
import types
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from handlerkit import (
    App,
    NextRequest,
    NextResponse,
    RouteContext,
    Router,
    compose,
    with_auth,
    with_cors,
    with_logging,
    with_rate_limit,
    with_validation,
)
from handlerkit.errors import RouteDefinitionError
from handlerkit.middleware.log import ACCESS_LOGGER
from handlerkit.request import RequestCookies, parse_query
from handlerkit.encoding import _json_default, json_dumps
from handlerkit.routing.tree import _match
from handlerkit.tokens import issue_token

QUERY_ALPHABET = st.sampled_from(list("ab=&+%2F41e9C3A;x ") + ["%C3%A9", "%e9", "%", "\u00e9"])
COOKIE_TOKENS = st.sampled_from(
    [
        "a",
        "b",
        "=",
        ";",
        " ",
        "\t",
        "\r",
        "\n",
        '"',
        "\\",
        "\x1c",
        "\xc2\xa0",
        "\xe2\x80\xa8",
        "\xff",
        "%1c",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(QUERY_ALPHABET, max_size=14).map("".join))
def test_parse_query_matches_parse_qsl(query: str) -> None:
    assert parse_query(query) == parse_qsl(
        query, keep_blank_values=True, encoding="utf-8", errors="replace"
    )


def _cookie_model(header: str) -> list[tuple[str, str]]:
    """RequestCookies' documented rules, written out independently of the parser (a regex per field)."""
    if not header.isascii():
        header = header.encode("latin-1", "replace").decode("utf-8", "replace")
    found: list[tuple[str, str]] = []
    for field in (m[1] for m in re.finditer(r"(?:^|;)([^;]*)", header)):
        match = re.fullmatch(r"[ \t]*([^=]*?)[ \t]*(?:=[ \t]*(.*?)[ \t]*)?", field, re.DOTALL)
        assert match is not None
        name, value = match[1], match[2] or ""
        if not name:
            continue
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            escapes = re.compile(rb"[\\]([0-3][0-7]{2}|.)", re.DOTALL)  # one backslash, then the escape
            raw = escapes.sub(
                lambda m: m[1] if len(m[1]) == 1 else bytes([int(m[1], 8)]),
                value[1:-1].encode("utf-8", "surrogateescape"),
            )
            value = raw.decode("utf-8", "replace")
        found.append((name, value))
    grouped: dict[str, list[tuple[str, str]]] = {}
    for pair in found:
        grouped.setdefault(pair[0], []).append(pair)
    return [pair for group in grouped.values() for pair in group]


@settings(max_examples=600, deadline=None)
@given(st.lists(COOKIE_TOKENS, max_size=14).map("".join))
@example('a="\\a"; b="\\054x\\\\"')  # \c is c, \054 is ",", \\ is one backslash
def test_cookie_parsing_follows_the_documented_rules_including_order_of_repeated_names(
    header: str,
) -> None:
    # The rules are handlerkit's own (RequestCookies' docstring), not whatever the
    # installed Werkzeug's parser does: 3.1.9 changed it for "\r" and for values with spaces.
    assert [(c.name, c.value) for c in RequestCookies(header)] == _cookie_model(header)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a=1; b=2", [("a", "1"), ("b", "2")]),
        ("a=b c; a=2", [("a", "b c"), ("a", "2")]),  # inner spaces kept, first wins
        ("\r", [("\r", "")]),  # only spaces and tabs are stripped
        ('=__Host-x=bad; ok=1', [("ok", "1")]),
        ('q="x\\073y\\"z"', [("q", 'x;y"z')]),
        ('q="unterminated; r=1', [("q", '"unterminated'), ("r", "1")]),
        ("flag", [("flag", "")]),
        ("a=\xc3\xa9; b=\xff", [("a", "\u00e9"), ("b", "\ufffd")]),
    ],
)
def test_cookie_parsing_pinned_examples(header: str, expected: list[tuple[str, str]]) -> None:
    assert [(c.name, c.value) for c in RequestCookies(header)] == expected


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="abcXYZ019_-.", min_size=1, max_size=8),
    # cookies.set refuses control characters (Cc); surrogates (Cs) are no text.
    st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=40),
)
def test_a_cookie_the_response_sets_reads_back_unchanged(name: str, value: str) -> None:
    response = NextResponse()
    response.cookies.set(name, value)
    (line,) = response.headers.getlist("Set-Cookie")
    sent = line.split("; ")[0]  # what a browser sends back: name=value
    cookie = RequestCookies(sent.encode("utf-8").decode("latin-1")).get(name)
    assert cookie is not None and cookie.value == value


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_json_dumps_matches_json_dumps_with_the_same_options(value: object) -> None:
    try:
        expected = json.dumps(
            value, separators=(",", ":"), ensure_ascii=False, default=_json_default
        ).encode()
    except UnicodeEncodeError:  # lone surrogates: sent escaped
        expected = json.dumps(value, separators=(",", ":"), default=_json_default).encode("ascii")
    assert json_dumps(value) == expected


def test_json_dumps_still_reports_a_cycle_as_value_error() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference"):
        json_dumps({"a": cycle})


def test_nextresponse_json_is_one_bound_method_and_builds_a_full_response() -> None:
    assert NextResponse.json is NextResponse.json
    response = NextResponse.json({"a": 1}, 201, {"X-A": "1"})
    assert response.status == "201 CREATED"
    assert response.headers.to_wsgi_list() == [
        ("Content-Type", "application/json"),
        ("Content-Length", "7"),
        ("X-A", "1"),
    ]
    response.headers["X-B"] = "2"
    assert response.headers["X-B"] == "2" and response.get_data() == b'{"a":1}'


@pytest.mark.parametrize(
    ("path", "query", "script_name", "headers"),
    [
        ("/a/b", "x=1", "", {}),
        ("/caf\u00c3\u00a9/", "q=%C3%A9", "/mount/", {"Cookie": "a=1"}),
        ("", "", "", {}),
        ("//double", "", "/m", {"X-Y": "z"}),
    ],
)
def test_lazy_request_attributes_equal_werkzeugs_eager_ones(
    path: str, query: str, script_name: str, headers: dict[str, str]
) -> None:
    environ = EnvironBuilder(method="patch", headers=headers).get_environ()
    environ.update(PATH_INFO=path, QUERY_STRING=query, SCRIPT_NAME=script_name)
    lazy = NextRequest.from_environ(dict(environ), None, 100, "")
    eager = Request(dict(environ))
    for name in ("method", "scheme", "server", "root_path", "path", "query_string", "remote_addr"):
        assert getattr(lazy, name) == getattr(eager, name), name
    assert dict(lazy.headers) == dict(eager.headers)
    assert lazy.url == eager.url


def test_route_context_state_is_made_on_first_use_and_can_be_replaced() -> None:
    context = RouteContext({"id": "1"}, route="/x/[id]")
    context.state.user = "ada"
    assert context.state.user == "ada"
    assert RouteContext(state={"a": 1}).state.a == 1
    replacement = types.SimpleNamespace(b=2)
    context.state = replacement  # type: ignore[assignment]
    assert context.state is replacement


def test_greedy_trie_walk_agrees_with_the_backtracking_search() -> None:
    rnd = random.Random(5)
    pool = ["a", "b", "[x]", "[...c]", "[[...o]]"]
    handler = types.SimpleNamespace(GET=lambda: {})
    compared = 0
    for _ in range(300):
        patterns = set()
        for _ in range(rnd.randint(1, 8)):
            parts = [rnd.choice(pool) for _ in range(rnd.randint(0, 3))]
            parts = [
                p.replace("x", f"x{i}").replace("c", f"c{i}").replace("o", f"o{i}")
                for i, p in enumerate(parts)
            ]
            patterns.add("/" + "/".join(parts))
        router = Router()
        for pattern in patterns:
            router.add(pattern, handler)
        try:
            app = App(router)
        except RouteDefinitionError:
            continue
        for _ in range(40):
            segments = [rnd.choice(["a", "b", "z", ""]) for _ in range(rnd.randint(0, 4))]
            params: dict[str, object] = {}
            route = _match(app.table._root, segments, 0, len(segments), params)
            assert app.table.match(segments) == (None if route is None else (route, params)), (
                patterns,
                segments,
            )
            compared += 1
    assert compared > 1000


class _Item(Schema):
    title = fields.String(required=True)


def test_a_request_leaves_no_reference_cycle_behind(caplog: pytest.LogCaptureFixture) -> None:
    # A request must be freed when the server drops it, not wait for the cyclic
    # garbage collector: next_url once referred back to its request, and under
    # gunicorn the collections that freed them cost endpoint C a few percent.
    # The POST runs endpoint E's five wrappers over a JSON body.
    router = Router()

    @router.route("/q/[id]", methods=["GET"])
    def read_everything(request, context):  # type: ignore[no-untyped-def]
        url = request.next_url
        session = request.cookies.get("session")
        return NextResponse.json(
            {
                "id": context.params["id"],
                "page": url.search_params.get("page"),
                "path": url.pathname,
                "href": url.href,
                "origin": url.origin,
                "session": session.value if session is not None else None,
                "ua": request.headers.get("User-Agent"),
            }
        )


    @router.route("/items", methods=["POST"])
    @compose(
        with_logging,
        with_cors(origins=["https://app.example"]),
        with_rate_limit(limit=10**6, window=60),
        with_auth(secret_key="k"),
        with_validation(body=_Item),
    )
    def create(request, context):  # type: ignore[no-untyped-def]
        return NextResponse.json({**context.state.body, "by": context.state.user["sub"]}, status=201)

    app = App(router)
    environ = EnvironBuilder(
        "/q/7?page=2", headers={"Cookie": "session=abc", "User-Agent": "t"}
    ).get_environ()
    body = b'{"title": "t"}'
    post = EnvironBuilder(
        "/items",
        method="POST",
        data=body,
        content_type="application/json",
        headers={
            "Origin": "https://app.example",
            "Authorization": "Bearer " + issue_token({"sub": "u1"}, secret_key="k"),
        },
    ).get_environ()

    def serve(base: dict[str, Any], status: str) -> dict[str, str]:
        out: list[str] = []
        request = dict(base)
        request["wsgi.input"] = io.BytesIO(body)
        answer = b"".join(app(request, lambda status, headers, exc_info=None: out.append(status)))
        assert out == [status]
        return json.loads(answer)  # type: ignore[no-any-return]

    assert serve(environ, "200 OK")["href"] == "http://localhost/q/7?page=2"
    assert serve(post, "201 CREATED") == {"title": "t", "by": "u1"}
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)  # access records are made and kept
    gc.collect()
    gc.disable()
    try:
        for _ in range(50):
            serve(environ, "200 OK")
            serve(post, "201 CREATED")
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert sum(record.name == ACCESS_LOGGER for record in caplog.records) == 50
