"""/api/whoami: what the handlerkit App sees of the mount."""

from __future__ import annotations

from handlerkit import NextRequest, NextResponse


def GET(request: NextRequest) -> NextResponse:
    url = request.next_url
    # pathname is the path inside the App; href and script_root carry the mount prefix.
    return NextResponse.json(
        {"pathname": url.pathname, "href": url.href, "script_root": request.root_path}
    )
