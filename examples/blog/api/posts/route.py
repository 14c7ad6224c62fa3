"""/api/posts: list posts (GET, public) and create one (POST, logged in).

GET query: ``page`` (from 1), ``limit`` (1-50, default 10), ``tag``, and
``published`` (``true`` by default; ``false`` lists drafts, which needs a login:
authors see their own, admins everyone's). The answer is
``{"data": [...], "meta": {"page", "limit", "total", "totalPages"}}``.

POST body: ``{"title", "content", "tags"?, "published"?}``. The slug comes from
the title; another post with the same slug is a 409.
"""

from handlerkit import ApiError, NextRequest, NextResponse, RouteContext, compose, with_validation
from handlerkit.openapi import responses

from ..._lib import db, web
from ..._lib.schemas import Post, PostCreate, PostPage, PostQuery


@responses({200: PostPage, 401: None})
@compose(web.cors, with_validation(query=PostQuery))
def GET(request: NextRequest, context: RouteContext) -> NextResponse:
    """List posts, newest first, one page at a time.

    ``published=false`` lists drafts and needs a login: authors see their own,
    admins everyone's (401 without a login).
    """
    query = context.state.query
    author_id = None
    if not query["published"]:
        user = web.viewer(request)
        if user is None:
            raise ApiError(
                401,
                "unauthorized",
                "Log in to list drafts.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if user.get("role") != "admin":
            author_id = user.get("sub")
    with db.connect() as connection:
        posts, meta = db.list_posts(
            connection,
            page=query["page"],
            limit=query["limit"],
            published=query["published"],
            tag=query.get("tag"),
            author_id=author_id,
        )
    return NextResponse.json({"data": posts, "meta": meta})


@responses({201: Post, 409: None})
@compose(web.cors, web.require_login, with_validation(body=PostCreate))
def POST(request: NextRequest, context: RouteContext) -> NextResponse:
    """Create a post; its slug comes from the title (409 when taken)."""
    data = context.state.body
    slug = db.slugify(data["title"])
    if not slug:
        raise ApiError(
            422,
            "validation_error",
            "Invalid input.",
            {"body": {"title": ["The title needs at least one letter or digit."]}},
        )
    try:
        with db.connect() as connection:
            post = db.create_post(connection, context.state.user["sub"], slug, data)
    except db.SlugTakenError:
        raise ApiError(
            409, "conflict", "A post with this title already exists.", {"slug": slug}
        ) from None
    location = f"{request.next_url.base_path}/api/posts/{slug}"
    return NextResponse.json(post, status=201, headers={"Location": location})
