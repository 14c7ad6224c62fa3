"""Endpoint E's unavoidable library work and nothing else: not a framework, a yardstick.

Any implementation of E must parse the JSON body, run marshmallow's
``ItemSchema.load`` and emit one access record through the stdlib logger
(formatted and written by the same handler as every other app's). This WSGI
callable does exactly that, with the record made directly (no caller lookup)
and a prebuilt message, then returns a canned answer. ``inprocess.py`` times
it with the frameworks, so "E's overhead over A" can be set against what those
libraries cost on their own in the same run. The token check is left out:
handlerkit remembers verified tokens, so a repeat does not pay itsdangerous.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from benchmarks.workload import EXPECTED, EXTRA_ROUTES

ENDPOINTS = ("E",)


def create(extra_routes: int = EXTRA_ROUTES) -> Callable[..., Iterable[bytes]]:
    """Return the WSGI callable (it serves E only; *extra_routes* is ignored)."""
    from benchmarks.workload import ItemSchema, access_logger

    schema = ItemSchema()
    log = access_logger("bench.libs.access")
    status, data = EXPECTED["E"]
    body = json.dumps(data).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    line = json.dumps(
        {"method": "POST", "path": "/items", "query": None, "route": "/items", "status": status}
    )

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        schema.load(json.loads(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))))
        log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, line, (), None))
        start_response("201 CREATED", headers)
        return [body]

    return app
