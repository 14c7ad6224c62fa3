"""/api/search?query=...: echo the query parameter (null when absent)."""

from __future__ import annotations

from handlerkit import NextRequest, NextResponse


def GET(request: NextRequest) -> NextResponse:
    return NextResponse.json({"query": request.nextUrl.searchParams.get("query")})
