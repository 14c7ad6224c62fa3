"""POST /api/auth/logout: forget the login cookie in this browser (204; 401 when not logged in).

Tokens are stateless, so a copied token stays valid until it expires; rotate
``BLOG_SECRET_KEY`` to invalidate every token at once.
"""

from handlerkit import NextResponse, compose

from ...._lib import config, web


@compose(web.cors, web.require_login)
def POST() -> NextResponse:
    response = NextResponse(None, status=204)
    response.cookies.delete(config.COOKIE_NAME)
    return response
