"""One WSGI app factory per framework, all serving the endpoints in ``benchmarks.workload``.

Module names end in ``_app`` so they never shadow the real ``flask``, ``falcon``
or ``bottle`` packages.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

#: Framework name -> module, in table order. "raw" is the floor, not a peer.
FRAMEWORKS = {
    "handlerkit": "benchmarks.apps.handlerkit_app",
    "raw": "benchmarks.apps.raw_app",
    "werkzeug": "benchmarks.apps.werkzeug_app",
    "flask": "benchmarks.apps.flask_app",
    "falcon": "benchmarks.apps.falcon_app",
    "bottle": "benchmarks.apps.bottle_app",
}

PEERS = ("werkzeug", "flask", "falcon", "bottle")

#: Not frameworks: "libs" does only E's unavoidable library work (see libs_app).
YARDSTICKS = {"libs": "benchmarks.apps.libs_app"}

_MODULES = {**FRAMEWORKS, **YARDSTICKS}


def create(name: str, extra_routes: int | None = None) -> Callable[..., Any]:
    """Return framework *name*'s WSGI app with *extra_routes* other routes (default ``EXTRA_ROUTES``)."""
    module = importlib.import_module(_MODULES[name])
    if extra_routes is None:
        return module.create()  # type: ignore[no-any-return]
    return module.create(extra_routes)  # type: ignore[no-any-return]


def endpoints(name: str) -> tuple[str, ...]:
    """Return the endpoints framework *name* serves (D and E need the handlerkit wrappers / Flask extensions)."""
    from benchmarks.workload import VARIED

    module = importlib.import_module(_MODULES[name])
    served = tuple(module.ENDPOINTS)
    # The varied-traffic variants hit the same routes with other values.
    return served + tuple(v for v, base in VARIED.items() if base in served)
