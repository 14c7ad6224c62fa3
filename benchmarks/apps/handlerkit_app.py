"""handlerkit: a real ``route.py`` tree, generated once under the temp dir and served by ``App``.

The tree is rebuilt only when this file's templates change, so a second run
imports the same files with warm bytecode caches, as a deployed app would.
``create_router`` declares the same routes in code through ``Router``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.workload import EXTRA_ROUTES, extra_paths

A = """\
from handlerkit import NextResponse


def GET(request):
    return NextResponse.json({"message": "Hello, World!"})
"""

B = """\
from handlerkit import NextResponse


def GET(request, context):
    return NextResponse.json({"id": context.params["id"]})
"""

C = """\
from handlerkit import NextResponse


def GET(request):
    search = request.next_url.search_params
    session = request.cookies.get("session")
    return NextResponse.json(
        {
            "page": search.get("page"),
            "limit": search.get("limit"),
            "session": session.value if session is not None else None,
        }
    )
"""

D = """\
from handlerkit import NextResponse, with_validation

from benchmarks.workload import UserSchema


@with_validation(body=UserSchema)
def POST(request, context):
    return NextResponse.json(context.state.body, status=201)
"""

E = """\
from handlerkit import (
    NextResponse,
    compose,
    with_auth,
    with_cors,
    with_logging,
    with_rate_limit,
    with_validation,
)

from benchmarks.workload import ORIGIN, RATE_LIMIT, RATE_WINDOW, SECRET_KEY, ItemSchema

stack = compose(
    with_logging,
    with_cors(origins=[ORIGIN]),
    with_rate_limit(limit=RATE_LIMIT, window=RATE_WINDOW),
    with_auth(secret_key=SECRET_KEY),
    with_validation(body=ItemSchema),
)


@stack
def POST(request, context):
    return NextResponse.json({**context.state.body, "owner": context.state.user["sub"]}, status=201)
"""

EXTRA = """\
from handlerkit import NextResponse


def GET(request, context):
    return NextResponse.json({"id": context.params.get("id")})
"""


def wrappers_available() -> bool:
    """Return whether the wrappers D and E need can be imported yet."""
    try:
        from handlerkit import (  # noqa: F401
            compose,
            with_auth,
            with_cors,
            with_logging,
            with_rate_limit,
            with_validation,
        )
    except (ImportError, AttributeError):
        return False
    return True


ENDPOINTS = ("A", "B", "C", "D", "E") if wrappers_available() else ("A", "B", "C")


def _files(extra_routes: int, endpoints: tuple[str, ...]) -> dict[str, str]:
    files = {"hello/route.py": A, "users/[id]/route.py": B, "q/route.py": C}
    if "D" in endpoints:
        files["users/route.py"] = D
    if "E" in endpoints:
        files["items/route.py"] = E
    for pattern in extra_paths(extra_routes):
        files[pattern.strip("/") + "/route.py"] = EXTRA
    return files


def write_tree(extra_routes: int = EXTRA_ROUTES, endpoints: tuple[str, ...] = ENDPOINTS) -> Path:
    """Write (once) and return an app directory with the benchmark routes and *extra_routes* others."""
    digest = hashlib.sha1(
        repr((A, B, C, D, E, EXTRA, extra_routes, endpoints)).encode()
    ).hexdigest()[:10]
    root = Path(tempfile.gettempdir()) / "handlerkit-bench" / f"tree-{extra_routes}-{digest}"
    app_dir = root / "app"
    if (root / "complete").exists():
        return app_dir
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".tree-{extra_routes}-", dir=root.parent))
    for relative, text in _files(extra_routes, endpoints).items():
        path = partial / "app" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (partial / "complete").write_text("")
    try:
        os.rename(partial, root)
    except OSError:  # another process won the race: use its tree
        shutil.rmtree(partial, ignore_errors=True)
    return app_dir


def create(extra_routes: int = EXTRA_ROUTES) -> Callable[..., Any]:
    """Return ``App`` serving the generated ``route.py`` tree."""
    from benchmarks.workload import access_logger
    from handlerkit import App

    access_logger("handlerkit.access")  # with_logging's lines: formatted, then dropped

    return App(write_tree(extra_routes))


def create_router(extra_routes: int = EXTRA_ROUTES) -> Callable[..., Any]:
    """Return ``App(Router)`` with A, B, C and *extra_routes* others declared in code."""
    from handlerkit import App, NextResponse, Router

    router = Router()

    @router.route("/hello")
    def GET(request: Any) -> Any:  # noqa: N802 - handler names are methods
        return NextResponse.json({"message": "Hello, World!"})

    @router.route("/users/[id]", methods=["GET"])
    def user(request: Any, context: Any) -> Any:
        return NextResponse.json({"id": context.params["id"]})

    @router.route("/q", methods=["GET"])
    def query(request: Any) -> Any:
        search = request.next_url.search_params
        session = request.cookies.get("session")
        return NextResponse.json(
            {
                "page": search.get("page"),
                "limit": search.get("limit"),
                "session": session.value if session is not None else None,
            }
        )

    def extra(request: Any, context: Any) -> Any:
        return NextResponse.json({"id": context.params.get("id")})

    for pattern in extra_paths(extra_routes):
        router.route(pattern, methods=["GET"])(extra)
    return App(router)
