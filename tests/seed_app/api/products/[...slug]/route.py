"""/api/products/a/b/c: a catch-all; the segments arrive as a list."""

from __future__ import annotations

from handlerkit import NextRequest, RouteContext


def GET(request: NextRequest, context: RouteContext) -> dict[str, object]:
    slug = context.params["slug"]
    return {"slug": slug, "path": "/".join(slug), "depth": len(slug)}
