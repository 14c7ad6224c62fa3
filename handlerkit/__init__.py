"""handlerkit: Next.js App Router route handlers for Python WSGI.

Files define routes, functions handle requests, wrappers add behaviour.
"""

from __future__ import annotations

from .app import App, create_app
from .context import RouteContext
from .errors import ApiError, HandlerKitError, RouteDefinitionError
from .request import NextRequest
from .response import NextResponse
from .routing import Router
from .typing import Handler, Wrapper

__version__ = "0.1.0.dev0"

__all__ = [
    "ApiError",
    "App",
    "Handler",
    "HandlerKitError",
    "NextRequest",
    "NextResponse",
    "RouteContext",
    "RouteDefinitionError",
    "Router",
    "Wrapper",
    "create_app",
]
