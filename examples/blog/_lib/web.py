"""The blog's configured wrappers and the small auth helpers its routes share.

Built once when the App imports the routes: the secret key, the CORS origin and
the rate-limit storage come from the environment (see ``config``).
"""

from __future__ import annotations

import os
from typing import Any

from handlerkit import ApiError, NextRequest, RouteContext, with_auth, with_cors, with_rate_limit
from handlerkit.middleware.auth import bearer_token
from handlerkit.tokens import issue_token, verify_token

from . import config

SECRET_KEY = config.secret_key()
MAX_AGE = config.token_max_age()

#: 401 without a valid token from ``Authorization: Bearer`` or the login cookie.
require_login = with_auth(
    secret_key=SECRET_KEY, salt=config.TOKEN_SALT, max_age=MAX_AGE, cookie=config.COOKIE_NAME
)

#: The API may be called from the one configured browser origin, with its cookie.
cors = with_cors(
    origins=[config.cors_origin()],
    credentials=True,
    headers=["Content-Type", "Authorization"],
    expose_headers=[
        "Location",
        "Retry-After",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ],
)

#: ``memory://`` counts per gunicorn worker; a ``redis://`` URL shares the counts.
RATE_LIMIT_STORAGE = os.environ.get("BLOG_RATE_LIMIT_STORAGE", "memory://")


def _ip_key(request: NextRequest, context: RouteContext) -> str:
    return f"blog-login-ip:{request.ip or 'unknown'}"


def _account_key(request: NextRequest, context: RouteContext) -> str:
    return f"blog-login-account:{context.state.body['username'].casefold()}"


#: Login attempts per client address: 10 a minute.
login_limit_by_ip = with_rate_limit(limit=10, window=60, key=_ip_key, storage=RATE_LIMIT_STORAGE)

#: Login attempts per account, whoever makes them: 5 per 5 minutes. It needs the
#: validated body, so it goes inside ``with_validation(body=Login)``.
login_limit_by_account = with_rate_limit(
    limit=5, window=300, key=_account_key, storage=RATE_LIMIT_STORAGE
)


def issue_login_token(user: Any) -> str:
    """Return a signed login token for the user row *user*."""
    payload = {"sub": user["id"], "username": user["username"], "role": user["role"]}
    return issue_token(payload, secret_key=SECRET_KEY, salt=config.TOKEN_SALT)


def viewer(request: NextRequest) -> dict[str, Any] | None:
    """Return the token payload of the caller on a public route, or ``None`` for anonymous.

    A missing, malformed, expired or tampered token counts as anonymous: a
    stale cookie must not break reading the blog.
    """
    try:
        token = bearer_token(request, cookie=config.COOKIE_NAME)
        if token is None:
            return None
        payload = verify_token(
            token, secret_key=SECRET_KEY, salt=config.TOKEN_SALT, max_age=MAX_AGE
        )
    except ApiError:
        return None
    return payload if isinstance(payload, dict) else None


def may_edit(user: dict[str, Any] | None, post: Any) -> bool:
    """Return whether *user* (a token payload) may change *post*: its author, or an admin."""
    if not user:
        return False
    return user.get("role") == "admin" or user.get("sub") == post["author_id"]


def forbidden(action: str) -> ApiError:
    """Return the 403 for someone who is neither the author nor an admin."""
    return ApiError(403, "forbidden", f"Only the author or an admin may {action} this post.")


def not_found() -> ApiError:
    """Return the 404 for a missing (or, to strangers, unpublished) post."""
    return ApiError(404, "not_found", "No post has this slug.")
