"""/api/auth/login: check credentials and set a week-long, HttpOnly session cookie."""

from __future__ import annotations

import os
import secrets

from handlerkit import ApiError, NextRequest, NextResponse

PASSWORDS = {"ada@example.com": "correct horse battery staple"}
WEEK = 60 * 60 * 24 * 7


def POST(request: NextRequest) -> NextResponse:
    body = request.json()
    if not isinstance(body, dict):
        raise ApiError(422, "validation_error", "Send an object with email and password.")
    expected = PASSWORDS.get(str(body.get("email")))
    password = body.get("password")
    if (
        expected is None
        or not isinstance(password, str)
        or not secrets.compare_digest(password.encode(), expected.encode())
    ):
        raise ApiError(401, "invalid_credentials", "The e-mail address or password is wrong.")
    response = NextResponse.json({"success": True})
    response.cookies.set(
        "session-token",
        secrets.token_urlsafe(24),
        http_only=True,
        secure=os.environ.get("APP_ENV") == "production",
        same_site="lax",
        max_age=WEEK,
    )
    return response
