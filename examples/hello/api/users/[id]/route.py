from handlerkit import ApiError, NextResponse, RouteContext

from ...._lib import store


def GET(request, context: RouteContext) -> NextResponse:
    user = store.USERS.get(context.params["id"])
    if user is None:
        raise ApiError(404, "not_found", "User not found.")
    return NextResponse.json(user)
