"""A wrapper for route modules in server tests: tags every answer with the worker that gave it."""

from __future__ import annotations

import functools
import os
from typing import Any

from handlerkit.errors import ApiError


def with_worker_pid(handler: Any) -> Any:
    """Add ``X-Worker-Pid`` to every answer, refusals (raised ``ApiError``) included."""

    @functools.wraps(handler)
    def wrapped(request: Any, context: Any) -> Any:
        try:
            response = handler(request, context)
        except ApiError as exc:
            exc.headers.append(("X-Worker-Pid", str(os.getpid())))
            raise
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return wrapped
