"""The route table: startup errors, match precedence with backtracking, and the segment trie."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlerkit import App, Router
from handlerkit.errors import (
    AsyncHandlerError,
    CatchAllConflictError,
    CatchAllNotLastError,
    DuplicateParamError,
    DuplicateRouteError,
    InvalidSegmentError,
    LowercaseExportError,
    NoHandlerError,
    OptionalCatchAllConflictError,
    ParamNameConflictError,
    RouteDefinitionError,
)
from handlerkit.testing import Client, write_app

H = "def GET(request, context):\n    return {'params': context.params}\n"


def _module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - test fixture code
    return module


def _router_error(paths: list[str]) -> RouteDefinitionError:
    """Declare *paths* on a Router (a GET each) and return what building the App raises."""
    router = Router()
    try:
        for path in paths:
            router.add(path, _module(f"m{len(path)}_{abs(hash(path))}", H))
        App(router)
    except RouteDefinitionError as exc:
        return exc
    pytest.fail(f"no RouteDefinitionError for {paths}")


def _tree_error(tmp_path: Path, files: dict[str, str]) -> RouteDefinitionError:
    root = write_app(tmp_path / "tree", files)
    with pytest.raises(RouteDefinitionError) as info:
        App(root)
    return info.value


def _scan_error(tmp_path: Path, files: dict[str, str]) -> RouteDefinitionError:
    root = write_app(tmp_path / "scanned", files)
    router = Router()
    with pytest.raises(RouteDefinitionError) as info:
        router.scan(root)
        App(router)
    return info.value


# (error class, app-dir files, the same routes as Router paths)
PATH_CASES = [
    pytest.param(ParamNameConflictError, ["a/[id]", "a/[slug]/x"], id="id-and-slug-siblings"),
    pytest.param(DuplicateParamError, ["a/[id]/b/[id]"], id="same-param-twice"),
    pytest.param(CatchAllNotLastError, ["a/[...rest]/b"], id="segment-after-catch-all"),
    pytest.param(
        CatchAllNotLastError, ["a/[[...rest]]/[id]"], id="segment-after-optional-catch-all"
    ),
    pytest.param(CatchAllConflictError, ["a/[...x]", "a/[[...x]]"], id="catch-all-beside-optional"),
    pytest.param(CatchAllConflictError, ["a/[[...x]]", "a/[...y]"], id="optional-beside-catch-all"),
    pytest.param(
        OptionalCatchAllConflictError, ["shop", "shop/[[...slug]]"], id="shop-and-optional"
    ),
    pytest.param(
        OptionalCatchAllConflictError, ["shop/[[...slug]]", "shop"], id="optional-and-shop"
    ),
    pytest.param(
        ParamNameConflictError, ["a/[...x]", "b", "a/[...y]"], id="catch-all-names-differ"
    ),
    pytest.param(DuplicateRouteError, ["(x)/a", "(y)/a"], id="two-groups-one-url"),
    pytest.param(DuplicateRouteError, ["d/[...x]", "(g)/d/[...x]"], id="two-catch-alls-one-url"),
]


@pytest.mark.parametrize(("error", "paths"), PATH_CASES)
def test_startup_errors_are_raised_identically_by_the_tree_and_the_router(
    tmp_path: Path, error: type[RouteDefinitionError], paths: list[str]
) -> None:
    files = {f"{p}/route.py": H for p in paths}
    from_tree = _tree_error(tmp_path, files)
    from_scan = _scan_error(tmp_path, files)
    from_router = _router_error(["/" + p for p in paths])
    assert type(from_tree) is type(from_scan) is type(from_router) is error
    # The message names every file involved.
    assert from_tree.files
    for name in from_tree.files:
        assert name.endswith("route.py")
        assert name in str(from_tree)
    involved = {
        str(Path(f).parent.relative_to((tmp_path / "tree").resolve())) for f in from_tree.files
    }
    assert involved <= set(paths)
    if error in (
        ParamNameConflictError,
        CatchAllConflictError,
        OptionalCatchAllConflictError,
        DuplicateRouteError,
    ):
        assert len(from_tree.files) == 2
        assert len(from_router.files) == 2


@pytest.mark.parametrize("folder", ["[[id]]", "[id", "id]", "[]", "[a.b]"])
def test_malformed_folder_names_are_invalid_segment_errors_everywhere(
    tmp_path: Path, folder: str
) -> None:
    from_tree = _tree_error(tmp_path, {f"a/{folder}/route.py": H})
    assert type(from_tree) is InvalidSegmentError
    assert any(folder in f for f in from_tree.files)
    with pytest.raises(InvalidSegmentError):
        Router().route(f"/a/{folder}")


def test_a_route_py_without_handlers_is_refused(tmp_path: Path) -> None:
    files = {"quiet/route.py": "HELPER = 1\n\ndef helper():\n    return None\n"}
    from_tree = _tree_error(tmp_path, files)
    assert type(from_tree) is NoHandlerError
    assert from_tree.files == (str((tmp_path / "tree" / "quiet" / "route.py").resolve()),)
    assert type(_scan_error(tmp_path, files)) is NoHandlerError
    router = Router()
    router.add("/quiet", _module("quiet_mod", files["quiet/route.py"]))
    with pytest.raises(NoHandlerError):
        App(router)


def test_lowercase_exports_say_did_you_mean(tmp_path: Path) -> None:
    files = {"low/route.py": "def get(request):\n    return {}\n"}
    from_tree = _tree_error(tmp_path, files)
    assert type(from_tree) is LowercaseExportError
    assert "did you mean GET?" in str(from_tree)
    assert "low/route.py" in str(from_tree)
    assert type(_scan_error(tmp_path, files)) is LowercaseExportError
    router = Router()
    router.add("/low", _module("low_mod", files["low/route.py"]))
    with pytest.raises(LowercaseExportError, match=r"did you mean GET\?"):
        App(router)
    with pytest.raises(LowercaseExportError, match=r"did you mean POST\?"):

        @Router().route("/low")
        def post(request: Any) -> Any:
            return {}


def test_a_route_module_may_export_anything_besides_handlers(tmp_path: Path) -> None:
    root = write_app(
        tmp_path,
        {
            "things/route.py": """
                import json
                from dataclasses import dataclass

                LIMIT = 10
                schema = {"type": "object"}
                runtime = "nodejs"  # a Next.js-only export is just a variable here

                @dataclass
                class Thing:
                    name: str

                def helper():
                    return Thing("x")

                def GET():
                    return {"name": helper().name, "limit": LIMIT, "json": json.dumps(schema)}
                """,
        },
    )
    app = App(root)
    assert app.routes[0].methods == ["GET"]
    assert Client(app).get("/things").json() == {
        "name": "x",
        "limit": 10,
        "json": '{"type": "object"}',
    }


def test_an_imported_lowercase_name_is_not_mistaken_for_a_handler(tmp_path: Path) -> None:
    root = write_app(
        tmp_path, {"ok/route.py": "from requests import get\n\ndef GET():\n    return {}\n"}
    )
    assert [r.pattern for r in App(root).routes] == ["/ok"]


def test_async_handlers_are_refused_saying_the_core_is_synchronous(tmp_path: Path) -> None:
    files = {"slow/route.py": "async def GET(request):\n    return {}\n"}
    from_tree = _tree_error(tmp_path, files)
    assert type(from_tree) is AsyncHandlerError
    assert "synchronous" in str(from_tree)
    assert "slow/route.py" in str(from_tree)
    assert type(_scan_error(tmp_path, files)) is AsyncHandlerError
    router = Router()

    @router.route("/slow")
    async def GET(request: Any) -> Any:  # noqa: N802
        return {}

    with pytest.raises(AsyncHandlerError, match="synchronous"):
        App(router)


def test_handlers_needing_more_arguments_are_refused(tmp_path: Path) -> None:
    from_tree = _tree_error(tmp_path, {"x/route.py": "def GET(a, b, c):\n    return {}\n"})
    assert "(request, context)" in str(from_tree)
    from_kw = _tree_error(
        tmp_path / "kw", {"x/route.py": "def GET(request, *, user):\n    return {}\n"}
    )
    assert "user" in str(from_kw)


def test_invalid_segment_config_is_a_startup_error(tmp_path: Path) -> None:
    error = _tree_error(tmp_path, {"x/route.py": "max_body_size = -1\n" + H})
    assert "max_body_size" in str(error)


# -- precedence -------------------------------------------------------------------------------

PRECEDENCE = {
    "users/me/route.py": "def GET():\n    return {'route': 'me'}\n",
    "users/me/settings/route.py": "def GET():\n    return {'route': 'me/settings'}\n",
    "users/[id]/route.py": "def GET(r, c):\n    return {'route': '[id]', **c.params}\n",
    "users/[id]/posts/route.py": "def GET(r, c):\n    return {'route': '[id]/posts', **c.params}\n",
    "users/[...rest]/route.py": "def GET(r, c):\n    return {'route': '[...rest]', **c.params}\n",
    "shop/s/route.py": "def GET():\n    return {'route': 'shop/s'}\n",
    "shop/[id]/route.py": "def GET(r, c):\n    return {'route': 'shop/[id]', **c.params}\n",
    "shop/[[...opt]]/route.py": (
        "def GET(r, c):\n    return {'route': 'shop/[[...opt]]', **c.params}\n"
    ),
}


@pytest.fixture(scope="module")
def precedence_client(tmp_path_factory: pytest.TempPathFactory) -> Client:
    return Client(App(write_app(tmp_path_factory.mktemp("precedence"), PRECEDENCE)))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/users/me", {"route": "me"}),
        ("/users/42", {"route": "[id]", "id": "42"}),
        ("/users/me/settings", {"route": "me/settings"}),
        # static "me" has no "posts": backtrack to [id] with id="me"
        ("/users/me/posts", {"route": "[id]/posts", "id": "me"}),
        ("/users/42/posts", {"route": "[id]/posts", "id": "42"}),
        # neither static nor [id] continue: backtrack to the catch-all
        ("/users/me/settings/extra", {"route": "[...rest]", "rest": ["me", "settings", "extra"]}),
        ("/users/42/other", {"route": "[...rest]", "rest": ["42", "other"]}),
        ("/shop/s", {"route": "shop/s"}),
        ("/shop/x", {"route": "shop/[id]", "id": "x"}),
        ("/shop/s/t", {"route": "shop/[[...opt]]", "opt": ["s", "t"]}),
        ("/shop", {"route": "shop/[[...opt]]"}),  # the key is absent when nothing matched
    ],
)
def test_precedence_static_then_param_then_catch_all_then_optional(
    precedence_client: Client, path: str, expected: dict[str, Any]
) -> None:
    response = precedence_client.get(path)
    assert response.status_code == 200
    assert response.json() == expected


def test_empty_segments_never_match_a_param(precedence_client: Client) -> None:
    assert precedence_client.get("/users//posts").status_code == 404


SEGMENT = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=1, max_size=12
).filter(lambda s: s not in (".", "..", "me"))


@settings(max_examples=60, deadline=None)
@given(first=SEGMENT, rest=st.lists(SEGMENT, min_size=1, max_size=4))
def test_precedence_is_deterministic_for_any_segments(
    precedence_client: Client, first: str, rest: list[str]
) -> None:
    assert precedence_client.get(f"/users/{first}").json() == {"route": "[id]", "id": first}
    if rest == ["posts"]:
        expected = {"route": "[id]/posts", "id": first}
    else:
        expected = {"route": "[...rest]", "rest": [first, *rest]}
    assert precedence_client.get("/users/" + "/".join([first, *rest])).json() == expected


# -- Allow -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("methods", "allow"),
    [
        (["GET"], "GET, HEAD, OPTIONS"),
        (["POST"], "OPTIONS, POST"),
        (["GET", "POST", "DELETE"], "DELETE, GET, HEAD, OPTIONS, POST"),
        (["GET", "HEAD"], "GET, HEAD, OPTIONS"),
        (["PUT", "PATCH", "OPTIONS"], "OPTIONS, PATCH, PUT"),
    ],
)
def test_allow_is_sorted_exports_plus_head_for_get_plus_options(
    methods: list[str], allow: str
) -> None:
    router = Router()
    for method in methods:
        router.route("/x", methods=[method])(lambda: {})
    assert App(router).routes[0].allow == allow


# -- the trie --------------------------------------------------------------------------------


class CountingDict(dict):  # type: ignore[type-arg]
    """A dict that counts key lookups into a shared list."""

    def __init__(self, data: dict[str, Any], counter: list[int]) -> None:
        super().__init__(data)
        self.counter = counter

    def get(self, key: Any, default: Any = None) -> Any:
        self.counter[0] += 1
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.counter[0] += 1
        return super().__getitem__(key)


def _instrument(node: Any, counter: list[int], seen: list[int]) -> None:
    seen[0] += 1
    node.static = CountingDict(node.static, counter)
    for child in list(node.static.values()):
        _instrument(child, counter, seen)
    if node.dynamic is not None:
        _instrument(node.dynamic[1], counter, seen)


def test_ten_thousand_routes_match_a_deep_dynamic_path_in_depth_many_lookups() -> None:
    router = Router()
    handler = types.SimpleNamespace(GET=lambda request, context: dict(context.params))
    for i in range(10_000):
        router.add(f"/t{i % 100}/[a]/s{i // 100}/[b]/leaf/[c]/end", handler)
    app = App(router)
    assert len(app.routes) == 10_000
    counter, nodes = [0], [0]
    _instrument(app.table._root, counter, nodes)
    assert nodes[0] > 10_000  # the trie holds every route

    path = "/t5/x/s42/y/leaf/z/end"
    depth = path.count("/")
    found = app.resolve(path)
    assert not isinstance(found, type(None))
    route, params = found  # type: ignore[misc]
    assert route.pattern == "/t5/[a]/s42/[b]/leaf/[c]/end"
    assert params == {"a": "x", "b": "y", "c": "z"}
    assert 0 < counter[0] <= depth

    counter[0] = 0
    assert Client(app).get(path).json() == {"a": "x", "b": "y", "c": "z"}
    assert 0 < counter[0] <= depth

    counter[0] = 0
    assert app.resolve("/t5/x/s42/y/leaf/z/nope") is None
    assert 0 < counter[0] <= depth + 2


def test_static_routes_are_found_in_one_dict_lookup_before_the_trie() -> None:
    router = Router()
    handler = types.SimpleNamespace(GET=lambda: {})
    for i in range(1000):
        router.add(f"/static/{i}/page", handler)
    app = App(router)
    counter, nodes = [0], [0]
    _instrument(app.table._root, counter, nodes)
    route, params = app.resolve("/static/999/page")  # type: ignore[misc]
    assert route.pattern == "/static/999/page" and params == {}
    assert counter[0] == 0


def test_an_object_with_an_async_call_is_refused_at_startup(tmp_path: Path) -> None:
    files = {
        "a/route.py": "class Handler:\n    async def __call__(self, request):\n        return {}\n"
        "GET = Handler()\n"
    }
    with pytest.raises(AsyncHandlerError):
        App(write_app(tmp_path / "app", files))
