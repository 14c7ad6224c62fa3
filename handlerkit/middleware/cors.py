"""with_cors: the CORS policy of a handler, and its answer to preflights."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, overload

from werkzeug.wrappers import Response

from ..boundary import exception_response
from ..context import RouteContext
from ..direct import respond
from ..handlers import adapt_inner, mark_wrapper
from ..response import NextResponse, header_value, set_headers
from ..routing.resolve import chain_policy, is_preflight
from ..typing import RouteHandler

__all__ = ["MAX_AGE_CAP", "CorsPolicy", "find_policy", "with_cors"]

#: Browsers cap preflight caching anyway (Chromium: 2 hours); so does handlerkit.
MAX_AGE_CAP = 7200

#: Request headers allowed by default: JSON bodies and bearer tokens.
DEFAULT_HEADERS = ("Authorization", "Content-Type")

_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#\s]+", re.I)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_PREFLIGHT_VARY = ("Access-Control-Request-Method", "Access-Control-Request-Headers")


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """A resolved CORS configuration; built once by :func:`with_cors`.

    Attributes:
        any_origin: ``origins="*"``: every origin, answered with ``*`` (no credentials).
        origins: Exact origins allowed (``"https://app.example.com"``).
        patterns: Compiled patterns an origin must match in full.
        methods: Methods a preflight may ask for; ``None`` for the one whose
            chain holds this policy (the method the preflight asks about).
        headers: Allowed request headers, lower-cased name -> spelling to echo.
        expose_headers: Response headers scripts may read.
        credentials: Whether to send ``Access-Control-Allow-Credentials: true``.
        max_age: Seconds a browser may cache a preflight answer (at most 7200).
    """

    any_origin: bool
    origins: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    methods: tuple[str, ...] | None
    headers: dict[str, str]
    expose_headers: tuple[str, ...]
    credentials: bool
    max_age: int | None

    def allows_origin(self, origin: str | None) -> bool:
        """Return whether *origin* (the ``Origin`` header) may read responses."""
        if origin is None:
            return False
        if self.any_origin or origin in self.origins:
            return True
        return any(pattern.fullmatch(origin) for pattern in self.patterns)

    def decorate(self, origin: str | None, response: Response) -> Response:
        """Add the CORS headers for an actual (non-preflight) request to *response*.

        Safe to apply twice. With a specific allowlist the answer depends on
        ``Origin``, so ``Vary: Origin`` is always added, also when the origin
        is refused (then no ``Access-Control-Allow-*`` header is sent).
        """
        # PERF: Vary and the Access-Control-* headers go in with one
        # set_headers pass instead of one per header; with Origin read from the
        # environ, with_cors through the App 91.3k -> 68.7k instructions per
        # request (43.8k without it; cachegrind, 2026-11-21).
        if self.any_origin:
            items = [("Access-Control-Allow-Origin", "*")]
        else:
            items = _vary_items(response.headers, ("Origin",))
            if not self.allows_origin(origin):
                if items:
                    set_headers(response.headers, items)
                return response
            items.append(("Access-Control-Allow-Origin", origin))  # type: ignore[arg-type]  # allowed: not None
            if self.credentials:
                items.append(("Access-Control-Allow-Credentials", "true"))
        if self.expose_headers:
            items.append(("Access-Control-Expose-Headers", ", ".join(self.expose_headers)))
        set_headers(response.headers, items)
        return response

    def preflight(
        self, origin: str | None, method: str | None, request_headers: str | None
    ) -> NextResponse:
        """Answer a preflight: a 204, with the CORS headers when what is asked is allowed.

        Without ``methods=``, the method asked about is allowed: in an App this
        policy answers only preflights about the methods whose chain holds it.

        Args:
            origin: The ``Origin`` header.
            method: The ``Access-Control-Request-Method`` header.
            request_headers: The ``Access-Control-Request-Headers`` header.

        Returns:
            A 204. A refused origin or method gets no ``Access-Control-Allow-*``
            header at all; requested headers are echoed only when allowlisted.
        """
        response = NextResponse(None, 204)
        names = _PREFLIGHT_VARY if self.any_origin else ("Origin", *_PREFLIGHT_VARY)
        set_headers(response.headers, _vary_items(response.headers, names))
        if (
            not self.allows_origin(origin)
            or method is None
            or not _TOKEN.fullmatch(method)
            or (self.methods is not None and method not in self.methods)
        ):
            return response
        headers = response.headers
        headers["Access-Control-Allow-Origin"] = "*" if self.any_origin else origin
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        headers["Access-Control-Allow-Methods"] = (
            ", ".join(self.methods) if self.methods is not None else method
        )
        echoed = []
        for name in (request_headers or "").split(","):
            spelling = self.headers.get(name.strip().lower())
            if spelling is not None and spelling not in echoed:
                echoed.append(spelling)
        if echoed:
            headers["Access-Control-Allow-Headers"] = ", ".join(echoed)
        if self.max_age is not None:
            headers["Access-Control-Max-Age"] = str(self.max_age)
        return response


def _vary_items(headers: Any, names: Iterable[str]) -> list[tuple[str, str]]:
    """Return ``[("Vary", value)]`` that adds *names* to *headers*' ``Vary``, or ``[]`` when none is missing."""
    current = header_value(headers, "Vary")
    if not current:
        return [("Vary", ", ".join(names))]
    present = {v.strip().lower() for v in current.split(",") if v.strip()}
    if "*" in present:
        return []
    missing = [name for name in names if name.lower() not in present]
    if missing:
        return [("Vary", ", ".join([current, *missing]))]
    return []


def _policy(
    origins: str | re.Pattern[str] | Iterable[str | re.Pattern[str]],
    methods: Iterable[str] | None,
    headers: Iterable[str],
    expose_headers: Iterable[str],
    credentials: bool,
    max_age: int | None,
) -> CorsPolicy:
    items = [origins] if isinstance(origins, (str, re.Pattern)) else list(origins)
    any_origin = False
    exact: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for item in items:
        if isinstance(item, re.Pattern):
            patterns.append(item)
        elif item == "*":
            any_origin = True
        elif isinstance(item, str) and (item == "null" or _ORIGIN.fullmatch(item)):
            exact.add(item)
        else:
            raise ValueError(
                f"with_cors: {item!r} is not an origin; write 'https://host[:port]' with no "
                "path or trailing slash, '*', or a compiled re pattern"
            )
    if any_origin and credentials:
        raise ValueError(
            "with_cors: origins='*' cannot be combined with credentials=True; browsers refuse "
            "it, and reflecting any origin with credentials lets every site act as the user. "
            "List the allowed origins instead."
        )
    if any_origin and (exact or patterns):
        raise ValueError("with_cors: '*' already allows every origin; list origins or use '*'")
    if max_age is not None and (not isinstance(max_age, int) or max_age < 0):
        raise ValueError("with_cors: max_age must be a non-negative int of seconds")
    for value in (methods, headers, expose_headers):
        if isinstance(value, str):
            raise TypeError(
                'with_cors: methods, headers and expose_headers take lists, e.g. ["GET"]'
            )
    return CorsPolicy(
        any_origin=any_origin,
        origins=frozenset(exact),
        patterns=tuple(patterns),
        methods=tuple(m.upper() for m in methods) if methods is not None else None,
        headers={h.strip().lower(): h.strip() for h in headers},
        expose_headers=tuple(expose_headers),
        credentials=credentials,
        max_age=min(max_age, MAX_AGE_CAP) if max_age is not None else None,
    )


@overload
def with_cors(handler: Callable[..., Any]) -> RouteHandler: ...


@overload
def with_cors(
    handler: None = None,
    *,
    origins: str | re.Pattern[str] | Iterable[str | re.Pattern[str]] = "*",
    methods: Iterable[str] | None = None,
    headers: Iterable[str] = DEFAULT_HEADERS,
    expose_headers: Iterable[str] = (),
    credentials: bool = False,
    max_age: int | None = 600,
) -> Callable[[Callable[..., Any]], RouteHandler]: ...


def with_cors(
    handler: Callable[..., Any] | None = None,
    *,
    origins: str | re.Pattern[str] | Iterable[str | re.Pattern[str]] = "*",
    methods: Iterable[str] | None = None,
    headers: Iterable[str] = DEFAULT_HEADERS,
    expose_headers: Iterable[str] = (),
    credentials: bool = False,
    max_age: int | None = 600,
) -> Any:
    """Let the listed origins call this handler from a browser (CORS).

    Bare ``with_cors`` allows every origin without credentials (``*``). For
    anything with cookies or credentials, list the origins::

        with_cors(origins=["https://app.example.com", re.compile(r"https://[a-z]+\\.example\\.com")],
                  credentials=True, expose_headers=["X-Request-ID"])

    - Origins match exactly; compiled patterns must match the whole origin.
    - A refused origin gets no ``Access-Control-Allow-*`` header.
    - ``Vary: Origin`` is sent whenever the answer depends on ``Origin``.
    - Error responses (an ``ApiError`` raised inside) carry the CORS headers too.
    - Preflights are answered from this policy before any layer runs (never by
      ``with_auth`` or the handler), when the preflight asks about a method
      whose chain holds it, also when the route exports OPTIONS.
    - Actual requests run the chain as listed. Layers listed before
      ``with_cors`` answer without CORS headers (a 401 the page cannot read),
      so list ``with_cors`` first; ``handlerkit check`` warns otherwise.

    Args:
        handler: The handler; omit it to configure.
        origins: ``"*"`` (default), or exact origins and compiled patterns.
        methods: Methods a preflight may ask for; by default the method of the
            chain it wraps (the one a preflight asks about).
        headers: Request headers a preflight may ask for; only these are echoed.
        expose_headers: Response headers scripts may read.
        credentials: Send ``Access-Control-Allow-Credentials: true`` (cookies).
        max_age: Preflight cache lifetime in seconds, capped at 7200; ``None``
            sends no ``Access-Control-Max-Age``.

    Raises:
        ValueError: ``"*"`` with ``credentials=True``, a malformed origin
            (a path or trailing slash), or a negative *max_age*.
    """
    policy = _policy(origins, methods, headers, expose_headers, credentials, max_age)
    if handler is None:
        return functools.partial(_wrap, policy=policy)
    return _wrap(handler, policy=policy)


def _wrap(handler: Callable[..., Any], *, policy: CorsPolicy) -> RouteHandler:
    inner = adapt_inner(handler)

    @functools.wraps(handler)
    def wrapped(request: Any, context: RouteContext | None = None) -> Any:
        if context is None:  # called directly: answer as the App would
            return respond(wrapped, request)
        environ = request.environ
        origin = environ.get("HTTP_ORIGIN")
        if is_preflight(environ):
            return policy.preflight(
                origin,
                environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"],
                environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
            )
        try:
            response = inner(request, context)
        except Exception as exc:
            # Errors need the CORS headers too, or the browser hides the status
            # from the page; the one mapping keeps their JSON shape.
            mapped = exception_response(exc, environ)
            if mapped is None:
                raise
            response = mapped
        if isinstance(response, Response):
            policy.decorate(origin, response)
        return response

    return mark_wrapper(wrapped, "with_cors", policy=policy)


# ------------------------------------------------------------------ tools


def find_policy(handler: Callable[..., Any]) -> CorsPolicy | None:
    """Return the CORS policy of the outermost ``with_cors`` layer around *handler*, if any."""
    policy = chain_policy(handler)  # the walk the App's preflight routing uses
    return policy if isinstance(policy, CorsPolicy) else None
