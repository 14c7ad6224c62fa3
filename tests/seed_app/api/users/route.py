"""/api/users: list users page by page, and create one from JSON or a form post."""

from __future__ import annotations

from handlerkit import ApiError, NextRequest, NextResponse

from ..._lib import db

ROLES = ("user", "admin")


def _positive(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.isdigit() and int(raw) > 0 else default


def GET(request: NextRequest) -> NextResponse:
    query = request.next_url.search_params
    page = _positive(query.get("page"), 1)
    limit = min(_positive(query.get("limit"), 10), 100)
    users = list(db.USERS.values())
    start = (page - 1) * limit
    session = request.cookies.get("session-token")
    return NextResponse.json(
        {
            "data": users[start : start + limit],
            "page": page,
            "limit": limit,
            "total": len(users),
            "has_next": page * limit < len(users),
            "has_prev": page > 1,
            "signed_in": session is not None,
            "user_agent": request.headers.get("User-Agent"),
        }
    )


def POST(request: NextRequest) -> NextResponse:
    if request.mimetype == "application/json":
        body = request.json()
    elif request.mimetype == "application/x-www-form-urlencoded":
        body = dict(request.form_data().items())
    else:
        raise ApiError(415, "unsupported_media_type", "Send JSON or a urlencoded form.")
    if not isinstance(body, dict):
        raise ApiError(
            422, "validation_error", "Invalid input.", {"_schema": ["An object is required."]}
        )
    errors: dict[str, list[str]] = {}
    name, email, role = body.get("name"), body.get("email"), body.get("role", "user")
    if not isinstance(name, str) or len(name.strip()) < 2:
        errors["name"] = ["At least 2 characters."]
    if not isinstance(email, str) or "@" not in email.strip("@"):
        errors["email"] = ["A valid e-mail address is required."]
    if role not in ROLES:
        errors["role"] = [f"One of {', '.join(ROLES)}."]
    if errors:
        raise ApiError(422, "validation_error", "Invalid input.", errors)
    if db.find_by_email(email):
        raise ApiError(409, "conflict", "That e-mail address is already registered.")
    return NextResponse.json(db.insert(name.strip(), email, role), status=201)
