"""POST /api/auth/login: trade a username and password for a login token.

The answer carries the token in the body (for ``Authorization: Bearer``) and in
an ``HttpOnly``, ``SameSite=Lax`` cookie (for browsers; ``Secure`` over HTTPS).
Attempts are limited per client address (10 a minute) and per account
(5 per 5 minutes), so guessing one password from many addresses or many
passwords from one address both end in 429 with ``Retry-After``.
"""

from handlerkit import ApiError, NextRequest, NextResponse, RouteContext, compose, with_validation
from handlerkit.openapi import responses

from ...._lib import config, db, web
from ...._lib.passwords import verify_password
from ...._lib.schemas import Login, LoginAnswer


@responses({200: LoginAnswer, 401: None})
@compose(web.cors, web.login_limit_by_ip, with_validation(body=Login), web.login_limit_by_account)
def POST(request: NextRequest, context: RouteContext) -> NextResponse:
    """Trade a username and password for a login token (body and HttpOnly cookie)."""
    credentials = context.state.body
    with db.connect() as connection:
        user = db.find_user(connection, credentials["username"])
    stored = user["password_hash"] if user is not None else None
    if not verify_password(credentials["password"], stored) or user is None:
        raise ApiError(401, "invalid_credentials", "The username or password is wrong.")
    token = web.issue_login_token(user)
    response = NextResponse.json(
        {
            "token": token,
            "expiresIn": web.MAX_AGE,
            "user": {
                "id": user["id"],
                "username": user["username"],
                "name": user["name"],
                "role": user["role"],
            },
        }
    )
    response.cookies.set(
        config.COOKIE_NAME,
        token,
        max_age=web.MAX_AGE,
        http_only=True,
        same_site="Lax",
        secure=request.next_url.protocol == "https:",
    )
    response.headers["Cache-Control"] = "no-store"
    return response
