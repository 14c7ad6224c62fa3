"""with_cache: storing whole GET/HEAD 200 responses in a store and answering repeats from it.

The cache key is the method, the path (with the matched route pattern and its
decoded params), the query string in canonical (sorted) order and the values
of the request headers declared in ``vary``; nothing else
a client sends (``X-Forwarded-Host``, ``Host``, ...) can change which entry is
read or written, so it cannot be used to poison the cache.

What is never stored:

- anything but a buffered 200 answer to GET (streamed bodies are passed
  through untouched, never consumed); HEAD is answered from the GET entry but
  never writes one;
- a response that sets a cookie, or whose ``Cache-Control`` says ``private``,
  ``no-store`` or ``no-cache``;
- a response with ``Vary: *`` or varying on a header not declared in ``vary``
  (``Authorization`` included);
- anything for a request carrying ``Authorization`` or ``Cookie``, unless that
  header is declared in ``vary`` (and so part of the key): such answers are
  usually personal.

This module also turns the ``revalidate``/``dynamic`` segment config into a
wrapper (:func:`segment_cache`), which the App applies to GET and HEAD.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, overload

from ..context import RouteContext
from ..direct import respond
from ..errors import ApiError
from ..handlers import adapt_inner, mark_wrapper
from ..response import NextResponse
from ..static import static_request
from ..stores import Store, StoreError, resolve_store
from ..typing import RouteHandler, Wrapper

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from ..request import NextRequest

__all__ = ["is_storable", "segment_cache", "with_cache"]

logger = logging.getLogger("handlerkit.cache")

#: QUERY is safe and cacheable too, keyed by its body (the IETF QUERY draft).
_CACHEABLE_METHODS = frozenset({"GET", "HEAD", "QUERY"})
_PRIVATE_REQUEST_HEADERS = ("authorization", "cookie")
_UNCACHEABLE_DIRECTIVES = frozenset({"private", "no-store", "no-cache"})
# Headers that describe this one exchange, not the representation: never replayed.
_NOT_STORED = frozenset(
    {
        "age",
        "connection",
        "content-length",
        "date",
        "keep-alive",
        "retry-after",
        "set-cookie",
        "transfer-encoding",
        "x-cache",
        "x-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-status",
    }
)
_FORMAT = 1


def _directives(value: str | None) -> set[str]:
    if not value:
        return set()
    return {part.split("=", 1)[0].strip().lower() for part in value.split(",")}


def _vary_names(value: str | None) -> set[str]:
    if not value:
        return set()
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def bypasses_cache(request: NextRequest, declared: frozenset[str]) -> bool:
    """Return whether *request* carries ``Authorization``/``Cookie`` not declared in ``vary``."""
    environ = request.environ
    return ("authorization" not in declared and "HTTP_AUTHORIZATION" in environ) or (
        "cookie" not in declared and "HTTP_COOKIE" in environ
    )


def is_storable(response: Response, declared: frozenset[str] = frozenset()) -> bool:
    """Return whether *response* may be stored by a shared cache keyed on *declared* headers.

    Args:
        response: The handler's response.
        declared: Lower-case header names that are part of the cache key.
    """
    if response.status_code != 200 or response.is_streamed or response.direct_passthrough:
        return False
    if getattr(response, "middleware_action", None) is not None:
        return False
    headers = response.headers
    if "Set-Cookie" in headers or "_hk_pending_signed" in response.__dict__:
        return False
    if _directives(headers.get("Cache-Control")) & _UNCACHEABLE_DIRECTIVES:
        return False
    vary = _vary_names(headers.get("Vary"))
    return "*" not in vary and vary <= declared


def _canonical_query(request: NextRequest) -> str:
    # The raw fields, sorted: request.args keeps an invalid escape (%FF)
    # literally while handlers read searchParams (U+FFFD), so decoded pairs
    # would let ?q=%FF and ?q=%25FF share an entry. Raw bytes never collide.
    fields = sorted(f for f in request.query_string.split(b"&") if f)
    return b"&".join(fields).decode("latin-1")


def _cache_key(request: NextRequest, context: RouteContext, vary: tuple[str, ...]) -> str:
    # HEAD reads the GET entry: the same representation, without the body.
    method = "GET" if request.method == "HEAD" else request.method
    # The decoded path alone is ambiguous ("/a%2Fb" and "/a/b" decode alike but
    # may reach different routes or params), so the route and params join it.
    # Scheme and host as the request sees them (after ProxyFix and the App's
    # trusted hosts): a handler building absolute URLs from request.nextUrl
    # answers differently per host, so a forged Host gets its own entry.
    parts: list[Any] = [
        method,
        request.scheme,
        request.host,
        request.root_path + request.path,
        context.route,
        context.params,
        _canonical_query(request),
    ]
    if method == "QUERY":  # the query is the body: its media type and bytes join the key
        parts.append(request.environ.get("CONTENT_TYPE", ""))
        parts.append(hashlib.sha256(request.bytes()).hexdigest())
    for name in vary:
        parts.append(request.headers.get(name))
    raw = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def _encode(response: Response, body: bytes) -> bytes:
    headers = [[k, v] for k, v in response.headers.items() if k.lower() not in _NOT_STORED]
    head = {"v": _FORMAT, "status": response.status_code, "headers": headers, "at": time.time()}
    return json.dumps(head, separators=(",", ":")).encode("utf-8") + b"\n" + body


def _decode(data: bytes) -> NextResponse | None:
    head_raw, sep, body = data.partition(b"\n")
    if not sep:
        return None
    try:
        head = json.loads(head_raw)
        if head.get("v") != _FORMAT:
            return None
        response = NextResponse(body, head["status"], [tuple(h) for h in head["headers"]])
        age = max(0, int(time.time() - float(head["at"])))
    except (ValueError, TypeError, KeyError):
        return None
    response.headers["Age"] = str(age)
    return response


def _build(
    ttl: float,
    store: Store,
    vary: tuple[str, ...],
    max_size: int,
    prefix: str,
    after: Callable[[NextRequest, Any, bool], None] | None = None,
) -> Callable[[Callable[..., Any]], RouteHandler]:
    declared = frozenset(name.lower() for name in vary)

    def decorate(inner: Callable[..., Any]) -> RouteHandler:
        call = adapt_inner(inner)

        @functools.wraps(inner)
        def wrapped(request: NextRequest, context: RouteContext | None = None) -> Any:
            if context is None:  # called directly: answer as the App would
                return respond(wrapped, request)
            if request.method not in _CACHEABLE_METHODS or bypasses_cache(request, declared):
                result = call(request, context)
                if after is not None:
                    after(request, result, False)
                return result
            key = prefix + _cache_key(request, context, vary)
            usable = True
            try:
                cached = store.get(key)
            except StoreError:
                logger.warning("cache store unavailable; answering without it", exc_info=True)
                cached, usable = None, False
            if cached is not None:
                response = _decode(cached)
                if response is not None:
                    response.headers["X-Cache"] = "HIT"
                    return response
            result = call(request, context)
            if not hasattr(result, "headers"):
                return result
            storable = is_storable(result, declared)
            if after is not None:
                after(request, result, storable)
            # HEAD never writes: a route's own HEAD handler may answer without a body.
            if usable and storable and request.method != "HEAD":
                body = result.get_data()
                if len(body) <= max_size:
                    try:
                        store.set(key, _encode(result, body), ttl)
                    except StoreError:
                        logger.warning("cache store unavailable; not storing", exc_info=True)
            result.headers["X-Cache"] = "MISS"
            return result

        return mark_wrapper(wrapped, "with_cache", ttl=ttl, vary=vary)

    return decorate


@overload
def with_cache(handler: Callable[..., Any], /) -> RouteHandler: ...


@overload
def with_cache(
    handler: None = None,
    /,
    *,
    ttl: float = ...,
    store: Store | str | None = ...,
    vary: Iterable[str] = ...,
    max_size: int = ...,
) -> Callable[[Callable[..., Any]], RouteHandler]: ...


def with_cache(
    handler: Callable[..., Any] | None = None,
    /,
    *,
    ttl: float = 60,
    store: Store | str | None = None,
    vary: Iterable[str] = (),
    max_size: int = 1024 * 1024,
) -> RouteHandler | Callable[[Callable[..., Any]], RouteHandler]:
    """Answer repeated GET/HEAD requests from a store for *ttl* seconds.

    Responses carry ``X-Cache: MISS`` when the handler ran and ``X-Cache: HIT``
    (plus ``Age``) when they came from the store. Only buffered 200 responses
    are stored, with their status, headers and body; see the module docstring
    for what is never stored. A store that fails is skipped (the handler
    answers), never a 500.

    Args:
        handler: The handler, when used bare (60 s, a per-process memory store).
        ttl: Seconds an entry lives.
        store: A :class:`~handlerkit.stores.Store`, a ``memory://``/``redis://``
            URL, or ``None`` for a new per-process ``MemoryStore``.
        vary: Request header names that are part of the key (``"Accept"``,
            ``"Accept-Language"`` ...). Declaring ``"Authorization"`` or
            ``"Cookie"`` caches per credential instead of bypassing.
        max_size: Bodies larger than this many bytes are not stored.

    Raises:
        ValueError: At configuration time, for a non-positive *ttl* or a
            header name given as one string instead of a list.
    """
    if isinstance(vary, str):
        raise ValueError('with_cache: vary must be a list of header names, e.g. ["Accept"]')
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise ValueError("with_cache: ttl must be a number of seconds > 0")
    names = tuple(vary)
    for name in names:
        if not isinstance(name, str) or not name or not name.isascii() or not name.isprintable():
            raise ValueError(f"with_cache: {name!r} is not a header name")
    wrapper = _build(ttl, resolve_store(store), names, max_size, "cache:")
    if handler is not None:
        return wrapper(handler)
    return wrapper


# -- segment config ------------------------------------------------------------------


def _public_header(seconds: int) -> Callable[[NextRequest, Any, bool], None]:
    value = f"public, s-maxage={seconds}, stale-while-revalidate"

    def after(request: NextRequest, response: Any, storable: bool) -> None:
        # Only answers a shared cache may keep get "public"; personal ones
        # (cookies, Authorization) get nothing rather than a wrong promise.
        if storable and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = value

    return after


def _no_store(handler: Callable[..., Any]) -> RouteHandler:
    call = adapt_inner(handler)

    @functools.wraps(handler)
    def wrapped(request: NextRequest, context: RouteContext | None = None) -> Any:
        if context is None:  # called directly: answer as the App would
            return respond(wrapped, request)
        try:
            result = call(request, context)
        except ApiError as exc:
            exc.headers.append(("Cache-Control", "no-store"))
            raise
        if hasattr(result, "headers") and "Cache-Control" not in result.headers:
            result.headers["Cache-Control"] = "no-store"
        return result

    return mark_wrapper(wrapped, "dynamic", cache_control="no-store")


#: How long a ``force-static`` answer without ``revalidate`` is kept: a year, as
#: Next.js marks a statically rendered route (``s-maxage=31536000``).
STATIC_SECONDS = 31_536_000


def _static_view(handler: Callable[..., Any], source: str | None) -> RouteHandler:
    call = adapt_inner(handler)

    @functools.wraps(handler)
    def wrapped(request: NextRequest, context: RouteContext | None = None) -> Any:
        if context is None:  # called directly: answer as the App would
            return respond(wrapped, request)
        return call(static_request(request, source), context)

    mode = "error" if source is not None else "force-static"
    return mark_wrapper(wrapped, "dynamic", mode=mode)


def segment_cache(config: Mapping[str, Any], store: Store, source: str = "") -> Wrapper | None:
    """Return the wrapper a route's ``revalidate``/``dynamic`` config asks for, or ``None``.

    - ``revalidate = N`` (N > 0): cache GET/HEAD 200s for N seconds in *store*
      and mark storable answers ``Cache-Control: public, s-maxage=N,
      stale-while-revalidate``.
    - ``revalidate = 0`` or ``dynamic = "force-dynamic"``: ``Cache-Control:
      no-store`` (unless the handler set its own ``Cache-Control``).
    - ``dynamic = "force-static"``: the handler sees the static request
      (:mod:`handlerkit.static`: no query, headers, cookies or body), and its
      answers are cached as for ``revalidate`` (for :data:`STATIC_SECONDS`
      without one). ``dynamic = "error"``: the same, but reading any of those
      raises :class:`~handlerkit.errors.DynamicUsageError` naming *source*.
    - None of these (or ``revalidate = False``): ``None``: nothing cached, no header.

    Args:
        config: The route's segment config.
        store: The app's cache store.
        source: The route's file, named by ``dynamic = "error"``.
    """
    revalidate = config.get("revalidate", False)
    dynamic = config.get("dynamic")
    if dynamic == "force-dynamic" or (revalidate == 0 and revalidate is not False):
        return _no_store
    static = dynamic in ("force-static", "error")
    if (revalidate is False or revalidate is None) and not static:
        return None
    seconds = STATIC_SECONDS if revalidate is False or revalidate is None else int(revalidate)
    cache = _build(seconds, store, (), 1024 * 1024, "revalidate:", after=_public_header(seconds))
    if not static:
        return cache
    if dynamic == "error":  # the cache reads the static view; the handler may not
        return lambda handler: _static_view(cache(_static_view(handler, source)), None)
    return lambda handler: _static_view(cache(handler), None)
