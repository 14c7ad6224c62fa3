"""``handlerkit new route``: the ``route.py`` and test file it writes, never overwriting either."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from pathlib import Path
from urllib.parse import quote

from .errors import InvalidSegmentError, RouteDefinitionError
from .handlers import METHODS
from .introspect import relative_path
from .routing.segments import Kind, Segment, parse_segment
from .routing.tree import _check_segments as check_segments

__all__ = ["cmd_new"]


_METHOD_BODIES = {
    "GET": (
        "def GET(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        '    return NextResponse.json({{"route": {pattern!r}, "params": context.params}})\n'
    ),
    "POST": (
        "def POST(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        "    data = request.json()\n"
        '    return NextResponse.json({{"created": data}}, status=201)\n'
    ),
    "PUT": (
        "def PUT(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        '    return NextResponse.json({{"replaced": request.json()}})\n'
    ),
    "PATCH": (
        "def PATCH(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        '    return NextResponse.json({{"updated": request.json()}})\n'
    ),
    "DELETE": (
        "def DELETE(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        "    return NextResponse(None, status=204)\n"
    ),
    "HEAD": (
        "def HEAD(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        "    return NextResponse(None, status=200)\n"
    ),
    "OPTIONS": (
        "def OPTIONS(request: NextRequest, context: RouteContext) -> NextResponse:\n"
        '    return NextResponse(None, status=204, headers={{"Allow": {allow!r}}})\n'
    ),
}

_TEST_CHECKS = {
    "GET": (
        "    response = client.get(URL)\n    assert response.status_code == 200\n"
        '    assert response.json()["route"] == {pattern!r}\n'
    ),
    "POST": (
        '    response = client.post(URL, json={{"name": "x"}})\n'
        "    assert response.status_code == 201\n"
        '    assert response.json() == {{"created": {{"name": "x"}}}}\n'
    ),
    "PUT": (
        '    response = client.put(URL, json={{"name": "x"}})\n'
        "    assert response.status_code == 200\n"
    ),
    "PATCH": (
        '    response = client.patch(URL, json={{"name": "x"}})\n'
        "    assert response.status_code == 200\n"
    ),
    "DELETE": "    response = client.delete(URL)\n    assert response.status_code == 204\n",
    "HEAD": "    response = client.head(URL)\n    assert response.status_code == 200\n",
    "OPTIONS": "    response = client.options(URL)\n    assert response.status_code == 204\n",
}


def _sample_url(segments: list[Segment]) -> str:
    parts = []
    for segment in segments:
        if segment.kind is Kind.STATIC:
            parts.append(quote(segment.value))
        elif segment.kind is Kind.DYNAMIC:
            parts.append("1")
        elif segment.kind is Kind.CATCH_ALL:
            parts.append("a/b")
    return "/" + "/".join(parts)


def cmd_new(args: argparse.Namespace) -> int:
    """``handlerkit new route``: scaffold a ``route.py`` and its test, never overwriting."""
    err = sys.stderr
    methods = [m.strip().upper() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        err.write(f"handlerkit: --methods takes a comma-separated list of {', '.join(METHODS)}\n")
        return 2
    methods = [m for m in METHODS if m in methods]
    folders = [part for part in args.path.strip("/").split("/") if part]
    segments: list[Segment] = []
    try:
        for name in folders:
            segment = parse_segment(name, args.path)
            if segment.kind is Kind.PRIVATE:
                raise InvalidSegmentError(
                    f"{name!r} is a private folder and would never be routed", [args.path]
                )
            if segment.kind is not Kind.GROUP:
                segments.append(segment)
        # Route-level rules (a param used twice, anything after a catch-all): the
        # routing tree's own check, so the scaffold never breaks the app.
        check_segments(tuple(segments), args.path)
    except RouteDefinitionError as exc:
        err.write(f"handlerkit: {exc}\n")
        return 2
    app_dir = Path(args.app_dir).resolve()
    route_file = app_dir.joinpath(*folders, "route.py")
    slug = "_".join(re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_") for name in folders) or "root"
    tests_dir = Path(args.tests_dir).resolve()
    test_file = tests_dir / f"test_route_{slug}.py"
    existing = [
        p
        for p in (route_file, test_file if not args.no_test else None)
        if p is not None and p.exists()
    ]
    if existing:
        err.write("handlerkit: refusing to overwrite " + ", ".join(map(str, existing)) + "\n")
        return 1
    pattern = "/" + "/".join(str(s) for s in segments)
    allow = ", ".join(sorted({*methods, "OPTIONS", *(["HEAD"] if "GET" in methods else [])}))
    bodies = "\n\n".join(_METHOD_BODIES[m].format(pattern=pattern, allow=allow) for m in methods)
    files = {
        route_file: (
            f'"""{pattern}: {", ".join(methods)}."""\n\n'
            "from __future__ import annotations\n\n"
            "from handlerkit import NextRequest, NextResponse, RouteContext\n\n\n"
            f"{bodies}"
        )
    }
    if not args.no_test:
        checks = "\n\n".join(
            f"def test_{m.lower()}(client: Client) -> None:\n"
            + _TEST_CHECKS[m].format(pattern=pattern)
            for m in methods
        )
        relative_app = os.path.relpath(app_dir, tests_dir)
        files[test_file] = (
            f'"""Tests for {pattern} ({relative_path(str(route_file), str(app_dir))})."""\n\n'
            "from __future__ import annotations\n\n"
            "from pathlib import Path\n\n"
            "import pytest\n\n"
            "from handlerkit import App\n"
            "from handlerkit.testing import Client\n\n"
            f"APP_DIR = (Path(__file__).parent / {relative_app!r}).resolve()\n"
            f"URL = {_sample_url(segments)!r}\n\n\n"
            "@pytest.fixture\n"
            "def client() -> Client:\n"
            "    return Client(App(APP_DIR))\n\n\n"
            f"{checks}"
        )
    # Both folders first, then both files; on any failure remove what was written,
    # so an error never leaves half a scaffold behind.
    written: list[Path] = []
    try:
        for path in files:
            path.parent.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            with path.open("x", encoding="utf-8") as file:
                written.append(path)
                file.write(text)
    except OSError as exc:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        err.write(f"handlerkit: cannot write the scaffold: {exc}\n")
        return 1
    for path in files:
        sys.stdout.write(f"created {path}\n")
    return 0
