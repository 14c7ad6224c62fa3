"""`dynamic = "force-static"` and `dynamic = "error"`: the static request, as Next.js gives it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from handlerkit.errors import RouteDefinitionError
from handlerkit.testing import Client, make_app

ECHO = """
    from handlerkit import NextResponse

    dynamic = {mode!r}
    {revalidate}

    CALLS = []

    def GET(request):
        CALLS.append(1)
        return NextResponse.json({{
            "calls": len(CALLS),
            "search": request.next_url.search,
            "params": dict(request.next_url.search_params.items()),
            "headers": sorted(k for k, _ in request.headers.items()),
            "cookies": len(request.cookies),
            "ip": request.remote_addr,
            "pathname": request.next_url.pathname,
        }})

    def POST(request):
        return {{"posted": request.json(), "agent": request.headers.get("User-Agent")}}
"""


def app_for(tmp_path: Path, mode: str, revalidate: str = "", **options: object):  # type: ignore[no-untyped-def]
    return make_app(tmp_path / mode, {"s/route.py": ECHO.format(mode=mode, revalidate=revalidate)}, **options)


def test_force_static_gives_the_handler_no_query_headers_cookies_or_address(tmp_path: Path) -> None:
    client = Client(app_for(tmp_path, "force-static"))
    client.set_cookie("session", "abc")
    first = client.get("/s?user=ada", headers={"Authorization": "Bearer x", "Accept-Language": "fr"})
    assert first.status_code == 200
    body = first.json()
    assert body["search"] == "" and body["params"] == {}
    assert body["headers"] == [] and body["cookies"] == 0 and body["ip"] is None
    assert body["pathname"] == "/s"
    # One answer for everyone: cached, whatever the query or headers of the next client.
    again = client.get("/s?user=grace", headers={"Accept-Language": "de"})
    assert again.json()["calls"] == 1
    assert again.headers["X-Cache"] == "HIT"
    assert first.headers["Cache-Control"] == "public, s-maxage=31536000, stale-while-revalidate"


def test_force_static_with_revalidate_caches_that_long(tmp_path: Path) -> None:
    client = Client(app_for(tmp_path, "force-static", "revalidate = 30"))
    response = client.get("/s?x=1")
    assert response.headers["Cache-Control"] == "public, s-maxage=30, stale-while-revalidate"
    assert client.get("/s?x=2").json()["calls"] == 1


def test_force_static_leaves_other_methods_alone(tmp_path: Path) -> None:
    client = Client(app_for(tmp_path, "force-static"))
    response = client.post("/s", json={"a": 1}, headers={"User-Agent": "ua/1"})
    assert response.json() == {"posted": {"a": 1}, "agent": "ua/1"}


def test_dynamic_error_refuses_every_per_client_read_with_a_logged_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    route = """
        from handlerkit import NextResponse

        dynamic = "error"

        def GET(request):
            what = request.next_url.pathname.rsplit("/", 1)[-1]
            if what == "path":
                return NextResponse.json({"pathname": request.next_url.pathname})
            if what == "query":
                request.next_url.search_params.get("q")
            elif what == "header":
                request.headers.get("Accept")
            elif what == "cookie":
                request.cookies.get("session")
            return NextResponse.json({"read": what})
    """
    app = make_app(tmp_path / "error", {"e/[what]/route.py": route})
    client = Client(app)
    assert client.get("/e/path?q=1").json() == {"pathname": "/e/path"}
    source = app.routes[0].source
    expected = {
        "query": "the query",
        "header": "the Accept header",
        "cookie": "the Cookie header",
    }
    for what, said in expected.items():
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="handlerkit"):
            response = client.get(f"/e/{what}?q=1", headers={"Accept": "x"})
        assert response.status_code == 500
        assert response.json()["error"] == "internal_error"
        assert f'dynamic = "error" in {source}: the handler read {said}' in caplog.text
        assert "DynamicUsageError" in caplog.text


def test_a_static_route_with_revalidate_0_is_refused_at_startup(tmp_path: Path) -> None:
    with pytest.raises(RouteDefinitionError, match="revalidate = 0 .* contradicts it"):
        app_for(tmp_path, "force-static", "revalidate = 0")
