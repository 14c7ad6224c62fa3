"""An interactive API docs page (Swagger UI) for the App's OpenAPI document, served offline.

``App(openapi_path="/openapi.json", docs_path="/docs")`` answers ``GET /docs``
with a Swagger UI page for that document. The page and its assets come from the
``docs`` extra's ``swagger-ui-py`` package (Swagger UI 5, which reads OpenAPI
3.1), read once at startup and served by the App itself under ``/docs/``: no
CDN, so it works offline and behind a strict firewall. The page runs no inline
script and is sent with a ``Content-Security-Policy`` that allows only the
App's own origin.

It is off unless ``docs_path`` is given; leave it off in production unless the
API's description is public.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import TYPE_CHECKING, Any

from .errors import RouteDefinitionError
from .handlers import adapt_handler
from .response import NextResponse
from .routing.segments import Kind, parse_path
from .routing.tree import make_route

if TYPE_CHECKING:
    from collections.abc import Callable

    from .openapi import App  # the protocol: the App serves this page, so no import of app.py

__all__ = ["ASSETS", "add_docs_routes"]

#: The Swagger UI files served under the docs path, with their content types.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)

_INIT = """\
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.url,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""


def _page(title: str, base: str, document_url: str) -> str:
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n"
        f"<link rel=\"stylesheet\" href=\"{html.escape(base)}/swagger-ui.css\">\n"
        f"<link rel=\"icon\" type=\"image/png\" href=\"{html.escape(base)}/favicon-32x32.png\">\n"
        "</head>\n<body>\n"
        f"<div id=\"swagger-ui\" data-url=\"{html.escape(document_url)}\"></div>\n"
        f"<script src=\"{html.escape(base)}/swagger-ui-bundle.js\"></script>\n"
        f"<script src=\"{html.escape(base)}/init.js\"></script>\n"
        "</body>\n</html>\n"
    )


def _read_assets() -> dict[str, bytes]:
    try:
        static = resources.files("swagger_ui") / "static"
        return {name: (static / name).read_bytes() for name in ASSETS}
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise RouteDefinitionError(
            "App(docs_path=...) needs Swagger UI from the docs extra: pip install 'handlerkit[docs]'",
            ["App(docs_path=...)"],
        ) from exc


def add_docs_routes(
    app: App,
    docs_path: str,
    openapi_path: str | None,
    *,
    title: str = "API docs",
    wrap: Callable[[Any], Any] | None = None,
) -> None:
    """Add ``GET docs_path`` (the page) and its assets under ``docs_path/`` to *app*.

    Args:
        app: The App, with its routes already built.
        docs_path: A static URL path inside the app, e.g. ``"/docs"``.
        openapi_path: The App's ``openapi_path``; the page shows that document.
        title: The page's title.
        wrap: The App's ``wrap``, applied to these routes as to every other.

    Raises:
        RouteDefinitionError: No ``openapi_path``, *docs_path* is not static or
            is taken, or the ``docs`` extra is not installed.
    """
    source = f"App(docs_path={docs_path!r})"
    if openapi_path is None:
        raise RouteDefinitionError(
            f"docs_path {docs_path!r} needs openapi_path: the page shows that document", [source]
        )
    segments = parse_path(docs_path, source)
    if any(s.kind is not Kind.STATIC for s in segments):
        raise RouteDefinitionError(f"docs_path {docs_path!r} must be a static path", [source])
    base = app.base_path + "/" + "/".join(s.value for s in segments) if segments else app.base_path
    files: dict[str, tuple[bytes, str]] = {
        name: (body, ASSETS[name]) for name, body in _read_assets().items()
    }
    files["init.js"] = (_INIT.encode(), "text/javascript; charset=utf-8")
    page = _page(title, base, app.base_path + openapi_path).encode()

    def add(path: str, body: bytes, content_type: str, doc: str) -> None:
        def GET() -> NextResponse:  # noqa: N802 - a route handler
            response = NextResponse(body, 200, {"Content-Type": content_type})
            response.headers["Content-Security-Policy"] = _CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Cache-Control"] = "no-cache"
            return response

        GET.__doc__ = doc
        route = make_route(parse_path(path, source), source, None, exports={"GET": GET})
        route.extra["openapi_document"] = True  # never described in the document itself
        route.extra["max_body_size"] = app.max_body_size
        route.extra["middleware"] = ()
        handler = adapt_handler(GET, source=source)
        route.handlers["GET"] = wrap(handler) if wrap is not None else handler
        app.table.add(route)

    add(docs_path, page, "text/html; charset=utf-8", "The interactive API docs page.")
    for name, (body, content_type) in files.items():
        add(docs_path.rstrip("/") + "/" + name, body, content_type, f"Swagger UI's {name}.")
