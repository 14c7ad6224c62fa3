"""docs/testing.md's "Calling a handler" examples, run as a user's project: pytest, then mypy --strict.

The examples are taken from the page itself, so the documented test pattern is
what is checked: a wrapped handler called directly gives a response (refusals in
the JSON shape), ``respond`` does the same for a bare one, and a user's
``mypy --strict`` accepts both without casts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def _section_blocks(title: str) -> list[tuple[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else None]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    blocks = _section_blocks("Calling a handler")
    python = [body for lang, body in blocks if lang == "python"]
    toml = [body for lang, body in blocks if lang == "toml"]
    assert len(python) == 3 and len(toml) == 1, "the section's examples changed: update this test"
    route, tests, from_app = python
    root = tmp_path_factory.mktemp("user-project")
    (root / "app" / "api" / "users").mkdir(parents=True)
    (root / "app" / "api" / "users" / "route.py").write_text(route, encoding="utf-8")
    (root / "tests").mkdir()
    (root / "tests" / "test_users.py").write_text(tests, encoding="utf-8")
    (root / "read_from_app.py").write_text(from_app, encoding="utf-8")
    (root / "pyproject.toml").write_text(
        toml[0]
        + "\n[tool.mypy]\nstrict = true\nexplicit_package_bases = true\n",
        encoding="utf-8",
    )
    return root


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_", "MYPY"))}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_documented_tests_pass_under_plain_pytest(project: Path) -> None:
    result = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_the_documented_examples_type_check_under_mypy_strict(project: Path) -> None:
    # handlerkit as the README installs it (editable_mode=compat): mypy finds its package and
    # py.typed through the install's .pth file, as in a user's project. A plain `pip install -e`
    # answers imports through an import hook mypy cannot follow ("missing library stubs").
    result = _run(["-m", "mypy", "--strict", "app", "tests", "read_from_app.py"], project)
    if "import-not-found" in result.stdout or "missing library stubs" in result.stdout:
        pytest.fail("mypy cannot see the installed handlerkit: install it as README.md does, with"
                    " pip install -e '.[dev]' --config-settings editable_mode=compat")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 3 source files" in result.stdout
