"""handlerkit.openapi: the document built from the route table, validated as OpenAPI 3.1."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from handlerkit import App
from handlerkit.errors import DuplicateRouteError, RouteDefinitionError
from handlerkit.cli import main as cli_main
from handlerkit.openapi import build_spec, declared_responses, responses
from handlerkit.testing import Client
from handlerkit.tokens import issue_token
from tests.openapi import richapp


def main(argv: list[str]) -> int:
    """``handlerkit openapi ARGV`` (the command lives in handlerkit.cli)."""
    return cli_main(["openapi", *argv])
from tests.support.servers import ROOT


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return richapp.write(tmp_path / "app")


@pytest.fixture
def spec(app_dir: Path) -> dict[str, Any]:
    document = build_spec(App(app_dir, secret_key=richapp.SECRET), title="Items", version="1.2.3")
    validate(document)
    return document


def test_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.1.0"
    assert spec["info"] == {"title": "Items", "version": "1.2.3"}


def test_validator_rejects_a_broken_document(spec: dict[str, Any]) -> None:
    # The validator is real: a path item missing its declared path param is refused.
    spec["paths"]["/items/{id}"].pop("parameters")
    with pytest.raises(OpenAPIValidationError):
        validate(spec)


def test_one_path_item_per_route_with_braced_params(spec: dict[str, Any]) -> None:
    assert sorted(spec["paths"]) == [
        "/files/{path}",
        "/items",
        "/items/{id}",
        "/ping",
        "/shop",
        "/shop/{slug}",
    ]
    assert spec["paths"]["/items/{id}"]["x-handlerkit-route"] == "/items/[id]"
    (param,) = spec["paths"]["/items/{id}"]["parameters"]
    assert param["in"] == "path" and param["name"] == "id" and param["required"] is True
    assert "x-handlerkit-catch-all" not in param


def test_catch_alls_are_described_honestly(spec: dict[str, Any]) -> None:
    (path,) = spec["paths"]["/files/{path}"]["parameters"]
    assert path["x-handlerkit-catch-all"] == "required"
    assert "cannot contain `/`" in path["description"]
    (slug,) = spec["paths"]["/shop/{slug}"]["parameters"]
    assert slug["x-handlerkit-catch-all"] == "optional"
    # The optional catch-all also answers the bare path, described as its own path item.
    bare = spec["paths"]["/shop"]
    assert bare["x-handlerkit-optional-catch-all"] == "slug"
    assert bare["x-handlerkit-route"] == "/shop/[[...slug]]"
    assert "parameters" not in bare or bare["parameters"] == []


def _methods(document: dict[str, Any], path: str) -> list[str]:
    return sorted(
        k for k in document["paths"][path] if not k.startswith("x-") and k != "parameters"
    )


def test_methods_are_the_exports_plus_automatic_head(spec: dict[str, Any]) -> None:
    assert _methods(spec, "/items") == ["get", "head", "post"]
    assert _methods(spec, "/items/{id}") == ["delete", "get", "head", "patch"]
    head = spec["paths"]["/items/{id}"]["head"]
    assert all("content" not in r for r in head["responses"].values())
    assert set(head["responses"]) == set(spec["paths"]["/items/{id}"]["get"]["responses"])
    delete = spec["paths"]["/items/{id}"]["delete"]
    assert "security" not in head and delete["security"] == [{"bearerAuth": []}]


def test_automatic_options_is_opt_in(app_dir: Path) -> None:
    document = build_spec(App(app_dir), automatic_methods=("HEAD", "OPTIONS"))
    validate(document)
    assert _methods(document, "/items/{id}") == ["delete", "get", "head", "options", "patch"]
    options = document["paths"]["/items/{id}"]["options"]
    assert options["responses"]["204"]["headers"]["Allow"]["required"] is True
    assert "400" in options["responses"]  # invalid_param on a route with params
    bare = build_spec(App(app_dir), automatic_methods=())
    assert _methods(bare, "/items") == ["get", "post"]


def test_query_params_and_request_body_come_from_with_validation(spec: dict[str, Any]) -> None:
    get = spec["paths"]["/items"]["get"]
    params = {p["name"]: p for p in get["parameters"]}
    assert set(params) == {"limit", "name"}
    assert all(p["in"] == "query" for p in params.values())
    assert params["limit"]["schema"]["maximum"] == 50
    body = spec["paths"]["/items"]["post"]["requestBody"]
    assert body["required"] is True
    ref = body["content"]["application/json"]["schema"]["$ref"]
    item_in = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert item_in["required"] == ["name", "price"]
    assert item_in["additionalProperties"] is False  # unknown=RAISE


def test_declared_responses_and_framework_errors(spec: dict[str, Any]) -> None:
    post = spec["paths"]["/items"]["post"]["responses"]
    # 201/409 declared; 401 with_auth; 429 with_rate_limit; 400/413/415/422 with_validation
    assert sorted(post) == ["201", "400", "401", "409", "413", "415", "422", "429"]
    assert (
        post["201"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Item"
    )
    error = {"$ref": "#/components/schemas/Error"}
    assert all(
        post[s]["content"]["application/json"]["schema"] == error for s in post if s != "201"
    )
    assert "WWW-Authenticate" in post["401"]["headers"]
    assert "Retry-After" in post["429"]["headers"]
    patch = spec["paths"]["/items/{id}"]["patch"]["responses"]
    assert {"401", "403", "404", "400", "422", "415", "413"} <= set(
        patch
    )  # roles -> 403, params -> 404
    delete = spec["paths"]["/items/{id}"]["delete"]["responses"]
    assert sorted(delete) == ["204", "400", "401", "404", "414"]
    assert "content" not in delete["414"]  # gunicorn's own page, before the app
    assert "content" not in delete["204"]
    get_list = spec["paths"]["/items"]["get"]["responses"]
    assert sorted(get_list) == [
        "200",
        "414",
        "422",
    ]  # query validation only: no auth, body or path params
    assert "405" not in post  # an exported method never answers 405; see docs/openapi.md


def test_undeclared_handler_gets_a_success_range(spec: dict[str, Any]) -> None:
    assert sorted(spec["paths"]["/ping"]["get"]["responses"]) == ["2XX"]


def test_error_component_is_the_one_shape(spec: dict[str, Any]) -> None:
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message"]
    assert set(error["properties"]) == {"error", "message", "details"}


def test_bearer_security_wherever_with_auth_is_in_the_chain(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    paths = spec["paths"]
    assert paths["/items"]["post"]["security"] == [{"bearerAuth": []}]
    assert paths["/items/{id}"]["delete"]["security"] == [{"bearerAuth": []}]
    assert "security" not in paths["/items"]["get"]
    assert "security" not in paths["/items/{id}"]["get"]


def test_app_level_wrap_counts_as_part_of_the_chain(app_dir: Path) -> None:
    from handlerkit import with_auth

    document = build_spec(App(app_dir, wrap=with_auth))
    assert document["paths"]["/ping"]["get"]["security"] == [{"bearerAuth": []}]
    assert "401" in document["paths"]["/ping"]["get"]["responses"]


def test_summaries_and_descriptions_come_from_docstrings(spec: dict[str, Any]) -> None:
    get = spec["paths"]["/items"]["get"]
    assert get["summary"] == "List items."
    assert get["description"] == "Filtered by exact name; at most ``limit`` items."
    # The docstring of the innermost function, through compose and the adapter layer.
    assert spec["paths"]["/items"]["post"]["summary"] == "Create an item."
    assert "summary" not in spec["paths"]["/ping"]["get"]


def test_operation_ids_are_unique(spec: dict[str, Any]) -> None:
    ids = [
        op["operationId"]
        for item in spec["paths"].values()
        for key, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(ids) == len(set(ids))
    assert spec["paths"]["/items/{id}"]["get"]["operationId"] == "get_items_id"


def test_a_new_route_appears_without_other_changes(app_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(app_dir, copy)
    before = build_spec(App(copy))
    route = copy / "orders" / "[order_id]" / "route.py"
    route.parent.mkdir(parents=True)
    route.write_text('def DELETE(request, context):\n    """Cancel an order."""\n    return {}\n')
    after = build_spec(App(copy))
    validate(after)
    assert "/orders/{order_id}" not in before["paths"]
    added = after["paths"]["/orders/{order_id}"]
    assert added["delete"]["summary"] == "Cancel an order."
    assert set(after["paths"]) - set(before["paths"]) == {"/orders/{order_id}"}


def test_base_path_and_trailing_slash(app_dir: Path) -> None:
    document = build_spec(App(app_dir, base_path="/api", trailing_slash=True))
    assert document["servers"] == [{"url": "/api"}]
    assert "/items/{id}/" in document["paths"]
    validate(document)


def test_responses_marker_adds_no_behaviour() -> None:
    def handler(request: Any, context: Any) -> Any:
        return {"x": 1}

    marked = responses({200: None, "2xx": None})(handler)
    assert marked is handler
    assert declared_responses(marked) == {"200": None, "2XX": None}


@pytest.mark.parametrize("status", [99, 600, "abc", True, "6XX"])
def test_responses_refuses_what_is_not_a_status(status: Any) -> None:
    with pytest.raises(RouteDefinitionError):
        responses({status: None})


# -- the blog example ------------------------------------------------------------

BLOG = ROOT / "examples" / "blog"


@pytest.fixture
def blog_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOG_DB", str(tmp_path / "blog.sqlite3"))
    monkeypatch.setenv("BLOG_SECRET_KEY", "openapi-test")
    monkeypatch.setenv("BLOG_PBKDF2_ITERATIONS", "1000")


@pytest.mark.usefixtures("blog_env")
def test_blog_document_is_valid_openapi_3_1() -> None:
    document = build_spec(App(BLOG), title="Blog", version="1.0.0")
    validate(document)
    paths = document["paths"]
    assert sorted(paths) == [
        "/api/auth/login",
        "/api/auth/logout",
        "/api/posts",
        "/api/posts/{slug}",
    ]
    create = paths["/api/posts"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PostCreate"
    }
    assert create["security"] == [{"bearerAuth": []}, {"cookie_blog_token": []}]
    assert document["components"]["securitySchemes"]["cookie_blog_token"]["in"] == "cookie"
    assert sorted(create["responses"]) == ["201", "400", "401", "409", "413", "415", "422"]
    assert sorted(paths["/api/posts/{slug}"]["delete"]["responses"]) == [
        "204",
        "400",
        "401",
        "403",
        "404",
        "414",
    ]
    assert "429" in paths["/api/auth/login"]["post"]["responses"]  # with_rate_limit on login
    assert {p["name"] for p in paths["/api/posts"]["get"]["parameters"]} == {
        "page",
        "limit",
        "tag",
        "published",
    }
    post = document["components"]["schemas"]["Post"]
    assert post["properties"]["publishedAt"]["type"] == ["string", "null"]  # 3.1 nullability


@pytest.mark.usefixtures("blog_env")
def test_a_route_added_to_a_copy_of_the_blog_appears(tmp_path: Path) -> None:
    copy = tmp_path / "blog"
    shutil.copytree(BLOG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = build_spec(App(copy))
    route = copy / "api" / "posts" / "[slug]" / "comments" / "route.py"
    route.parent.mkdir()
    route.write_text(
        "from handlerkit import with_auth\n\n\n"
        "@with_auth\n"
        "def POST(request, context):\n"
        '    """Comment on a post."""\n'
        "    return {}\n"
    )
    after = build_spec(App(copy))
    validate(after)
    assert set(after["paths"]) - set(before["paths"]) == {"/api/posts/{slug}/comments"}
    added = after["paths"]["/api/posts/{slug}/comments"]
    assert added["post"]["summary"] == "Comment on a post."
    assert added["post"]["security"] == [{"bearerAuth": []}]
    assert added["parameters"][0]["name"] == "slug"
    assert {k: v for k, v in after["paths"].items() if k in before["paths"]} == before["paths"]


# -- the opt-in route ------------------------------------------------------------


def test_openapi_path_serves_the_cached_document(app_dir: Path) -> None:
    app = App(app_dir, openapi_path="/openapi.json", openapi_options={"title": "Items"})
    client = Client(app)
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    document = response.json()
    validate(document)
    assert document["info"]["title"] == "Items"
    assert "/openapi.json" not in document["paths"]  # it describes the app, not itself
    assert client.post("/openapi.json").status_code == 405
    assert client.post("/openapi.json").headers["Allow"] == "GET, HEAD, OPTIONS"
    assert client.get("/items").status_code == 200  # the other routes are untouched


def test_openapi_path_is_off_by_default(app_dir: Path) -> None:
    assert Client(App(app_dir)).get("/openapi.json").status_code == 404


def test_openapi_path_conflicting_with_a_route_fails_fast(app_dir: Path) -> None:
    with pytest.raises(DuplicateRouteError):
        App(app_dir, openapi_path="/ping")


def test_openapi_path_must_be_static(app_dir: Path) -> None:
    with pytest.raises(RouteDefinitionError):
        App(app_dir, openapi_path="/docs/[name]")


# -- the CLI ----------------------------------------------------------------------


def test_main_prints_json(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(app_dir), "--title", "Items"]) == 0
    document = json.loads(capsys.readouterr().out)
    validate(document)
    assert document["info"]["title"] == "Items"


def test_main_prints_yaml(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(app_dir), "--format", "yaml"]) == 0
    document = yaml.safe_load(capsys.readouterr().out)
    validate(document)
    assert "/items/{id}" in document["paths"]


def test_main_reports_a_broken_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "route.py").write_text("def get(request):\n    return {}\n")
    assert main([str(tmp_path)]) == 1
    assert "route.py" in capsys.readouterr().err


def test_main_writes_to_a_file_and_reports_an_unwritable_one(
    app_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "spec.json"
    assert main([str(app_dir), "-o", str(target)]) == 0
    validate(json.loads(target.read_text(encoding="utf-8")))
    capsys.readouterr()
    missing = tmp_path / "no" / "such" / "dir" / "x.json"
    assert main([str(app_dir), "-o", str(missing)]) == 1
    captured = capsys.readouterr()
    assert "cannot write" in captured.err and str(missing) in captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert not missing.parent.exists()


def test_handlerkit_openapi_command(app_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "handlerkit.cli", "openapi", str(app_dir), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    validate(json.loads(done.stdout))


def test_token_for_the_rich_app_is_accepted(app_dir: Path) -> None:
    # Sanity for the schemathesis run: the header it sends really authenticates.
    token = issue_token({"sub": "tester", "roles": ["admin"]}, secret_key=richapp.SECRET)
    client = Client(App(app_dir, secret_key=richapp.SECRET))
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/items", json={"name": "second", "price": 3}, headers=headers)
    assert created.status_code == 201, created.text
    assert client.post("/items", json={"name": "third", "price": 3}).status_code == 401


def test_router_apps_lists_and_raw_json_schemas() -> None:
    from marshmallow import Schema, fields

    from handlerkit import Router

    class Thing(Schema):
        name = fields.String(required=True)

    router = Router()

    @router.route("/things")
    @responses({200: Thing(many=True), 202: {"type": "object", "required": ["job"]}})
    def GET(request: Any) -> Any:  # noqa: N802 - a route handler
        return []

    document = build_spec(App(router))
    validate(document)
    answers = document["paths"]["/things"]["get"]["responses"]
    assert answers["200"]["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Thing"},
    }
    assert answers["202"]["content"]["application/json"]["schema"] == {
        "type": "object",
        "required": ["job"],
    }
