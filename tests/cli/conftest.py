"""App trees for the CLI tests, written under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlerkit.testing import write_app

#: A small blog-like tree: wrappers, middleware, segment config and shadowing routes.
BLOG_TREE = {
    "middleware.py": """
        config = {"matcher": ["/api/:path*"]}

        def middleware(request):
            return None
    """,
    "api/posts/middleware.py": """
        def middleware(request):
            return None
    """,
    "api/posts/route.py": """
        from handlerkit import NextResponse, compose, with_auth, with_logging

        max_body_size = 2048

        def GET(request):
            return NextResponse.json([])

        @compose(with_logging, with_auth)
        def POST(request, context):
            return NextResponse.json({}, status=201)
    """,
    "api/posts/[id]/route.py": """
        from handlerkit import NextResponse, with_auth

        def GET(request, context):
            return NextResponse.json({"id": context.params["id"]})

        @with_auth(roles=["admin"])
        def DELETE(request, context):
            return NextResponse(None, status=204)
    """,
    "api/posts/latest/route.py": """
        def GET():
            return {"latest": True}
    """,
    "api/posts/[...rest]/route.py": """
        def GET(request, context):
            return {"rest": context.params["rest"]}
    """,
    "api/auth/login/route.py": """
        def POST(request):
            return {"token": "t"}
    """,
}


@pytest.fixture
def blog_dir(tmp_path: Path) -> Path:
    """The blog-like app tree, every write route guarded except login."""
    return write_app(tmp_path / "blog", BLOG_TREE)
