"""CLI polish: --version, the default ./app, an app without routes, new route's folder, the openapi extra, explain OPTIONS."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import handlerkit
from handlerkit.cli import main
from handlerkit.testing import write_app

HELLO = {"api/hello/route.py": "from handlerkit import with_cors\n\n@with_cors\ndef GET():\n    return {}\n"}


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"handlerkit {handlerkit.__version__}\n"


def test_app_dir_defaults_to_dot_app_when_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_app(tmp_path / "app", HELLO)
    monkeypatch.chdir(tmp_path)
    assert main(["check"]) == 0
    assert "0 error(s), 0 warning(s) in " + str(tmp_path / "app") in capsys.readouterr().out
    assert main(["routes", "--json"]) == 0
    assert [r["pattern"] for r in json.loads(capsys.readouterr().out)["routes"]] == ["/api/hello"]


def test_without_app_dir_or_dot_app_the_cli_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for command in ("check", "routes", "openapi"):
        with pytest.raises(SystemExit) as exited:
            main([command])
        assert exited.value.code == 2
        assert f"{command}: give APP_DIR (there is no ./app directory here)" in capsys.readouterr().err


def test_an_app_without_routes_is_a_warning_and_check_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["check", str(empty)]) == 1
    out = capsys.readouterr().out
    assert f"warning: no routes found in {empty}: add a route.py" in out
    assert "0 error(s), 1 warning(s)" in out


def test_new_route_writes_under_dot_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["new", "route", "api/things/[id]", "--no-test"]) == 0
    assert (tmp_path / "app" / "api" / "things" / "[id]" / "route.py").is_file()
    assert not (tmp_path / "api").exists()


def test_openapi_without_the_extra_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir = write_app(tmp_path / "app", HELLO)
    for name in [n for n in sys.modules if n == "apispec" or n.startswith("apispec.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "apispec", None)  # as if it were not installed
    assert main(["openapi", str(app_dir)]) == 2
    err = capsys.readouterr().err
    assert "apispec is not installed; it comes with the openapi extra" in err
    assert "pip install 'handlerkit[openapi]'" in err and "Traceback" not in err


def test_explain_options_without_origin_is_the_automatic_204(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir = write_app(tmp_path / "app", HELLO)
    assert main(["routes", str(app_dir), "--explain", "OPTIONS", "/api/hello", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["outcome"] == "automatic_options"
    assert result["status"] == 204
    assert result["reason"] == "automatic OPTIONS: 204 with Allow"
