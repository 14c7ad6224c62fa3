"""handlerkit.testing and the pytest plugin: test requests, the Client, app-from-dict fixtures."""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from handlerkit import App, NextRequest, NextResponse, RouteContext, compose
from handlerkit.testing import Client, TestResponse, make_app, write_app

pytest_plugins = ["pytester"]


def test_next_request_takes_every_test_option() -> None:
    request = NextRequest(
        "https://api.example.com/api/users?page=2",
        method="patch",
        json={"name": "Ada"},
        headers={"Authorization": "Bearer t"},
        cookies={"session": "abc", "theme": "dark"},
    )
    assert request.method == "PATCH"
    assert request.next_url.origin == "https://api.example.com"
    assert request.next_url.search_params.get("page") == "2"
    assert request.headers["Authorization"] == "Bearer t"
    assert [c.value for c in request.cookies] == ["abc", "dark"]
    assert request.json() == {"name": "Ada"}


def test_next_request_with_raw_data_and_content_type() -> None:
    request = NextRequest("/x", method="POST", data="a,b\n1,2", content_type="text/csv")
    assert request.mimetype == "text/csv"
    assert request.text() == "a,b\n1,2"


def test_next_request_with_form_and_files() -> None:
    request = NextRequest(
        "/upload",
        method="POST",
        form={"title": "T"},
        files={"doc": (b"%PDF-1.7", "report.pdf", "application/pdf"), "raw": b"plain bytes"},
    )
    assert request.mimetype == "multipart/form-data"
    form = request.form_data()
    assert form.get("title") == "T"
    doc = form.get("doc")
    assert doc is not None and not isinstance(doc, str)
    assert (doc.name, doc.content_type, doc.read()) == (
        "report.pdf",
        "application/pdf",
        b"%PDF-1.7",
    )


def test_next_request_headers_may_be_pairs() -> None:
    request = NextRequest("/x", headers=[("X-A", "1"), ("X-A", "2")])
    assert request.headers["X-A"] == "1, 2"  # WSGI joins repeated headers


def test_route_context_defaults_and_state() -> None:
    context = RouteContext()
    assert (context.params, context.route) == ({}, "")
    with pytest.raises(AttributeError):
        _ = context.state.user
    seeded = RouteContext({"id": "7"}, route="/users/[id]", state={"user": "ada"})
    assert seeded.params == {"id": "7"} and seeded.state.user == "ada"
    seeded.state.request_id = "r1"
    assert seeded.state.request_id == "r1"
    assert "id" in repr(seeded)


def test_handlers_are_called_directly_in_tests() -> None:
    def GET(request: NextRequest, context: RouteContext) -> NextResponse:  # noqa: N802
        return NextResponse.json(
            {"id": context.params["id"], "q": request.next_url.search_params.get("q")}
        )

    def SEARCH(request: NextRequest) -> NextResponse:  # noqa: N802
        return NextResponse.json({"q": request.next_url.search_params.get("q")})

    response = GET(NextRequest("/users/7?q=x"), RouteContext(params={"id": "7"}))
    assert response.status_code == 200 and response.json() == {"id": "7", "q": "x"}
    assert SEARCH(NextRequest("/s?q=y")).json() == {"q": "y"}


def _with_header(handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)
    def wrapped(request: NextRequest, context: RouteContext | None = None) -> NextResponse:
        context = context if context is not None else RouteContext()
        response = handler(request, context)
        response.headers["X-Wrapped"] = "yes"
        return response

    return wrapped


def test_wrapped_handlers_are_called_with_or_without_a_context() -> None:
    @compose(_with_header)
    def GET(request: NextRequest, context: RouteContext) -> NextResponse:  # noqa: N802
        return NextResponse.json({"params": context.params})

    plain = GET(NextRequest("/x"))
    assert plain.headers["X-Wrapped"] == "yes" and plain.json() == {"params": {}}
    with_context = GET(NextRequest("/x/1"), RouteContext(params={"id": "1"}))
    assert with_context.json() == {"params": {"id": "1"}}

    @compose(_with_header)
    def NO_ARGS() -> NextResponse:  # noqa: N802
        return NextResponse.json({"ok": True})

    assert NO_ARGS(NextRequest("/x")).json() == {"ok": True}


def test_client_responses_read_like_fetch(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        {
            "items/route.py": """
            from handlerkit import NextResponse

            def POST(request):
                body = {"got": request.json()}
                response = NextResponse.json(body, status=201, headers={"X-Id": "9"})
                response.cookies.set("last", "9", http_only=True)
                return response
            """,
            "text/route.py": (
                "from handlerkit import NextResponse\n"
                "def GET():\n"
                "    return NextResponse('héllo')\n"
            ),
        },
    )
    client = Client(app)
    response = client.post("/items", json={"a": 1})
    assert isinstance(response, TestResponse)
    assert response.status_code == 201
    assert response.headers["X-Id"] == "9"
    assert response.json() == {"got": {"a": 1}}
    cookie = response.cookies.get("last")
    assert cookie is not None and cookie.value == "9" and cookie.http_only
    assert response.cookies.has("last") and len(response.cookies) == 1
    assert client.get("/text").text == "héllo"


def test_client_keeps_cookies_between_requests_like_a_browser(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        {
            "set/route.py": (
                "from handlerkit import NextResponse\n"
                "def GET():\n"
                "    r = NextResponse.json({})\n"
                "    r.cookies.set('k', 'v')\n"
                "    return r\n"
            ),
            "get/route.py": (
                "def GET(request):\n"
                "    c = request.cookies.get('k')\n"
                "    return {'k': c.value if c else None}\n"
            ),
        },
    )
    client = Client(app)
    assert client.get("/get").json() == {"k": None}
    client.get("/set")
    assert client.get("/get").json() == {"k": "v"}


def test_client_wraps_any_wsgi_app() -> None:
    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"plain": "wsgi"}']

    assert Client(wsgi).get("/").json() == {"plain": "wsgi"}


def test_write_app_dedents_sources_and_creates_folders(tmp_path: Path) -> None:
    root = write_app(
        tmp_path / "app",
        {
            "a/[id]/route.py": """
            def GET():
                return {}
            """,
        },
    )
    assert root == tmp_path / "app"
    text = (root / "a" / "[id]" / "route.py").read_text()
    assert text == "def GET():\n    return {}\n"
    assert write_app(tmp_path / "empty", {}).is_dir()


def test_make_app_builds_an_app_with_options(tmp_path: Path) -> None:
    app = make_app(
        tmp_path, {"route.py": "def GET():\n    return {'root': True}\n"}, base_path="/v1"
    )
    assert isinstance(app, App) and app.base_path == "/v1"
    assert Client(app).get("/v1").json() == {"root": True}


def test_make_app_fixture_writes_under_tmp_path(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    first = make_app({"route.py": "def GET():\n    return {'n': 1}\n"})
    second = make_app({"route.py": "def GET():\n    return {'n': 2}\n"}, trailing_slash=True)
    assert first.app_dir != second.app_dir
    assert Path(first.app_dir).is_relative_to(tmp_path)  # type: ignore[arg-type]
    assert Client(first).get("/").json() == {"n": 1}
    assert second.trailing_slash


def test_make_client_fixture_returns_a_client(make_client: Callable[..., Client]) -> None:
    client = make_client(
        {"ping/route.py": "def GET():\n    return {'pong': True}\n"}, base_path="/api"
    )
    assert isinstance(client, Client)
    assert client.get("/api/ping").json() == {"pong": True}


def test_the_plugin_is_opt_in_through_pytest_plugins(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["handlerkit.pytest_plugin"]\n')
    pytester.makepyfile(
        textwrap.dedent(
            """
        def test_uses_fixtures(make_client):
            client = make_client({"hello/route.py": "def GET():\\n    return {'hi': 1}\\n"})
            assert client.get("/hello").json() == {"hi": 1}
        """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_without_the_plugin_the_fixtures_do_not_exist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_needs(make_client):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'make_client' not found*"])
