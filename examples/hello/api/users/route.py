from handlerkit import ApiError, NextRequest, NextResponse

from ..._lib import store


def GET(request: NextRequest) -> NextResponse:
    params = request.next_url.search_params
    raw = params.get("limit") or "10"
    limit = min(max(int(raw), 1), 50) if raw.isdigit() else 10
    users = list(store.USERS.values())[:limit]
    return NextResponse.json({"data": users, "count": len(users)})


def POST(request: NextRequest) -> NextResponse:
    body = request.json()
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise ApiError(422, "validation_error", "Invalid input.", {"name": ["A non-empty string is required."]})
    return NextResponse.json(store.create(name.strip()), status=201)
