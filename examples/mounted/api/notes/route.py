"""/api/notes: list and create notes."""

from __future__ import annotations

from handlerkit import NextRequest, NextResponse
from handlerkit.errors import ApiError

from .._lib import store

MAX_TEXT = 500


def GET(request: NextRequest) -> NextResponse:
    return NextResponse.json({"data": list(store.NOTES.values())})


def POST(request: NextRequest) -> NextResponse:
    data = request.json()
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise ApiError(
            422,
            "validation_error",
            "The request is invalid.",
            {"text": [f"A non-empty string of at most {MAX_TEXT} characters."]},
        )
    note = store.add(text.strip())
    # pathname is the path inside the App ("/notes"); root_path is the mount prefix ("/api").
    location = f"{request.root_path}{request.next_url.pathname}/{note['id']}"
    return NextResponse.json(note, status=201, headers={"Location": location})
