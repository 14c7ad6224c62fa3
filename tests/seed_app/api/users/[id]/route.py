"""/api/users/[id]: read or delete one user."""

from __future__ import annotations

from handlerkit import ApiError, NextRequest, NextResponse, RouteContext

from ...._lib import db


def GET(request: NextRequest, context: RouteContext) -> NextResponse:
    user = db.USERS.get(context.params["id"])
    if user is None:
        raise ApiError(404, "not_found", "User not found.")
    return NextResponse.json(user)


def DELETE(request: NextRequest, context: RouteContext) -> NextResponse:
    if db.USERS.pop(context.params["id"], None) is None:
        raise ApiError(404, "not_found", "User not found.")
    return NextResponse(None, 204)
