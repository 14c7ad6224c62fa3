"""GET /api/images/<name>: serve an image stored by ``POST /api/images``.

Only names the server generated are looked up (anything else is a 404 before
touching the disk), and the type comes from the stored extension, with
``nosniff`` so a browser never second-guesses it.
"""

import os

from handlerkit import ApiError, NextRequest, NextResponse, RouteContext

from ...._lib import images


def GET(request: NextRequest, context: RouteContext) -> NextResponse:
    name = context.params["name"]
    path = images.stored_path(name)
    if path is None or not os.path.isfile(path):
        raise ApiError(404, "not_found", "No such image.")
    with open(path, "rb") as source:
        data = source.read()
    return NextResponse(
        data,
        headers={
            "Content-Type": images.CONTENT_TYPES[name.rsplit(".", 1)[1]],
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )
