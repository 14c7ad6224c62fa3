"""handlerkit: Next.js App Router route handlers for Python WSGI.

Files define routes, functions handle requests, wrappers add behaviour.

The wrappers are imported on first use (PEP 562), so importing handlerkit does
not import ``limits``, ``redis`` or ``marshmallow`` until a route needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .app import App, create_app
from .context import RouteContext
from .errors import ApiError, HandlerKitError, RouteDefinitionError
from .request import NextRequest
from .response import NextResponse
from .routing import Router
from .typing import Handler, RouteHandler, Wrapper

if TYPE_CHECKING:
    from .middleware.auth import with_auth
    from .middleware.cache import with_cache
    from .middleware.compose import compose
    from .middleware.conditional import with_conditional
    from .middleware.cors import with_cors
    from .middleware.errors import with_error_handling
    from .middleware.idempotency import with_idempotency
    from .middleware.log import with_logging
    from .middleware.rate_limit import with_rate_limit
    from .middleware.validation import with_validation
    from .webhooks import with_webhook_signature

__version__ = "0.1.0.dev0"

# name -> module that defines it, imported on first attribute access.
_LAZY = {
    "compose": ".middleware.compose",
    "with_auth": ".middleware.auth",
    "with_cache": ".middleware.cache",
    "with_conditional": ".middleware.conditional",
    "with_cors": ".middleware.cors",
    "with_error_handling": ".middleware.errors",
    "with_idempotency": ".middleware.idempotency",
    "with_logging": ".middleware.log",
    "with_rate_limit": ".middleware.rate_limit",
    "with_validation": ".middleware.validation",
    "with_webhook_signature": ".webhooks",
}

__all__ = [
    "ApiError",
    "App",
    "Handler",
    "HandlerKitError",
    "NextRequest",
    "NextResponse",
    "RouteContext",
    "RouteDefinitionError",
    "RouteHandler",
    "Router",
    "Wrapper",
    "compose",
    "create_app",
    "with_auth",
    "with_cache",
    "with_conditional",
    "with_cors",
    "with_error_handling",
    "with_idempotency",
    "with_logging",
    "with_rate_limit",
    "with_validation",
    "with_webhook_signature",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'handlerkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
