"""Conditional requests: ETag/Last-Modified validators, 304 Not Modified, If-Match preconditions.

Reads (``GET``/``HEAD``) opt in with :func:`with_conditional`: a buffered 200
response gets a weak ETag computed from its body (unless the handler set one),
and a request whose ``If-None-Match`` matches it, or whose
``If-Modified-Since`` is not older than the response's ``Last-Modified``, gets
``304 Not Modified`` with no body::

    @with_conditional
    def GET(request, context):
        post = load(context.params["id"])
        response = NextResponse.json(post)
        response.last_modified = post["updated_at"]   # Werkzeug's property
        return response

Writes use :func:`require_if_match` (optimistic locking): 428 when the client
sent no ``If-Match`` and one is required, 412 when it names a stale version::

    def PUT(request, context):
        post = load(context.params["id"])
        require_if_match(request, etag_for(post["version"]))
        ...
        response = NextResponse.json(saved)
        response.headers["ETag"] = etag_for(saved["version"])
        return response
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
from collections.abc import Callable
from typing import Any, overload

from werkzeug.http import parse_date, parse_etags, unquote_etag
from werkzeug.wrappers import Response

from ..context import RouteContext
from ..direct import respond
from ..errors import ApiError
from ..handlers import adapt_inner, mark_wrapper
from ..response import NextResponse

__all__ = [
    "etag_for",
    "is_not_modified",
    "not_modified_response",
    "require_if_match",
    "weak_etag",
    "with_conditional",
]

# Headers a 304 must not carry: it has no body to describe.
_BODY_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding", "content-range"})


def weak_etag(data: bytes) -> str:
    """Return a weak ETag for *data*: ``W/"<32 hex digits>"`` (BLAKE2b, 128 bits)."""
    return 'W/"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


def etag_for(version: Any) -> str:
    """Return a strong ETag for a version marker (a number, a hash, a timestamp string).

    ``etag_for(7) == '"7"'``. Use strong ETags for ``If-Match``: RFC 9110
    compares them strongly, so a weak ETag never satisfies ``If-Match``.
    """
    text = str(version)
    if not text or '"' in text or any(ord(char) < 0x21 or ord(char) == 0x7F for char in text):
        raise ValueError(
            "an ETag version must be non-empty printable text without quotes or spaces"
        )
    return f'"{text}"'


def is_not_modified(
    request: Any,
    *,
    etag: str | None = None,
    last_modified: _dt.datetime | str | None = None,
) -> bool:
    """Return whether the client's cached copy is current (so a 304 may be sent).

    ``If-None-Match`` is compared weakly with *etag* (``*`` matches any
    current representation); only when the client sent no ``If-None-Match``
    is ``If-Modified-Since`` compared with *last_modified*, at one-second
    precision. Call it early in a handler to skip building an expensive body.
    """
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        if etag is None:
            return False
        return bool(parse_etags(if_none_match).contains_weak(unquote_etag(etag)[0]))
    since = parse_date(request.headers.get("If-Modified-Since"))
    if since is None or last_modified is None:
        return False
    modified = parse_date(last_modified) if isinstance(last_modified, str) else last_modified
    if modified is None:
        return False
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=_dt.timezone.utc)
    return modified.replace(microsecond=0) <= since


def not_modified_response(response: Response) -> NextResponse:
    """Return a bodyless ``304 Not Modified`` carrying *response*'s headers minus the body's.

    ``ETag``, ``Cache-Control``, ``Vary``, ``Expires`` and ``Content-Location``
    are kept, as RFC 9110 asks; ``Content-Type``/``-Length`` go, and so does
    ``Last-Modified`` (dropped by Werkzeug for every 304).
    """
    result = NextResponse(None, 304)
    for key, value in response.headers.items():
        if key.lower() not in _BODY_HEADERS:
            result.headers.add(key, value)
    response.close()
    return result


def require_if_match(request: Any, current_etag: str | None, *, required: bool = True) -> None:
    """Check ``If-Match`` before a write (optimistic locking).

    Args:
        request: The request.
        current_etag: The resource's current strong ETag (see
            :func:`etag_for`), or ``None`` when the resource does not exist.
        required: Whether a request without ``If-Match`` is refused.

    Raises:
        ApiError: 428 ``precondition_required`` when *required* and the
            header is absent; 412 ``precondition_failed`` (with the current
            ``ETag`` header, so the client can re-read) when no listed ETag
            matches strongly.
    """
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise ApiError(
                428,
                "precondition_required",
                "This request must be conditional: send If-Match with the current ETag.",
            )
        return
    etags = parse_etags(header)
    if current_etag is not None:
        value, weak = unquote_etag(current_etag)
        if etags.star_tag or (not weak and etags.is_strong(value)):
            return
    headers = [("ETag", current_etag)] if current_etag is not None else []
    raise ApiError(
        412,
        "precondition_failed",
        "The resource has changed since it was read; fetch it again.",
        headers=headers,
    )


@overload
def with_conditional(handler: Callable[..., Any], /) -> Callable[..., Any]: ...


@overload
def with_conditional(
    handler: None = None, /, *, etag: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...


def with_conditional(handler: Callable[..., Any] | None = None, /, *, etag: bool = True) -> Any:
    """Answer ``GET``/``HEAD`` with 304 Not Modified when the client's copy is current.

    For a 200 response, a weak ETag is computed from the buffered body when
    the handler set none (streamed bodies are never buffered for it; set an
    ``ETag`` yourself to make them conditional). Then ``If-None-Match`` (or,
    without it, ``If-Modified-Since`` against the response's
    ``Last-Modified``) decides: a match gives a 304 with the ETag, cache and
    ``Vary`` headers and no body. Other methods and statuses pass through.

    Args:
        handler: The handler (when used bare).
        etag: Whether to compute a weak ETag from the body when none is set.
    """

    def decorate(inner: Callable[..., Any]) -> Callable[..., Any]:
        call = adapt_inner(inner)

        @functools.wraps(inner)
        def wrapped(request: Any, context: RouteContext | None = None) -> Any:
            if context is None:  # called directly: answer as the App would
                return respond(wrapped, request)
            response = call(request, context)
            if request.method not in ("GET", "HEAD"):
                return response
            if not isinstance(response, Response) or response.status_code != 200:
                return response
            current = response.headers.get("ETag")
            if (
                current is None
                and etag
                and not response.is_streamed
                and not response.direct_passthrough
            ):
                current = weak_etag(response.get_data())
                response.headers["ETag"] = current
            if is_not_modified(
                request, etag=current, last_modified=response.headers.get("Last-Modified")
            ):
                return not_modified_response(response)
            return response

        return mark_wrapper(wrapped, "with_conditional", etag=etag)

    if handler is not None:
        return decorate(handler)
    return decorate
