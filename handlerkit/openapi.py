"""OpenAPI 3.1: the document describing an App, built from its routes, wrapper labels and responses.

Nothing here is written by hand twice. The paths come from the route table,
the methods from what each ``route.py`` exports, request bodies and query
parameters from the ``with_validation`` layer found along each handler's
wrapper chain, security from ``with_auth``, the framework's own error answers
from the wrappers that can produce them, and summaries from docstrings.
Marshmallow schemas are converted by apispec's ``MarshmallowPlugin``.

A handler names what it answers with :func:`responses`, a marker that adds
no behaviour::

    from handlerkit.openapi import responses

    @responses({200: PostSchema, 404: None})
    @compose(with_auth)
    def GET(request, context): ...

apispec (the ``openapi`` extra) is imported only when a document is built,
so route modules can use :func:`responses` without it installed.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .errors import RouteDefinitionError
from .handlers import adapt_handler, wrapper_chain
from .response import NextResponse
from .routing.segments import Kind, Segment, parse_path
from .routing.tree import make_route

if TYPE_CHECKING:
    from .routing.tree import Route, RouteTable


class App(Protocol):
    """What the document is built from: a :class:`handlerkit.App` has all of it.

    A protocol rather than the class, so that the App may serve its own
    document (``openapi_path=``) without the two modules importing each other.
    """

    routes: list[Route]
    table: RouteTable
    base_path: str
    trailing_slash: bool
    max_body_size: int | None

__all__ = [
    "ERROR_SCHEMA",
    "OPENAPI_VERSION",
    "RESPONSES_ATTRIBUTE",
    "add_document_route",
    "build_spec",
    "declared_responses",
    "responses",
    "spec_json",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The OpenAPI version of every document built here.
OPENAPI_VERSION = "3.1.0"

#: The attribute :func:`responses` sets on a handler.
RESPONSES_ATTRIBUTE = "__handlerkit_responses__"

#: The one JSON error shape, as a JSON Schema (the ``Error`` component).
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "handlerkit's one error shape.",
    "properties": {
        "error": {"type": "string", "description": "A machine-readable code, e.g. not_found."},
        "message": {"type": "string", "description": "A human-readable sentence."},
        "details": {"description": "Extra data, e.g. field messages for 422."},
    },
    "required": ["error", "message"],
    "additionalProperties": False,
}

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "QUERY"})
_BEARER = "bearerAuth"
_PARAM_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 1024}
_URI_TOO_LONG = (
    "URI Too Long: the request line is over the server's limit (gunicorn: 4094 bytes by "
    "default). The server answers before the app: the Error shape under handlerkit serve, "
    "the server's own body elsewhere."
)
_STATUS_KEY = re.compile(r"^[1-5](?:[0-9]{2}|XX)$")

# The statuses each built-in wrapper can answer with on its own, given its label and the method.
_WRAPPER_STATUSES: dict[str, Callable[[Mapping[str, Any], str], Iterable[int]]] = {
    "with_auth": lambda label, method: (401, 403) if label.get("roles") else (401,),
    "with_rate_limit": lambda label, method: (
        (429, 503) if label.get("on_storage_error") == "closed" else (429,)
    ),
    "with_validation": lambda label, method: (
        ((400, 413, 415, 422) if label.get("body") is not None else ())
        + ((422,) if label.get("query") is not None else ())
    ),
    "with_idempotency": lambda label, method: (
        (400, 409, 422, 503) if method in label.get("methods", ()) else ()
    ),
    "with_conditional": lambda label, method: (304,) if method in ("GET", "HEAD") else (),
    "with_webhook_signature": lambda label, method: (400, 401),
}


# --------------------------------------------------------------------------- declaring


def responses(declared: Mapping[int | str, Any]) -> Callable[[F], F]:
    """Declare, for the OpenAPI document, what a handler answers with, by status.

    It is a marker, not a wrapper: the handler is returned unchanged, with the
    declaration attached. Put it anywhere in a decorator stack.

    Each value is one of:

    - a marshmallow ``Schema`` class or instance (``PostSchema(many=True)`` for a list);
    - a JSON Schema ``dict``, used as is;
    - ``None``: no body below 400, the one error shape (``Error``) from 400 up,
      since ``ApiError`` always answers in it.

    Keys are statuses (``201``) or ranges (``"2XX"``).

    Args:
        declared: Status -> schema.

    Returns:
        A decorator that attaches *declared* to the handler.

    Raises:
        RouteDefinitionError: A key is not a status between 100 and 599.
    """
    checked: dict[str, Any] = {}
    for status, schema in declared.items():
        key = str(status).upper()
        if isinstance(status, bool) or not _STATUS_KEY.match(key):
            raise RouteDefinitionError(
                f"responses(): {status!r} is not an HTTP status (100-599 or '2XX')", []
            )
        checked[key] = schema

    def decorator(func: F) -> F:
        if not callable(func):
            raise RouteDefinitionError(f"responses() decorates a handler, not {func!r}", [])
        setattr(func, RESPONSES_ATTRIBUTE, checked)
        return func

    return decorator


def declared_responses(handler: Callable[..., Any]) -> dict[str, Any] | None:
    """Return what :func:`responses` declared on *handler* or any layer inside it, or ``None``."""
    current: Any = handler
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = getattr(current, RESPONSES_ATTRIBUTE, None)
        if found is not None:
            return found  # type: ignore[no-any-return]  # set by responses() only
        current = getattr(current, "__wrapped__", None)
    return None


# --------------------------------------------------------------------------- building


def build_spec(
    app: App,
    *,
    title: str = "handlerkit API",
    version: str = "0.1.0",
    description: str | None = None,
    servers: Sequence[Mapping[str, Any]] | None = None,
    automatic_methods: Iterable[str] = ("HEAD",),
) -> dict[str, Any]:
    """Return an OpenAPI 3.1 document for *app*.

    Args:
        app: The application to describe.
        title: ``info.title``.
        version: ``info.version`` (the API's version, not OpenAPI's).
        description: ``info.description``.
        servers: ``servers``; by default ``[{"url": base_path}]`` when the app has one.
        automatic_methods: Which of the App's automatic methods to describe:
            ``"HEAD"`` (for routes exporting GET; the default) and ``"OPTIONS"``
            (every route; off by default, because it answers for the URL
            pattern, not for a resource: see docs/openapi.md).

    Returns:
        The document as a JSON-ready ``dict``.

    Raises:
        ImportError: apispec is not installed (``pip install handlerkit[openapi]``).
    """
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    info: dict[str, Any] = {}
    if description:
        info["description"] = description
    if servers is not None:
        info["servers"] = [dict(server) for server in servers]
    elif app.base_path:
        info["servers"] = [{"url": app.base_path}]
    spec = APISpec(
        title=title,
        version=version,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        **info,
    )
    spec.components.schema("Error", ERROR_SCHEMA)
    automatic = {method.upper() for method in automatic_methods}
    operation_ids: set[str] = set()
    schemes: dict[str, dict[str, Any]] = {}
    for route in sorted(app.routes, key=lambda r: r.pattern):
        if route.extra.get("openapi_document"):
            continue
        for path, segments, extension in _path_templates(route, app.trailing_slash):
            operations: dict[str, Any] = {}
            for method in route.methods:
                operations[method.lower()] = _operation(
                    route, method, segments, operation_ids, schemes
                )
            # OpenAPI 3.1 has no QUERY operation (3.2 adds "query"): a 3.1 document
            # carries it as the path item's "x-query" extension.
            query = operations.pop("query", None)
            if query is not None:
                extension = {**extension, "x-query": query}
            if "HEAD" in automatic and "GET" in route.exports and "HEAD" not in route.exports:
                operations["head"] = _head(operations["get"], operation_ids)
            if "OPTIONS" in automatic and "OPTIONS" not in route.exports:
                operations["options"] = _options(route, segments, operation_ids)
            spec.path(path=path, operations=operations, parameters=_path_parameters(segments))
            if extension:
                spec._paths[path].update(
                    extension
                )  # vendor keys on the path item; apispec has no API for them
    for name, scheme in sorted(schemes.items()):
        spec.components.security_scheme(name, scheme)
    document: dict[str, Any] = spec.to_dict()
    return document


def spec_json(app: App, **options: Any) -> bytes:
    """Return :func:`build_spec` as compact UTF-8 JSON bytes."""
    return json.dumps(build_spec(app, **options), separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _path_templates(
    route: Route, trailing_slash: bool
) -> list[tuple[str, list[Segment], dict[str, Any]]]:
    """Return ``(OpenAPI path, segments, path-item extensions)``; two for an optional catch-all."""
    segments = list(route.segments)
    last = segments[-1] if segments else None
    found: list[tuple[str, list[Segment], dict[str, Any]]] = []
    if last is not None and last.kind is Kind.OPTIONAL_CATCH_ALL:
        found.append(
            (
                _template(segments[:-1], trailing_slash),
                segments[:-1],
                {
                    "x-handlerkit-route": route.pattern,
                    "x-handlerkit-optional-catch-all": last.value,
                },
            )
        )
    found.append(
        (_template(segments, trailing_slash), segments, {"x-handlerkit-route": route.pattern})
    )
    return found


def _template(segments: list[Segment], trailing_slash: bool) -> str:
    parts = [f"{{{s.value}}}" if s.kind is not Kind.STATIC else s.value for s in segments]
    path = "/" + "/".join(parts)
    return path + "/" if trailing_slash and parts else path


def _path_parameters(segments: list[Segment]) -> list[dict[str, Any]]:
    parameters = []
    for segment in segments:
        if segment.kind is Kind.STATIC:
            continue
        parameter: dict[str, Any] = {
            "name": segment.value,
            "in": "path",
            "required": True,
            "schema": dict(_PARAM_SCHEMA),
        }
        if segment.kind is Kind.DYNAMIC:
            parameter["description"] = "One URL segment; `.`, `..` and NUL are refused with 400."
        else:
            optional = segment.kind is Kind.OPTIONAL_CATCH_ALL
            parameter["x-handlerkit-catch-all"] = "optional" if optional else "required"
            kind = "An optional catch-all" if optional else "A catch-all"
            parameter["description"] = (
                f"{kind} ({segment}): the server takes one or more segments here and hands "
                "the handler a list. OpenAPI path parameters cannot contain `/`, so this "
                "document describes one segment; a client may send more."
                + (" The path without it is described separately." if optional else "")
            )
        parameters.append(parameter)
    return parameters


def _operation(
    route: Route,
    method: str,
    segments: list[Segment],
    operation_ids: set[str],
    schemes: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    export = route.exports[method]
    handler = route.handlers.get(method, export)
    chain = wrapper_chain(handler)
    operation: dict[str, Any] = {"operationId": _operation_id(method, segments, operation_ids)}
    summary, text = _docstring(export)
    if summary:
        operation["summary"] = summary
    if text:
        operation["description"] = text

    errors: set[int] = set()
    validation = next((layer for layer in chain if layer.get("name") == "with_validation"), None)
    for layer in chain:
        statuses = _WRAPPER_STATUSES.get(str(layer.get("name")))
        if statuses is not None:
            errors.update(statuses(layer, method))
    if any(s.kind is not Kind.STATIC for s in segments):
        errors.update(
            (400, 404, 414)
        )  # invalid_param from the App; a missing resource from the handler
    body_schema = validation.get("body") if validation else None
    if method in _BODY_METHODS or body_schema is not None:
        errors.update((400, 413))  # malformed JSON; Content-Length above the route's limit
    query_schema = validation.get("query") if validation else None
    if query_schema is not None:
        operation["parameters"] = [{"in": "query", "schema": query_schema}]
        errors.add(414)
    if body_schema is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body_schema}},
        }
    auth = next((layer for layer in chain if layer.get("name") == "with_auth"), None)
    secured = auth is not None
    if auth is not None:
        operation["security"] = _security(auth, schemes)

    declared = declared_responses(export) or declared_responses(handler)
    operation["responses"] = _responses(declared, errors, secured)
    return operation


def _security(
    label: Mapping[str, Any], schemes: dict[str, dict[str, Any]]
) -> list[dict[str, list[str]]]:
    """Return an operation's ``security`` for a ``with_auth`` label, registering its schemes."""
    schemes[_BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A token in `Authorization: Bearer <token>`, checked by with_auth.",
    }
    alternatives: list[dict[str, list[str]]] = [{_BEARER: []}]
    cookie = label.get("cookie")
    if cookie:
        name = "cookie_" + re.sub(r"[^A-Za-z0-9_.-]", "_", str(cookie))
        schemes[name] = {
            "type": "apiKey",
            "in": "cookie",
            "name": str(cookie),
            "description": "The same token in a cookie, used without an Authorization header.",
        }
        alternatives.append({name: []})
    return alternatives


def _responses(
    declared: Mapping[str, Any] | None, errors: set[int], secured: bool
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if declared is None:
        result["2XX"] = {"description": "Success (the handler declares no response schema)."}
    else:
        for key, schema in declared.items():
            result[key] = _response(key, schema)
    for status in sorted(errors):
        key = str(status)
        if key in result:
            continue
        if status < 400:
            result[key] = {"description": _phrase(key)}
        elif status == 414:
            result[key] = {"description": _URI_TOO_LONG}
        else:
            result[key] = _response(key, None)
    if "401" in result and secured:
        result["401"]["headers"] = {
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`."}
        }
    if "429" in result:
        result["429"]["headers"] = {
            "Retry-After": {
                "schema": {"type": "integer", "minimum": 1},
                "description": "Seconds to wait.",
            }
        }
    return dict(sorted(result.items()))


def _response(key: str, schema: Any) -> dict[str, Any]:
    response: dict[str, Any] = {"description": _phrase(key)}
    if schema is None:
        if key[0] in "45":
            response["content"] = {"application/json": {"schema": dict(_ERROR_REF)}}
        return response
    response["content"] = {"application/json": {"schema": schema}}
    return response


def _phrase(key: str) -> str:
    try:
        return HTTPStatus(int(key)).phrase
    except ValueError:
        return {
            "1": "Informational",
            "2": "Success",
            "3": "Redirection",
            "4": "Client error",
            "5": "Server error",
        }[key[0]]


def _head(get: dict[str, Any], operation_ids: set[str]) -> dict[str, Any]:
    head: dict[str, Any] = {
        "operationId": _unique("head" + get["operationId"][3:], operation_ids),
        "summary": "The GET answer's status and headers, without a body (automatic).",
        "responses": {
            key: {k: v for k, v in value.items() if k != "content"}
            for key, value in get["responses"].items()
        },
    }
    if "parameters" in get:
        head["parameters"] = [dict(p) for p in get["parameters"]]  # apispec resolves them in place
    if "security" in get:
        head["security"] = get["security"]
    return head


def _options(route: Route, segments: list[Segment], operation_ids: set[str]) -> dict[str, Any]:
    responses_: dict[str, Any] = {
        "204": {
            "description": "The methods this URL allows (automatic).",
            "headers": {"Allow": {"schema": {"type": "string"}, "required": True}},
        }
    }
    if any(s.kind is not Kind.STATIC for s in segments):
        responses_["400"] = _response("400", None)
    cors = bool(route.preflights)  # a with_cors chain answers preflights, also with 204
    return {
        "operationId": _operation_id("OPTIONS", segments, operation_ids),
        "summary": "The allowed methods, or a CORS preflight answer (automatic)."
        if cors
        else "The allowed methods (automatic).",
        "responses": responses_,
    }


def _operation_id(method: str, segments: list[Segment], operation_ids: set[str]) -> str:
    words = [re.sub(r"[^A-Za-z0-9]+", "_", s.value).strip("_") for s in segments] or ["root"]
    return _unique("_".join([method.lower(), *[w for w in words if w]]), operation_ids)


def _unique(candidate: str, operation_ids: set[str]) -> str:
    name, n = candidate, 2
    while name in operation_ids:
        name, n = f"{candidate}_{n}", n + 1
    operation_ids.add(name)
    return name


def _docstring(func: Callable[..., Any]) -> tuple[str, str]:
    doc = inspect.getdoc(inspect.unwrap(func)) or ""
    summary, _, rest = doc.partition("\n")
    return summary.strip(), rest.strip()


# --------------------------------------------------------------------------- serving


def add_document_route(
    app: App, path: str, *, wrap: Callable[[Any], Any] | None = None, **options: Any
) -> Route:
    """Build *app*'s document once and add a ``GET path`` route serving it (``openapi_path=``).

    The route goes through the route table's usual checks, so a ``route.py``
    at the same URL is a :class:`~handlerkit.errors.DuplicateRouteError`. The
    document describes the app's own routes, not this one.

    Args:
        app: The App, with its handlers already set.
        path: A static URL path inside the app, e.g. ``"/openapi.json"``.
        wrap: The App's ``wrap``, applied to this route as to every other.
        **options: Passed to :func:`build_spec` (``title``, ``version`` ...).

    Returns:
        The added route.

    Raises:
        InvalidSegmentError, RouteDefinitionError: *path* is not a static path,
            or another route already answers it.
    """
    source = f"App(openapi_path={path!r})"
    segments = parse_path(path, source)
    if any(s.kind is not Kind.STATIC for s in segments):
        raise RouteDefinitionError(f"openapi_path {path!r} must be a static path", [source])
    body = spec_json(app, **options)

    def GET() -> NextResponse:  # noqa: N802 - a route handler
        """The OpenAPI 3.1 document of this app."""
        return NextResponse(body, 200, {"Content-Type": "application/json"})

    route = make_route(segments, source, None, exports={"GET": GET})
    route.extra["openapi_document"] = True
    route.extra["max_body_size"] = app.max_body_size
    route.extra["middleware"] = ()  # no middleware.py folder; the root middleware still runs
    handler = adapt_handler(GET, source=source)
    route.handlers["GET"] = wrap(handler) if wrap is not None else handler
    app.table.add(route)
    return route
