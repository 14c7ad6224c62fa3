"""Loading route modules by path: unique stable names, relative imports, no collisions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from handlerkit import App
from handlerkit.errors import RouteDefinitionError
from handlerkit.routing.loader import load_file, package_root
from handlerkit.testing import Client, write_app


def test_helpers_beside_a_route_import_with_relative_imports(tmp_path: Path) -> None:
    app = App(
        write_app(
            tmp_path,
            {
                "lib/__init__.py": "",
                "lib/db.py": "ROWS = {'1': 'Ada'}\n",
                "users/[id]/helpers.py": "def shout(text):\n    return text.upper()\n",
                "users/[id]/route.py": """
            from ...lib import db
            from .helpers import shout

            def GET(request, context):
                return {"name": shout(db.ROWS[context.params["id"]])}
            """,
                "(group)/_private/util.py": "VALUE = 'from a private folder'\n",
                "(group)/about/route.py": """
            from .._private.util import VALUE

            def GET():
                return {"value": VALUE}
            """,
            },
        )
    )
    client = Client(app)
    assert client.get("/users/1").json() == {"name": "ADA"}
    assert client.get("/about").json() == {"value": "from a private folder"}


def test_one_level_up_relative_import(tmp_path: Path) -> None:
    app = App(
        write_app(
            tmp_path,
            {
                "api/lib/db.py": "NAME = 'db one level up'\n",
                "api/items/route.py": """
            from ..lib import db

            def GET():
                return {"db": db.NAME}
            """,
            },
        )
    )
    assert Client(app).get("/api/items").json() == {"db": "db one level up"}


def test_two_apps_over_two_directories_do_not_collide(tmp_path: Path) -> None:
    files = {
        "users/helpers.py": "WHO = {who!r}\n",
        "users/route.py": """
            from .helpers import WHO

            def GET():
                return {"who": WHO}
            """,
    }
    first = App(
        write_app(tmp_path / "one", {k: v.replace("{who!r}", "'one'") for k, v in files.items()})
    )
    second = App(
        write_app(tmp_path / "two", {k: v.replace("{who!r}", "'two'") for k, v in files.items()})
    )
    assert Client(first).get("/users").json() == {"who": "one"}
    assert Client(second).get("/users").json() == {"who": "two"}
    assert first.routes[0].exports["GET"].__module__ != second.routes[0].exports["GET"].__module__


def test_module_names_are_stable_importable_identifiers(tmp_path: Path) -> None:
    root = write_app(tmp_path, {"(g)/users/[id]/route.py": "def GET():\n    return {}\n"})
    module = load_file(root, root / "(g)" / "users" / "[id]" / "route.py")
    assert module.__name__.startswith(package_root(root) + ".")
    assert all(part.isidentifier() for part in module.__name__.split("."))
    assert sys.modules[module.__name__] is module
    assert package_root(root) == package_root(Path(str(root)))


def test_similar_folder_names_get_distinct_module_names(tmp_path: Path) -> None:
    root = write_app(
        tmp_path,
        {
            "a_b/route.py": "X = 1\ndef GET():\n    return {}\n",
            "a-b/route.py": "X = 2\ndef GET():\n    return {}\n",
            "[a]b/x.py": "",
        },
    )
    one = load_file(root, root / "a_b" / "route.py")
    two = load_file(root, root / "a-b" / "route.py")
    assert one.__name__ != two.__name__
    assert (one.X, two.X) == (1, 2)


def test_a_new_app_reimports_changed_sources(tmp_path: Path) -> None:
    root = write_app(tmp_path, {"v/route.py": "def GET():\n    return {'v': 1}\n"})
    assert Client(App(root)).get("/v").json() == {"v": 1}
    write_app(root, {"v/route.py": "def GET():\n    return {'v': 2}\n"})
    assert Client(App(root)).get("/v").json() == {"v": 2}


def test_an_import_error_names_the_file_and_chains_the_cause(tmp_path: Path) -> None:
    root = write_app(tmp_path, {"broken/route.py": "import does_not_exist_anywhere\n"})
    with pytest.raises(RouteDefinitionError) as info:
        App(root)
    assert str(root.resolve() / "broken" / "route.py") in str(info.value)
    assert isinstance(info.value.__cause__, ImportError)
