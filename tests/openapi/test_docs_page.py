"""App(docs_path=...): the docs page's routes, its startup errors, and base_path (in process; the page itself runs in tests/browser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlerkit import App
from handlerkit.errors import RouteDefinitionError
from handlerkit.testing import Client, write_app

ROUTES = {"api/items/route.py": "def GET():\n    return {'items': []}\n"}


def test_the_page_and_its_assets_are_served_with_a_strict_policy(tmp_path: Path) -> None:
    client = Client(App(write_app(tmp_path / "app", ROUTES), openapi_path="/openapi.json", docs_path="/docs"))
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert 'data-url="/openapi.json"' in page.text and "<script>" not in page.text
    for asset, kind in (("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css"),
                        ("init.js", "text/javascript"), ("favicon-32x32.png", "image/png")):
        answer = client.get(f"/docs/{asset}")
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(kind), asset
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "/docs" not in client.get("/openapi.json").json()["paths"]
    assert client.post("/docs").status_code == 405


def test_under_a_base_path_the_page_points_inside_it(tmp_path: Path) -> None:
    app = App(write_app(tmp_path / "app", ROUTES), base_path="/v1", openapi_path="/openapi.json", docs_path="/docs")
    page = Client(app).get("/v1/docs").text
    assert 'data-url="/v1/openapi.json"' in page and 'src="/v1/docs/swagger-ui-bundle.js"' in page


def test_the_page_is_off_by_default(tmp_path: Path) -> None:
    assert Client(App(write_app(tmp_path / "app", ROUTES), openapi_path="/openapi.json")).get("/docs").status_code == 404


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"docs_path": "/docs"}, "needs openapi_path"),
        ({"docs_path": "/docs/[page]", "openapi_path": "/openapi.json"}, "must be a static path"),
        ({"docs_path": "/api/items", "openapi_path": "/openapi.json"}, "/api/items"),
    ],
)
def test_a_bad_docs_path_is_a_startup_error(tmp_path: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(RouteDefinitionError, match=message.replace("[", r"\[")):
        App(write_app(tmp_path / "app", ROUTES), **options)


def test_without_the_docs_extra_the_error_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import handlerkit.apidocs as apidocs

    def missing(name: str) -> object:
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(apidocs.resources, "files", missing)
    with pytest.raises(RouteDefinitionError, match=r"pip install 'handlerkit\[docs\]'"):
        App(write_app(tmp_path / "app", ROUTES), openapi_path="/openapi.json", docs_path="/docs")
