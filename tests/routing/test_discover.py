"""Discovery: which files under an app directory become routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlerkit.errors import InvalidSegmentError
from handlerkit.routing.discover import discover
from handlerkit.routing.segments import pattern_string
from handlerkit.testing import write_app

HANDLER = "def GET():\n    return {}\n"


def _patterns(root: Path) -> dict[str, str]:
    found, _ = discover(root)
    return {
        pattern_string(list(r.segments)): str(r.path.relative_to(root.resolve())) for r in found
    }


def test_route_py_files_become_endpoints_and_other_files_are_ignored(tmp_path: Path) -> None:
    write_app(
        tmp_path,
        {
            "route.py": HANDLER,
            "users/route.py": HANDLER,
            "users/schemas.py": "X = 1\n",
            "users/[id]/route.py": HANDLER,
            "users/[id]/helpers.py": "Y = 2\n",
            "notes.txt": "not python\n",
            "empty/helpers.py": "Z = 3\n",
        },
    )
    assert _patterns(tmp_path) == {
        "/": "route.py",
        "/users": "users/route.py",
        "/users/[id]": "users/[id]/route.py",
    }


def test_groups_leave_no_segment_and_private_folders_are_skipped_entirely(tmp_path: Path) -> None:
    write_app(
        tmp_path,
        {
            "(marketing)/about/route.py": HANDLER,
            "(shop)/(inner)/cart/route.py": HANDLER,
            "_lib/route.py": HANDLER,
            "_lib/deep/route.py": HANDLER,
            "api/_internal/x/route.py": HANDLER,
            ".hidden/route.py": HANDLER,
            "__pycache__/route.py": HANDLER,
        },
    )
    assert _patterns(tmp_path) == {
        "/about": "(marketing)/about/route.py",
        "/cart": "(shop)/(inner)/cart/route.py",
    }


def test_percent_5f_folder_is_a_literal_underscore_segment(tmp_path: Path) -> None:
    write_app(tmp_path, {"%5Fnext/route.py": HANDLER})
    assert list(_patterns(tmp_path)) == ["/_next"]


def test_dots_in_folder_names_are_plain_static_segments(tmp_path: Path) -> None:
    write_app(tmp_path, {"rss.xml/route.py": HANDLER, "v1.2/api/route.py": HANDLER})
    assert set(_patterns(tmp_path)) == {"/rss.xml", "/v1.2/api"}


def test_results_are_sorted_by_path_and_stable(tmp_path: Path) -> None:
    write_app(tmp_path, {f"r{i}/route.py": HANDLER for i in (3, 1, 2)})
    first, _ = discover(tmp_path)
    second, _ = discover(tmp_path)
    assert [r.path for r in first] == [r.path for r in second] == sorted(r.path for r in first)


def test_middleware_files_are_listed_root_first_and_the_root_one_separately(tmp_path: Path) -> None:
    write_app(
        tmp_path,
        {
            "middleware.py": "def middleware(request):\n    return None\n",
            "(admin)/middleware.py": "def middleware(request):\n    return None\n",
            "(admin)/users/middleware.py": "def middleware(request):\n    return None\n",
            "(admin)/users/route.py": HANDLER,
            "public/route.py": HANDLER,
        },
    )
    found, root_middleware = discover(tmp_path)
    root = tmp_path.resolve()
    assert root_middleware == root / "middleware.py"
    by_pattern = {pattern_string(list(r.segments)): r for r in found}
    assert by_pattern["/users"].middleware == (
        root / "(admin)" / "middleware.py",
        root / "(admin)" / "users" / "middleware.py",
    )
    assert by_pattern["/public"].middleware == ()


def test_malformed_folder_names_fail_naming_the_folder(tmp_path: Path) -> None:
    write_app(tmp_path, {"users/[id/route.py": HANDLER})
    with pytest.raises(InvalidSegmentError) as info:
        discover(tmp_path)
    assert any("[id" in f for f in info.value.files)


def test_missing_app_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        discover(tmp_path / "nope")
