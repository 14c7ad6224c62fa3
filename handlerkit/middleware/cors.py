"""with_cors: the CORS policy of a handler, and the App hook that answers its preflights."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, overload

from werkzeug.wrappers import Response

from ..boundary import exception_response
from ..context import RouteContext
from ..handlers import adapt_inner, is_layer, mark_wrapper, wrapper_chain
from ..response import NextResponse, header_value, set_headers
from ..typing import Handler

__all__ = ["MAX_AGE_CAP", "CorsPolicy", "find_policy", "install_cors", "with_cors"]

#: Browsers cap preflight caching anyway (Chromium: 2 hours); so does handlerkit.
MAX_AGE_CAP = 7200

#: Methods a preflight may ask for when neither ``methods=`` nor a route says otherwise.
DEFAULT_METHODS = ("GET", "HEAD", "POST")

#: Request headers allowed by default: JSON bodies and bearer tokens.
DEFAULT_HEADERS = ("Authorization", "Content-Type")

_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#\s]+", re.I)
_PREFLIGHT_VARY = ("Access-Control-Request-Method", "Access-Control-Request-Headers")


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """A resolved CORS configuration; built once by :func:`with_cors`.

    Attributes:
        any_origin: ``origins="*"``: every origin, answered with ``*`` (no credentials).
        origins: Exact origins allowed (``"https://app.example.com"``).
        patterns: Compiled patterns an origin must match in full.
        methods: Methods a preflight may ask for; ``None`` for the route's own.
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
        self,
        origin: str | None,
        method: str | None,
        request_headers: str | None,
        methods: Iterable[str],
        allow: str | None = None,
    ) -> NextResponse:
        """Answer a preflight: 204 with ``Allow``, plus CORS headers when what is asked is allowed.

        Args:
            origin: The ``Origin`` header.
            method: The ``Access-Control-Request-Method`` header.
            request_headers: The ``Access-Control-Request-Headers`` header.
            methods: The methods to allow when the policy has no ``methods=``.
            allow: The ``Allow`` header value; defaults to *methods* plus OPTIONS.

        Returns:
            A 204. A refused origin or method gets no ``Access-Control-Allow-*``
            header at all; requested headers are echoed only when allowlisted.
        """
        allowed_methods = self.methods if self.methods is not None else tuple(methods)
        response = NextResponse(None, 204)
        response.headers["Allow"] = allow or ", ".join(sorted({*allowed_methods, "OPTIONS"}))
        names = _PREFLIGHT_VARY if self.any_origin else ("Origin", *_PREFLIGHT_VARY)
        set_headers(response.headers, _vary_items(response.headers, names))
        if not self.allows_origin(origin) or method not in allowed_methods:
            return response
        headers = response.headers
        headers["Access-Control-Allow-Origin"] = "*" if self.any_origin else origin
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        headers["Access-Control-Allow-Methods"] = ", ".join(allowed_methods)
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


def _is_preflight(request: Any) -> bool:
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


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
def with_cors(handler: Callable[..., Any]) -> Handler: ...


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
) -> Callable[[Callable[..., Any]], Handler]: ...


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
    - Preflights are answered here when this wrapper sees them, and by the App
      before any wrapper runs (so never by ``with_auth`` or the handler),
      whatever the compose order and whether or not the route exports OPTIONS.

    Args:
        handler: The handler; omit it to configure.
        origins: ``"*"`` (default), or exact origins and compiled patterns.
        methods: Methods a preflight may ask for; by default the route's own
            (``GET, HEAD, POST`` when called outside an App).
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


def _wrap(handler: Callable[..., Any], *, policy: CorsPolicy) -> Handler:
    inner = adapt_inner(handler)
    default_methods = policy.methods or DEFAULT_METHODS

    @functools.wraps(handler)
    def wrapped(request: Any, context: RouteContext | None = None) -> Any:
        if context is None:
            context = RouteContext()
        origin = request.environ.get("HTTP_ORIGIN")
        if _is_preflight(request):
            return policy.preflight(
                origin,
                request.headers.get("Access-Control-Request-Method"),
                request.headers.get("Access-Control-Request-Headers"),
                default_methods,
            )
        return _decorated(inner, request, context, policy, origin)

    return mark_wrapper(wrapped, "with_cors", policy=policy)


def _decorated(
    handler: Callable[..., Any],
    request: Any,
    context: RouteContext,
    policy: CorsPolicy,
    origin: str | None,
) -> Any:
    try:
        response = handler(request, context)
    except Exception as exc:
        # Errors need the CORS headers too, or the browser hides the status
        # from the page; the one mapping keeps their JSON shape.
        mapped = exception_response(exc, request.environ)
        if mapped is None:
            raise
        response = mapped
    if isinstance(response, Response):
        # PERF: a with_cors layer fronted by the App (it is not the outermost
        # layer) would decorate the same response twice; the mark skips the
        # second pass when nothing replaced the response in between (with
        # set_headers, with_cors went from 20.2 to 9.6 µs: benchmarks/wrappers.py,
        # in benchmarks/results/2026-11-21.md).
        # getattr, not response.__dict__: reading __dict__ makes Python 3.11
        # move the object's attributes into a slower dict (see app._call_route).
        if (
            getattr(response, "_hk_cors_policy", None) is not policy
            or getattr(response, "_hk_cors_origin", None) != origin
        ):
            policy.decorate(origin, response)
            response._hk_cors_policy = policy  # type: ignore[attr-defined]
            response._hk_cors_origin = origin  # type: ignore[attr-defined]
    return response


# ------------------------------------------------------------------ App hook


def find_policy(handler: Callable[..., Any]) -> CorsPolicy | None:
    """Return the CORS policy of the outermost ``with_cors`` layer around *handler*, if any."""
    for label in wrapper_chain(handler):
        if label.get("name") == "with_cors" and isinstance(label.get("policy"), CorsPolicy):
            return label["policy"]  # type: ignore[no-any-return]
    return None


def install_cors(route: Any) -> None:
    """Plug a route's CORS policy into the App, once, at startup.

    For a route with a ``with_cors`` layer anywhere in a handler's chain:

    - ``route.extra["options"]`` answers the automatic OPTIONS: preflights get
      the policy's answer, before any wrapper or handler runs;
    - an exported ``OPTIONS`` handler is fronted so preflights still never reach it;
    - a handler whose ``with_cors`` layer is not the outermost is fronted by a
      thin layer that adds the CORS headers to whatever the outer layers
      answer (a 401 from ``with_auth`` listed before ``with_cors``, say).

    Routes without ``with_cors`` are left untouched.
    """
    policies: dict[str, CorsPolicy] = {}
    for method, handler in route.handlers.items():
        policy = find_policy(handler)
        if policy is not None:
            policies[method] = policy
    if not policies:
        return
    if "GET" in policies and "HEAD" not in route.handlers:
        policies["HEAD"] = policies["GET"]
    fallback = policies.get("GET") or next(iter(policies.values()))
    # Each policy advertises only the methods it governs, never another policy's.
    methods_of = {
        id(policy): tuple(m for m in sorted(policies) if m != "OPTIONS" and policies[m] is policy)
        for policy in policies.values()
    }
    allow = route.allow

    def answer_preflight(environ: dict[str, Any]) -> NextResponse:
        method = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        policy = policies.get(method or "")
        if policy is None:
            # No policy governs the requested method: refuse (no Access-Control-Allow-*).
            return fallback.preflight(
                environ.get("HTTP_ORIGIN"), None, None, methods_of[id(fallback)], allow
            )
        return policy.preflight(
            environ.get("HTTP_ORIGIN"),
            method,
            environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
            methods_of[id(policy)],
            allow,
        )

    def options(environ: dict[str, Any], route: Any) -> NextResponse:
        if "HTTP_ORIGIN" in environ and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ:
            return answer_preflight(environ)
        response = NextResponse(None, 204)
        response.headers["Allow"] = allow
        policy = policies.get("OPTIONS", fallback)
        return policy.decorate(environ.get("HTTP_ORIGIN"), response)  # type: ignore[return-value]

    route.extra["options"] = options
    route.extra["cors"] = policies
    for method, handler in list(route.handlers.items()):
        if method == "OPTIONS":
            route.handlers[method] = _front_options(handler, answer_preflight)
            continue
        policy = policies.get(method)
        if policy is None:
            continue
        chain = wrapper_chain(handler)
        if chain and chain[0].get("name") == "with_cors" and is_layer(handler):
            continue  # with_cors is already the outermost layer
        route.handlers[method] = _front(handler, policy)


def _front(handler: Callable[..., Any], policy: CorsPolicy) -> Handler:
    @functools.wraps(handler)
    def cors_front(request: Any, context: RouteContext) -> Any:
        return _decorated(handler, request, context, policy, request.environ.get("HTTP_ORIGIN"))

    # Labelled so route listings show what the App added (and name it plainly).
    return mark_wrapper(cors_front, "cors_front", policy=policy)


def _front_options(handler: Callable[..., Any], answer: Callable[[dict[str, Any]], Any]) -> Handler:
    @functools.wraps(handler)
    def cors_preflight(request: Any, context: RouteContext) -> Any:
        if _is_preflight(request):
            return answer(request.environ)
        return handler(request, context)

    return mark_wrapper(cors_preflight, "cors_preflight")
