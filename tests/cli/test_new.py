"""``handlerkit new route``: a route.py and a test that passes as generated; never an overwrite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from handlerkit import App
from handlerkit.cli import main
from handlerkit.testing import Client
from tests.support.servers import ROOT


def test_new_route_writes_a_route_and_a_passing_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir, tests_dir = tmp_path / "app", tmp_path / "tests"
    code = main(
        [
            "new",
            "route",
            "api/(admin)/posts/[id]",
            "--methods",
            "get,patch,DELETE",
            "--app-dir",
            str(app_dir),
            "--tests-dir",
            str(tests_dir),
        ]
    )
    assert code == 0
    route_file = app_dir / "api" / "(admin)" / "posts" / "[id]" / "route.py"
    test_file = tests_dir / "test_route_api_admin_posts_id.py"
    assert capsys.readouterr().out == f"created {route_file}\ncreated {test_file}\n"
    source = route_file.read_text()
    assert "def GET(request: NextRequest, context: RouteContext)" in source
    assert "def PATCH(" in source and "def DELETE(" in source and "def POST(" not in source
    client = Client(App(app_dir))
    assert client.get("/api/posts/9").json() == {"route": "/api/posts/[id]", "params": {"id": "9"}}
    assert client.delete("/api/posts/9").status_code == 204
    assert client.post("/api/posts/9").headers["Allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_new_route_for_post_and_catch_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir = tmp_path / "app"
    assert (
        main(
            [
                "new",
                "route",
                "/docs/[...slug]",
                "--methods",
                "GET,POST",
                "--app-dir",
                str(app_dir),
                "--tests-dir",
                str(tmp_path / "t"),
            ]
        )
        == 0
    )
    client = Client(App(app_dir))
    assert client.get("/docs/a/b").json()["params"] == {"slug": ["a", "b"]}
    response = client.post("/docs/a", json={"title": "x"})
    assert response.status_code == 201 and response.json() == {"created": {"title": "x"}}
    assert "test_route_docs_slug.py" in capsys.readouterr().out


def test_new_route_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "new",
        "route",
        "users",
        "--app-dir",
        str(tmp_path / "app"),
        "--tests-dir",
        str(tmp_path / "tests"),
    ]
    assert main(args) == 0
    route_file = tmp_path / "app" / "users" / "route.py"
    route_file.write_text("def GET():\n    return {'mine': True}\n")
    capsys.readouterr()
    assert main(args) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert route_file.read_text() == "def GET():\n    return {'mine': True}\n"
    # Only the test file existing is enough to refuse, and nothing is written.
    route_file.unlink()
    assert main(args) == 1
    assert not route_file.exists()


@pytest.mark.parametrize(
    ("path", "methods", "message"),
    [
        ("users/[id", "GET", "malformed brackets"),
        ("_lib/x", "GET", "private folder"),
        ("users", "GET,FETCH", "--methods"),
        ("users/[id]/posts/[id]", "GET", "the param 'id' is used twice"),
        ("docs/[...slug]/edit", "GET", "nothing may follow the catch-all"),
        ("docs/[[...slug]]/[id]", "GET", "nothing may follow the catch-all"),
    ],
)
def test_new_route_rejects_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str, methods: str, message: str
) -> None:
    tests_dir = tmp_path / "tests"
    args = ["new", "route", path, "--methods", methods, "--app-dir", str(tmp_path)]
    assert main([*args, "--tests-dir", str(tests_dir)]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.rglob("*.py"))


def test_new_route_that_cannot_be_written_leaves_nothing_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir = tmp_path / "app"
    blocker = tmp_path / "tests"
    blocker.write_text("a file where the tests folder should go\n")  # mkdir fails
    args = ["new", "route", "users", "--app-dir", str(app_dir), "--tests-dir", str(blocker)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "cannot write the scaffold" in err and "Traceback" not in err
    assert not any(tmp_path.rglob("*.py"))
    # The test file failing after the route file was written removes the route file too:
    # a dangling symlink passes the exists() check but refuses an exclusive create.
    blocker.unlink()
    blocker.mkdir()
    (blocker / "test_route_users.py").symlink_to(tmp_path / "nowhere")
    assert main(args) == 1
    assert "cannot write the scaffold" in capsys.readouterr().err
    assert not (app_dir / "users" / "route.py").exists()
    assert not (tmp_path / "nowhere").exists()
