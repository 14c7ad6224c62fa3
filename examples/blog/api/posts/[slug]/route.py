"""/api/posts/<slug>: read (GET, public), edit (PATCH) and delete (DELETE) one post.

Editing and deleting need a login as the post's author or an admin (403 for
anyone else). A draft is a 404 for everyone but its author and admins, so its
existence does not leak. PATCH takes any subset of ``title``, ``content``,
``tags`` and ``published``; the slug never changes.
"""

from handlerkit import NextRequest, NextResponse, RouteContext, compose, with_validation
from handlerkit.openapi import responses

from ...._lib import db, web
from ...._lib.schemas import Post, PostUpdate


@responses({200: Post})
@compose(web.cors)
def GET(request: NextRequest, context: RouteContext) -> NextResponse:
    """Read one post (a draft is a 404 to all but its author and admins)."""
    with db.connect() as connection:
        row = db.get_post(connection, context.params["slug"])
    if row is None or (not row["published"] and not web.may_edit(web.viewer(request), row)):
        raise web.not_found()
    return NextResponse.json(db.post_json(row))


@responses({200: Post, 403: None})
@compose(web.cors, web.require_login, with_validation(body=PostUpdate))
def PATCH(request: NextRequest, context: RouteContext) -> NextResponse:
    """Change any of a post's title, content, tags and published flag (its author or an admin)."""
    user = context.state.user
    with db.connect() as connection:
        row = db.get_post(connection, context.params["slug"])
        if row is None or (not row["published"] and not web.may_edit(user, row)):
            raise web.not_found()
        if not web.may_edit(user, row):
            raise web.forbidden("edit")
        post = db.update_post(connection, row, context.state.body)
    return NextResponse.json(post)


@responses({204: None, 403: None})
@compose(web.cors, web.require_login)
def DELETE(request: NextRequest, context: RouteContext) -> NextResponse:
    """Delete a post (its author or an admin)."""
    user = context.state.user
    with db.connect() as connection:
        row = db.get_post(connection, context.params["slug"])
        if row is None or (not row["published"] and not web.may_edit(user, row)):
            raise web.not_found()
        if not web.may_edit(user, row):
            raise web.forbidden("delete")
        db.delete_post(connection, row)
    return NextResponse(None, status=204)
