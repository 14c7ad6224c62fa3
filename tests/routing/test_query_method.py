"""The HTTP QUERY method (IETF httpbis "safe method with a body"), end to end.

Routing, ``Allow``, the automatic OPTIONS, ``handlerkit routes`` and ``--explain``,
OpenAPI (as the path item's ``x-query`` extension: OpenAPI 3.1 has no QUERY
operation), with_cors preflights, with_cache keyed by the body, the test client,
the Router registry and a real gunicorn socket.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from handlerkit import App, Router
from handlerkit.cli import main
from handlerkit.openapi import build_spec
from handlerkit.testing import Client, make_app, write_app
from tests.support.servers import gunicorn

SEARCH = """
    from handlerkit import compose, with_cache, with_cors

    CALLS = []

    @compose(with_cors(origins=["https://app.example"]), with_cache(ttl=60))
    def QUERY(request):
        CALLS.append(1)
        return {"query": request.json(), "calls": len(CALLS)}
"""

FILES = {
    "search/route.py": SEARCH,
    "only-get/route.py": "def GET():\n    return {}\n",
}


@pytest.fixture
def app(tmp_path: Path) -> App:
    return make_app(tmp_path / "app", FILES)


def test_a_route_exporting_only_query_builds_and_answers_with_its_body(app: App) -> None:
    client = Client(app)
    response = client.query("/search", json={"name": "ada"})
    assert response.status_code == 200
    assert response.json() == {"query": {"name": "ada"}, "calls": 1}


def test_allow_and_the_automatic_options_list_query(app: App) -> None:
    client = Client(app)
    options = client.options("/search")
    assert options.status_code == 204 and options.headers["Allow"] == "OPTIONS, QUERY"
    refused = client.get("/search")
    assert refused.status_code == 405 and refused.headers["Allow"] == "OPTIONS, QUERY"
    # A route without QUERY answers it 405 with its Allow, as for any known method.
    other = client.query("/only-get", json={})
    assert other.status_code == 405 and other.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_cache_is_keyed_by_the_body_and_its_media_type(app: App) -> None:
    client = Client(app)
    first = client.query("/search", json={"q": 1})
    assert first.headers["X-Cache"] == "MISS"
    again = client.query("/search", json={"q": 1})
    assert again.headers["X-Cache"] == "HIT" and again.json()["calls"] == 1
    other = client.query("/search", json={"q": 2})
    assert other.headers["X-Cache"] == "MISS" and other.json()["calls"] == 2
    as_text = client.query("/search", data=b'{"q": 1}', content_type="text/plain")
    assert as_text.headers.get("X-Cache") != "HIT"


def test_a_cors_preflight_for_query_is_answered_by_the_chains_policy(app: App) -> None:
    response = Client(app).options(
        "/search",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "QUERY"},
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert response.headers["Access-Control-Allow-Methods"] == "QUERY"


def test_routes_and_explain_know_query(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app_dir = write_app(tmp_path / "cli", FILES)
    assert main(["routes", str(app_dir), "--json"]) == 0
    listed = {r["pattern"]: r for r in json.loads(capsys.readouterr().out)["routes"]}
    assert listed["/search"]["methods"] == ["QUERY"]
    assert main(["routes", str(app_dir), "--explain", "QUERY", "/search", "--json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert explained["outcome"] == "handler" and explained["handler"] == "QUERY"
    assert explained["wrappers"] == ["with_cors", "with_cache"]
    assert main(["routes", str(app_dir), "--explain", "QUERY", "/only-get", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["status"] == 405


def test_openapi_describes_query_as_the_x_query_extension(app: App) -> None:
    item = build_spec(app)["paths"]["/search"]
    assert "query" not in item  # not an OpenAPI 3.1 operation
    assert item["x-query"]["operationId"] == "query_search"
    assert "requestBody" in item["x-query"] or "400" in item["x-query"]["responses"]


def test_the_router_registry_takes_query() -> None:
    router = Router()

    @router.route("/find")
    def QUERY(request):  # type: ignore[no-untyped-def]  # noqa: N802
        return {"got": request.json()}

    assert Client(App(router)).query("/find", json=[1]).json() == {"got": [1]}


def test_query_over_gunicorn(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "served", FILES)
    with gunicorn(f"handlerkit:create_app({str(app_dir)!r})") as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        body = json.dumps({"name": "grace"}).encode()
        connection.request("QUERY", "/search", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read()) == {"query": {"name": "grace"}, "calls": 1}
        connection.request("QUERY", "/search", body=body, headers={"Content-Type": "application/json"})
        cached = connection.getresponse()
        assert cached.status == 200 and cached.getheader("X-Cache") == "HIT"
        cached.read()
        connection.close()
