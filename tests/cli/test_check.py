"""`handlerkit check`: every startup error with its files, the same verdict as `App(...)`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from handlerkit import App
from handlerkit.cli import main
from handlerkit.errors import RouteDefinitionError
from handlerkit.testing import write_app

BROKEN = {
    "(shop)/items/route.py": "def GET():\n    return []\n",
    "(admin)/items/route.py": "def GET():\n    return []\n",
    "users/[id]/route.py": "def GET():\n    return {}\n",
    "users/[slug]/edit/route.py": "def GET():\n    return {}\n",
    "lower/route.py": "def get():\n    return {}\n",
    "slow/route.py": "async def GET():\n    return {}\n",
    "empty/route.py": "VALUE = 1\n",
}


def test_check_fails_naming_the_conflicting_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir = write_app(
        tmp_path / "app",
        {
            "(shop)/items/route.py": "def GET():\n    return []\n",
            "(admin)/items/route.py": "def GET():\n    return []\n",
        },
    )
    with pytest.raises(RouteDefinitionError):
        App(app_dir)
    assert main(["check", str(app_dir)]) == 1
    out = capsys.readouterr().out
    assert "error: two sources define the URL /items [DuplicateRouteError]" in out
    assert "  (admin)/items/route.py\n" in out
    assert "  (shop)/items/route.py\n" in out
    assert "1 error(s), 0 warning(s)" in out


def test_check_reports_every_error_not_just_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir = write_app(tmp_path / "app", BROKEN)
    assert main(["check", str(app_dir), "--json"]) == 1
    errors = json.loads(capsys.readouterr().out)["errors"]
    by_type = {e["type"]: e for e in errors}
    assert set(by_type) == {
        "AsyncHandlerError",
        "LowercaseExportError",
        "NoHandlerError",
        "DuplicateRouteError",
        "ParamNameConflictError",
    }
    assert by_type["LowercaseExportError"]["files"] == ["lower/route.py"]
    assert "did you mean GET?" in by_type["LowercaseExportError"]["message"]
    assert by_type["AsyncHandlerError"]["files"] == ["slow/route.py"]
    assert "synchronous" in by_type["AsyncHandlerError"]["message"]
    assert by_type["NoHandlerError"]["files"] == ["empty/route.py"]
    assert by_type["ParamNameConflictError"]["files"] == [
        "users/[id]/route.py",
        "users/[slug]/edit/route.py",
    ]


def test_check_names_every_malformed_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir = write_app(
        tmp_path / "app",
        {
            "a/[id/route.py": "def GET():\n    return {}\n",
            "b/[[id]]/route.py": "def GET():\n    return {}\n",
            "_private/[bad/helper.py": "",
        },
    )
    assert main(["check", str(app_dir)]) == 1
    out = capsys.readouterr().out
    assert "malformed brackets" in out and "  a/[id\n" in out
    assert "double brackets" in out and "  b/[[id]]\n" in out
    assert "_private" not in out


def test_a_clean_app_passes_and_warnings_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir = write_app(
        tmp_path / "app",
        {
            "ok/route.py": """
            import logging
            logging.getLogger("handlerkit").warning("ok/route.py: something to look at")
            logging.getLogger("myapp.settings").warning("SECRET not set, using a dev key")
            logging.getLogger("myapp.settings").info("not a warning")

            def GET():
                return {}
        """,
        },
    )
    assert main(["check", str(app_dir)]) == 0
    out = capsys.readouterr().out
    assert "warning: ok/route.py: something to look at\n" in out
    assert "warning: [myapp.settings] SECRET not set, using a dev key\n" in out
    assert "not a warning" not in out
    assert "0 error(s), 2 warning(s)" in out
    assert main(["check", str(app_dir), "--strict"]) == 1
    capsys.readouterr()
    # The collecting handler is removed again.
    assert all(type(h).__name__ != "_ListHandler" for h in logging.getLogger().handlers)


def test_check_a_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nope")]) == 2
    assert "app directory not found" in capsys.readouterr().err


def test_sse_routes_warn_when_checked_for_the_sync_worker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir = write_app(
        tmp_path / "app",
        {
            "feed/route.py": """
            from handlerkit import sse

            def GET(request):
                return sse.stream(iter([sse.Event("hi")]))
        """,
            "plain/route.py": "def GET():\n    return {}\n",
        },
    )
    assert main(["check", str(app_dir)]) == 0  # gthread, the serve default: nothing to say
    assert "0 warning(s)" in capsys.readouterr().out
    assert main(["check", str(app_dir), "--worker-class", "sync", "--strict"]) == 1
    out = capsys.readouterr().out
    assert "1 route(s) stream server-sent events (/feed)" in out
    assert "--worker-class gthread" in out


def test_a_method_name_in_the_wrong_case_is_a_warning_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    route = (
        "from os.path import join as put  # imported, not the module's own: not judged\n"
        "\n"
        "def GET():\n"
        "    return {}\n"
        "\n"
        "def Post(request):\n"
        "    return {}\n"
        "\n"
        "def _delete():  # a private helper\n"
        "    return None\n"
        "\n"
        "def get():  # lower case next to GET: ignored, and said\n"
        "    return None\n"
    )
    app_dir = write_app(tmp_path / "app", {"items/route.py": route})
    assert main(["check", str(app_dir)]) == 0
    out = capsys.readouterr().out
    source = str((app_dir / "items" / "route.py").resolve())
    assert f"{source}:6: Post() is ignored: handlers are upper-case; did you mean POST?" in out
    assert f"{source}:12: get() is ignored: handlers are upper-case; did you mean GET?" in out
    assert "_delete" not in out and "put()" not in out
    assert "0 error(s), 2 warning(s)" in out
    assert main(["check", str(app_dir), "--strict"]) == 1
    # And the App answers POST as before: 405, the typo is not a handler.
    from handlerkit.testing import Client

    assert Client(App(app_dir)).post("/items").status_code == 405


def test_a_lone_method_name_in_the_wrong_case_says_did_you_mean(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", {"items/route.py": "def Get():\n    return {}\n"})
    with pytest.raises(RouteDefinitionError, match=r"no handler exported; .*did you mean GET \(not Get\)\?"):
        App(app_dir)


def test_an_import_error_in_a_helper_names_the_helper_line_and_the_route(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir = write_app(
        tmp_path / "app",
        {
            "_lib/__init__.py": "",
            "_lib/broken.py": "VALUE = 1\nraise RuntimeError('the helper failed')\n",
            "_lib/typo.py": "def f(:\n    pass\n",
            "api/bad/route.py": "from ..._lib import broken\n\ndef GET():\n    return {}\n",
            "api/syntax/route.py": "from ..._lib import typo\n\ndef GET():\n    return {}\n",
            "api/own/route.py": "def GET():\n    return {}\n\nraise KeyError('x')\n",
        },
    )
    assert main(["check", str(app_dir), "--json"]) == 1
    errors = {e["files"][0]: e for e in json.loads(capsys.readouterr().out)["errors"]}
    helper = str((app_dir / "_lib" / "broken.py").resolve())
    bad = errors["api/bad/route.py"]
    assert f"importing failed with RuntimeError in {helper}:2 (imported by this route)" in bad["message"]
    assert bad["files"] == ["api/bad/route.py", "_lib/broken.py"]
    syntax = errors["api/syntax/route.py"]
    assert "SyntaxError in " in syntax["message"] and "_lib/typo.py:1" in syntax["message"]
    # An error in the route file itself names its line.
    assert "importing failed with KeyError at line 4" in errors["api/own/route.py"]["message"]
