"""/api/notes/<id>: one note."""

from __future__ import annotations

from handlerkit import NextRequest, NextResponse, RouteContext
from handlerkit.errors import ApiError

from ..._lib import store


def GET(request: NextRequest, context: RouteContext) -> NextResponse:
    note = store.NOTES.get(context.params["id"])
    if note is None:
        raise ApiError(404, "not_found", "No note with that id.")
    return NextResponse.json(note)
