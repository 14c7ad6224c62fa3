"""Router: routes declared in code, served by App(router) through the file tree's table."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from handlerkit import App, NextRequest, NextResponse, RouteContext, Router
from handlerkit.errors import DuplicateRouteError, ParamNameConflictError, RouteDefinitionError
from handlerkit.testing import Client, write_app


def test_decorated_functions_are_routed_by_their_names() -> None:
    router = Router()

    @router.route("/api/users/[id]")
    def GET(request: NextRequest, context: RouteContext) -> NextResponse:  # noqa: N802
        return NextResponse.json({"id": context.params["id"], "route": context.route})

    @router.route("/api/users/[id]")
    def DELETE() -> NextResponse:  # noqa: N802
        return NextResponse(None, 204)

    client = Client(App(router))
    assert client.get("/api/users/7").json() == {"id": "7", "route": "/api/users/[id]"}
    deleted = client.delete("/api/users/7")
    assert deleted.status_code == 204 and deleted.data == b""
    refused = client.put("/api/users/7")
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS"


def test_the_decorator_returns_the_function_unchanged() -> None:
    router = Router()

    def GET() -> dict[str, str]:  # noqa: N802
        return {}

    assert router.route("/x")(GET) is GET


def test_methods_option_registers_any_function_name_for_several_methods() -> None:
    router = Router()

    @router.route("/items", methods=["get", "POST"])
    def items(request: NextRequest) -> dict[str, str]:
        return {"method": request.method}

    client = Client(App(router))
    assert client.get("/items").json() == {"method": "GET"}
    assert client.post("/items").json() == {"method": "POST"}
    assert client.options("/items").headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_a_function_not_named_after_a_method_is_refused_at_declaration() -> None:
    router = Router()
    with pytest.raises(RouteDefinitionError, match="methods=") as info:

        @router.route("/x")
        def list_items() -> dict[str, str]:
            return {}

    assert info.value.files and info.value.files[0].endswith("test_router.py")
    with pytest.raises(RouteDefinitionError, match="BREW"):
        router.route("/x", methods=["BREW"])(lambda: {})


def test_registering_a_method_twice_names_both_sources() -> None:
    router = Router()
    router.route("/x", methods=["GET"])(lambda: {})
    with pytest.raises(RouteDefinitionError, match="registered twice") as info:
        router.route("/x", methods=["GET"])(lambda: {})
    assert len(info.value.files) == 2


def test_add_registers_a_module_or_any_object_exporting_methods() -> None:
    module = types.ModuleType("posts_routes")
    exec(  # noqa: S102 - test fixture code
        "def GET(request, context):\n    return {'post': context.params['id']}\n"
        "def PATCH(request, context):\n    return {'patched': request.json()}\n",
        module.__dict__,
    )

    class Health:
        @staticmethod
        def GET() -> dict[str, bool]:  # noqa: N802
            return {"ok": True}

    router = Router()
    router.add("/posts/[id]", module)
    router.add("/health", Health)
    router.add("/(internal)/ping", types.SimpleNamespace(GET=lambda: {"pong": True}))
    client = Client(App(router))
    assert client.get("/posts/3").json() == {"post": "3"}
    assert client.patch("/posts/3", json={"t": 1}).json() == {"patched": {"t": 1}}
    assert client.get("/health").json() == {"ok": True}
    assert client.get("/ping").json() == {"pong": True}


def test_scan_registers_a_route_tree_under_an_optional_prefix(tmp_path: Path) -> None:
    root = write_app(
        tmp_path,
        {
            "users/route.py": "def GET():\n    return {'users': []}\n",
            "users/[id]/route.py": "def GET(r, c):\n    return {'id': c.params['id']}\n",
        },
    )
    router = Router()
    router.scan(root, prefix="/v1")
    router.scan(root, prefix="/v2")

    @router.route("/")
    def GET() -> dict[str, str]:  # noqa: N802
        return {"root": "yes"}

    client = Client(App(router))
    assert client.get("/v1/users").json() == {"users": []}
    assert client.get("/v2/users/9").json() == {"id": "9"}
    assert client.get("/").json() == {"root": "yes"}
    assert client.get("/users").status_code == 404


def test_router_and_scanned_tree_share_one_set_of_conflict_checks(tmp_path: Path) -> None:
    root = write_app(
        tmp_path,
        {
            "users/route.py": "def GET():\n    return {}\n",
            "posts/[id]/route.py": "def GET():\n    return {}\n",
        },
    )
    router = Router()
    router.scan(root)
    router.route("/users", methods=["POST"])(lambda: {})
    with pytest.raises(DuplicateRouteError) as info:
        App(router)
    assert str(root.resolve() / "users" / "route.py") in info.value.files

    other = Router()
    other.scan(root)
    other.route("/posts/[slug]/x", methods=["GET"])(lambda: {})
    with pytest.raises(ParamNameConflictError):
        App(other)


def test_router_paths_use_the_folder_syntax() -> None:
    router = Router()
    router.route("/docs/[...slug]", methods=["GET"])(lambda request, context: dict(context.params))
    router.route("/shop/[[...slug]]", methods=["GET"])(
        lambda request, context: dict(context.params)
    )
    router.route("/%5Fnext/x", methods=["GET"])(lambda: {"literal": "_next"})
    client = Client(App(router))
    assert client.get("/docs/a/b").json() == {"slug": ["a", "b"]}
    assert client.get("/shop").json() == {}
    assert client.get("/shop/a").json() == {"slug": ["a"]}
    assert client.get("/_next/x").json() == {"literal": "_next"}


def test_a_router_can_be_built_into_several_apps() -> None:
    router = Router()
    router.route("/x", methods=["GET"])(lambda: {"x": 1})
    first, second = App(router), App(router, base_path="/api")
    assert Client(first).get("/x").json() == {"x": 1}
    assert Client(second).get("/api/x").json() == {"x": 1}


def test_handler_signatures_work_through_the_router() -> None:
    router = Router()
    router.route("/none", methods=["GET"])(lambda: {"args": 0})
    router.route("/one", methods=["GET"])(lambda request: {"args": 1, "path": request.path})
    router.route("/two/[id]", methods=["GET"])(
        lambda request, context: {"args": 2, **context.params}
    )
    client = Client(App(router))
    assert client.get("/none").json() == {"args": 0}
    assert client.get("/one").json() == {"args": 1, "path": "/one"}
    assert client.get("/two/5").json() == {"args": 2, "id": "5"}
