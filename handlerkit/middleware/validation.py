"""with_validation: checking a request's JSON body and query string against marshmallow schemas."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any, cast, overload

from marshmallow import RAISE, Schema, ValidationError, fields

from ..context import RouteContext
from ..direct import respond
from ..errors import ApiError
from ..handlers import adapt_inner, mark_wrapper
from ..typing import RouteHandler
from .errors import validation_error

__all__ = ["is_json_mimetype", "with_validation"]

logger = logging.getLogger("handlerkit")

_JSON_SUFFIX = re.compile(r"application/[a-z0-9!#$&^_.+-]+\+json")

#: At most this many entries per level of ``details``, keys clipped to this length,
#: so an attacker's 10 000 unknown fields do not come back as a 10 000-entry answer.
MAX_DETAIL_ENTRIES = 50
MAX_DETAIL_KEY = 100

SchemaArg = type[Schema] | Schema


def is_json_mimetype(mimetype: str) -> bool:
    """Return whether *mimetype* (lower-case, no parameters) is JSON.

    JSON is ``application/json`` and any ``application/*+json``.
    """
    return mimetype == "application/json" or bool(_JSON_SUFFIX.fullmatch(mimetype))


def _resolve(schema: SchemaArg | None, unknown: str | None, where: str) -> Schema | None:
    if schema is None:
        return None
    if isinstance(schema, type) and issubclass(schema, Schema):
        return schema(unknown=cast(Any, unknown or RAISE))
    if isinstance(schema, Schema):
        return schema
    raise TypeError(
        f"with_validation({where}=...) takes a marshmallow Schema class or instance, not {schema!r}"
    )


def _list_keys(schema: Schema) -> frozenset[str]:
    """Query keys whose every value is wanted (``List`` fields), by their data key."""
    return frozenset(
        field.data_key or name
        for name, field in schema.fields.items()
        if isinstance(field, fields.List) and not field.dump_only
    )


def _clean(messages: Any, depth: int = 0) -> Any:
    if isinstance(messages, dict):
        cleaned: dict[Any, Any] = {}
        for index, (key, value) in enumerate(messages.items()):
            if index >= MAX_DETAIL_ENTRIES:
                cleaned["_truncated"] = [f"{len(messages) - index} more entries not shown."]
                break
            if isinstance(key, str) and len(key) > MAX_DETAIL_KEY:
                key = key[:MAX_DETAIL_KEY] + "..."
            cleaned[key] = _clean(value, depth + 1) if depth < 8 else value
        return cleaned
    if isinstance(messages, list):
        return [_clean(m, depth + 1) if depth < 8 else m for m in messages[:MAX_DETAIL_ENTRIES]]
    return messages


def _load(schema: Schema, data: Any, unknown: str | None, where: str) -> Any:
    try:
        return schema.load(data, unknown=cast(Any, unknown)) if unknown else schema.load(data)
    except ValidationError as exc:
        raise validation_error({where: _clean(exc.messages)}) from exc
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # A field choking on hostile input (a huge number, say) is the client's
        # problem, not a 500; the traceback stays in the log at debug level.
        logger.debug("with_validation: the %s schema raised on input", where, exc_info=True)
        raise validation_error({where: {"_schema": ["Invalid input."]}}) from exc


@overload
def with_validation(handler: Callable[..., Any]) -> RouteHandler: ...


@overload
def with_validation(
    handler: None = None,
    *,
    body: SchemaArg | None = None,
    query: SchemaArg | None = None,
    unknown: str | None = None,
) -> Callable[[Callable[..., Any]], RouteHandler]: ...


def with_validation(
    handler: Callable[..., Any] | None = None,
    *,
    body: SchemaArg | None = None,
    query: SchemaArg | None = None,
    unknown: str | None = None,
) -> Any:
    """Validate the JSON body and/or the query string before the handler runs.

    Valid data (as loaded by marshmallow: converted, defaults applied) goes to
    ``context.state.body`` and ``context.state.query``::

        @with_validation(body=CreateUser, query=Paging)
        def POST(request, context):
            user = create(**context.state.body)

    Answers, in the one error shape:

    - 415 ``unsupported_media_type`` when a body schema is given and the
      request's ``Content-Type`` is not JSON (``application/json`` or
      ``application/*+json``, any ``charset``), or is missing;
    - 400 ``invalid_json`` for malformed JSON, an empty body, bad UTF-8,
      too-deep nesting or an integer over 4300 digits (``request.json()``);
    - 422 ``validation_error`` with the field messages under
      ``details["body"]`` or ``details["query"]``: wrong types, missing or
      unknown fields, and a top-level array, string or ``null`` where an
      object is expected.

    Unknown fields are refused (marshmallow ``RAISE``) unless *unknown* says
    otherwise. Query values are strings; a ``fields.List`` field receives
    every value of a repeated parameter, other fields the first.

    Args:
        handler: Not used bare: give ``body=`` and/or ``query=``.
        body: A marshmallow ``Schema`` class or instance for the JSON body.
        query: A ``Schema`` class or instance for the query parameters.
        unknown: ``marshmallow.RAISE`` (default), ``EXCLUDE`` or ``INCLUDE``.

    Raises:
        TypeError: Neither *body* nor *query* was given, or one is not a Schema.
    """
    if body is None and query is None:
        raise TypeError("with_validation needs body=Schema and/or query=Schema")
    body_schema = _resolve(body, unknown, "body")
    query_schema = _resolve(query, unknown, "query")
    list_keys = _list_keys(query_schema) if query_schema is not None else frozenset()

    def wrap(target: Callable[..., Any]) -> RouteHandler:
        inner = adapt_inner(target)

        @functools.wraps(target)
        def wrapped(request: Any, context: RouteContext | None = None) -> Any:
            if context is None:  # called directly: answer as the App would
                return respond(wrapped, request)
            if query_schema is not None:
                args = request.args
                data = {
                    key: args.getlist(key) if key in list_keys else args[key] for key in args
                }
                context.state.query = _load(query_schema, data, unknown, "query")
            if body_schema is not None:
                # PERF: the exact, most common header skips Werkzeug's
                # Content-Type parse (1 of with_validation's 32 µs, cProfile
                # of benchmarks/wrappers.py's layer, 2026-11-21).
                exact = request.environ.get("CONTENT_TYPE") == "application/json"
                if not exact and not is_json_mimetype(request.mimetype):
                    raise ApiError(
                        415,
                        "unsupported_media_type",
                        "The request body must be JSON (Content-Type: application/json).",
                    )
                context.state.body = _load(body_schema, request.json(), unknown, "body")
            return inner(request, context)

        return mark_wrapper(
            wrapped, "with_validation", body=body_schema, query=query_schema
        )

    return wrap if handler is None else wrap(handler)
