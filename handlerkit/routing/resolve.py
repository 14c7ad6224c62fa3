"""The one resolver: from a WSGI environ to what answers it, a route match, a redirect or a refusal.

Everything the framework decides before a handler (or ``middleware.py``) runs is
decided here, once, for the App, its ``middleware.py`` runner and ``handlerkit routes
--explain`` alike:

1. the method: an unknown one is a 501 (a known but unexported one is the route's
   405, decided by :func:`select_handler`);
2. the host, against the App's ``trusted_hosts``: 400 ``invalid_host``;
3. the ``base_path``: a path outside it is a 404;
4. the trailing-slash policy: a 308 to the other spelling, the query kept;
5. the route: percent-decoding per segment (with the raw URI when the server
   passes one), the route table's match, and the param checks (400).

Shortcuts (a static path straight from the table's dict, params that provably
pass the checks) live inside :meth:`Resolver.route`; tests/test_equivalence.py
compares them with the full walk.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

from ..errors import ApiError
from ..handlers import METHODS, wrapper_chain
from ..request import host_is_trusted, hostname_of, request_host
from ..response import NextResponse, error_response
from .tree import Route, RouteTable

__all__ = [
    "KNOWN_METHODS",
    "MAX_PARAM_LENGTH",
    "Match",
    "Redirect",
    "Refusal",
    "Resolver",
    "decode_wsgi",
    "answer_preflight",
    "chain_policy",
    "is_preflight",
    "method_not_allowed",
    "preflight_targets",
    "select_handler",
    "warn_if_cors_late",
]

logger = logging.getLogger("handlerkit")

#: A param value longer than this many characters gets 400.
MAX_PARAM_LENGTH = 1024

#: Methods the framework knows: a route may export those in ``METHODS``; the
#: others (no route can export them) get the route's 405 with ``Allow``, not a 501.
KNOWN_METHODS = frozenset(METHODS) | {"TRACE", "CONNECT"}

#: A matched route and its decoded params.
Match = tuple[Route, dict[str, Any]]

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# A "." or ".." between separators inside one decoded param ("a%2F..%2Fb", "..\\x").
_DOT_PART = re.compile(r"(?:^|[/\\])\.\.?(?:$|[/\\])")
#: What a Location path keeps unescaped (the slash redirect, middleware rewrites).
LOCATION_SAFE = "/%:@!$&'()*+,;=-._~"


class Refusal:
    """An answer the framework gives without a handler: status, code and client message.

    ``reason`` says why in a developer's words, for ``routes --explain``; the
    client only ever sees ``message``.
    """

    __slots__ = ("status", "code", "message", "headers", "reason")

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        reason: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.headers = tuple(headers)
        self.reason = reason or message

    def to_response(self) -> NextResponse:
        """Return the refusal in the one JSON error shape."""
        return error_response(self.status, self.code, self.message, headers=self.headers)

    def __repr__(self) -> str:
        return f"Refusal({self.status}, {self.code!r})"


class Redirect:
    """The trailing-slash policy's 308 to *location* (a path, never protocol-relative)."""

    __slots__ = ("location", "reason")

    status = 308

    def __init__(self, location: str, reason: str) -> None:
        self.location = location
        self.reason = reason

    def to_response(self) -> NextResponse:
        """Return the bodyless 308 with its ``Location``."""
        response = NextResponse(None, 308)
        response.headers["Location"] = self.location
        return response

    def __repr__(self) -> str:
        return f"Redirect({self.location!r})"


def _not_found(reason: str = "no route pattern matches the path") -> Refusal:
    return Refusal(404, "not_found", "No route matches this URL.", reason=reason)


def _invalid_path(message: str) -> Refusal:
    return Refusal(400, "invalid_path", message)


_INVALID_PARAM = Refusal(400, "invalid_param", "A URL segment is not allowed.")


class Resolver:
    """Resolve requests against one route table and the App's URL policy (built once).

    Args:
        table: The route table.
        base_path: The App's normalised base path (``""`` or ``"/api"``).
        trailing_slash: The App's slash policy (``False``: ``/x/`` redirects to ``/x``).
        trusted_hosts: Lower-case ASCII host names (``.suffix`` for subdomains),
            or ``None`` for any host.
    """

    __slots__ = ("table", "static", "base_path", "trailing_slash", "trusted_hosts")

    def __init__(
        self,
        table: RouteTable,
        *,
        base_path: str = "",
        trailing_slash: bool = False,
        trusted_hosts: Iterable[str] | None = None,
    ) -> None:
        self.table = table
        self.static = table.static
        self.base_path = base_path
        self.trailing_slash = trailing_slash
        self.trusted_hosts = None if trusted_hosts is None else [_ascii_name(h) for h in trusted_hosts]

    def __call__(self, environ: dict[str, Any]) -> Match | Redirect | Refusal:
        """Resolve a request: steps 1-5 of the module docstring."""
        path = self.path(environ)
        if type(path) is not str:
            return path  # type: ignore[return-value]  # a Redirect or Refusal
        return self.route(environ, path)

    def path(self, environ: dict[str, Any]) -> str | Redirect | Refusal:
        """Steps 1-4: return the path inside the app, or the redirect or refusal that answers first."""
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in KNOWN_METHODS:
            shown = method[:32] if method.isascii() and method.isalpha() else "given"
            return Refusal(
                501,
                "not_implemented",
                f"The method {shown} is not implemented.",
                reason=f"{shown} is not one of {', '.join(sorted(KNOWN_METHODS))}",
            )
        if self.trusted_hosts is not None:
            try:
                trusted = host_is_trusted(request_host(environ), self.trusted_hosts)
            except ApiError as exc:
                return Refusal(exc.status, exc.code, exc.message)
            if not trusted:
                return Refusal(400, "invalid_host", "The Host header is not allowed.")
        path: str = environ.get("PATH_INFO") or "/"
        base = self.base_path
        if base:
            if path == base or path.startswith(base + "/"):
                path = path[len(base) :] or "/"
            else:
                return _not_found(f"the path is outside the app's base_path {base!r}")
        if path != "/":
            if path[-1] == "/":
                if not self.trailing_slash and not _encoded_trailing_slash(environ):
                    return self._redirect_slash(environ, add=False)
            elif self.trailing_slash:
                return self._redirect_slash(environ, add=True)
        return path

    def route(self, environ: dict[str, Any], path: str) -> Match | Refusal:
        """Step 5: the route and decoded params for *path* (inside the app), or a 400/404 refusal."""
        segments: list[str] | None = None
        safe = False  # whether every param provably passes the checks at the end
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        # PERF: a URI without any "%" needs no split at "?". With the isalnum()
        # shortcut below, App._resolve("/users/42") 1.62 -> 1.24 µs (endpoint B;
        # timeit, min of 31 runs, 2026-11-21).
        if raw and "%" in raw:
            raw_path = raw.partition("?")[0]
            if "%" in raw_path:
                decoded = self._raw_segments(raw_path, environ, path)
                if type(decoded) is Refusal:
                    return decoded
                segments = decoded  # type: ignore[assignment]  # a list, or None to use PATH_INFO
        if segments is None:
            if not path.isascii():
                try:
                    path = path.encode("latin-1").decode("utf-8")
                except UnicodeError:
                    return _invalid_path("The URL path is not valid UTF-8.")
            route = self.static.get(path)
            if route is not None:
                return route, {}
            segments = path[1:].split("/")
            # PERF: params split from a path with no "." or NUL and at most
            # MAX_PARAM_LENGTH long pass every check at the end: B's check loop
            # 1.5k -> 0.7k instructions (valgrind --tool=cachegrind, 2026-11-21).
            safe = "." not in path and "\x00" not in path and len(path) <= MAX_PARAM_LENGTH
        if segments and segments[-1] == "":
            if len(segments) > 1:
                segments.pop()  # trailing_slash=True: "/x/" matches "/x"
            if segments == [""]:
                segments = []
        found = self.table.match(segments)
        if found is None:
            return _not_found()
        if safe:
            return found
        for value in found[1].values():
            if type(value) is str:
                # PERF: a letters-and-digits value ("42") cannot be any of the
                # refused ones below (figure at the top of this method).
                if value.isalnum() and len(value) <= MAX_PARAM_LENGTH:
                    continue
                items: list[str] | tuple[str] = (value,)
            else:
                items = value
            for item in items:
                if (
                    item in (".", "..")
                    or "\x00" in item
                    or len(item) > MAX_PARAM_LENGTH
                    or (("/" in item or "\\" in item) and _DOT_PART.search(item) is not None)
                ):
                    return _INVALID_PARAM
        return found

    def _raw_segments(self, raw_path: str, environ: dict[str, Any], path: str) -> list[str] | Refusal | None:
        """Decode the raw URI's path segment by segment (``%2F`` stays inside its segment).

        ``None`` when the raw URI does not describe *path* (a proxy or
        middleware rewrote ``PATH_INFO``): *path* is used instead.
        """
        if not raw_path.startswith("/"):
            raw_path = urlsplit(raw_path).path or "/"
        if _BAD_ESCAPE.search(raw_path):
            return _invalid_path("The URL path has a malformed percent escape.")
        parts = raw_path.split("/")[1:]
        skip = ((environ.get("SCRIPT_NAME") or "") + self.base_path).count("/")
        try:
            decoded = [unquote_to_bytes(part).decode("utf-8") for part in parts]
        except UnicodeDecodeError:
            return _invalid_path("The URL path is not valid UTF-8.")
        if "/" + "/".join(decoded[skip:]) != decode_wsgi(path):
            return None
        return decoded[skip:]

    def _redirect_slash(self, environ: dict[str, Any], *, add: bool) -> Redirect:
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        raw_path = raw.partition("?")[0] if raw else ""
        if raw_path.startswith("/"):
            target = raw_path
        else:
            script = environ.get("SCRIPT_NAME") or ""
            target = quote(script + (environ.get("PATH_INFO") or "/"), safe=LOCATION_SAFE)
        target = target + "/" if add else target.rstrip("/")
        # Never a protocol-relative or backslash URL: //evil.com/ must not become //evil.com.
        target = "/" + quote(target, safe=LOCATION_SAFE).lstrip("/")
        query = environ.get("QUERY_STRING")
        if query:
            target += "?" + quote(query, safe=LOCATION_SAFE + "?")
        return Redirect(
            target, "trailing-slash policy: " + ("add" if add else "remove") + " the slash"
        )


def is_preflight(environ: dict[str, Any]) -> bool:
    """Return whether the request is a CORS preflight: ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``."""
    return (
        environ.get("REQUEST_METHOD") == "OPTIONS"
        and "HTTP_ORIGIN" in environ
        and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
    )


def preflight_targets(route: Route) -> dict[str, Any]:
    """Return the CORS policies that answer *route*'s preflights, by the method asked about.

    A method's policy is that of the outermost ``with_cors`` layer in its chain;
    HEAD falls back to GET's. Called once, at startup, on the handlers the App calls.
    """
    targets = {}
    for method, handler in route.handlers.items():
        policy = chain_policy(handler) if method != "OPTIONS" else None
        if policy is not None:
            targets[method] = policy
    if "GET" in targets and "HEAD" not in route.handlers:
        targets["HEAD"] = targets["GET"]
    return targets


def chain_policy(handler: Any) -> Any:
    """Return the CORS policy of the outermost ``with_cors`` layer in *handler*'s chain, or ``None``."""
    for label in wrapper_chain(handler):
        if label.get("name") == "with_cors" and label.get("policy") is not None:
            return label["policy"]
    return None


def answer_preflight(policy: Any, environ: dict[str, Any], allow: str | None = None) -> Any:
    """Return *policy*'s answer to the preflight in *environ*: a 204, with ``Allow`` when given."""
    response = policy.preflight(
        environ.get("HTTP_ORIGIN"),
        environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
        environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
    )
    if allow is not None:
        response.headers["Allow"] = allow
    return response


#: handlerkit layers that refuse or answer requests themselves: listed before
#: ``with_cors``, they see its preflights and answer without CORS headers.
#: (``with_logging`` and ``with_error_handling`` may sit outside it.)
CORS_LATE_LAYERS = frozenset(
    {
        "with_auth",
        "with_cache",
        "with_conditional",
        "with_idempotency",
        "with_rate_limit",
        "with_validation",
        "with_webhook_signature",
    }
)


def warn_if_cors_late(route: Route) -> None:
    """Warn (at startup) about each handlerkit layer listed before ``with_cors`` that can refuse or answer.

    Such a layer runs first, so its own answers (a 401, a 429, a 422) carry no
    CORS headers and a browser hides their status from the page. Preflights are
    not the problem: the App answers them from the policy before any layer runs.
    The user's own wrappers are not judged.
    """
    for method, handler in route.handlers.items():
        if method not in route.preflights:
            continue
        names = [label.get("name", "") for label in wrapper_chain(handler)]
        # The chain holds with_cors: that is what put the method in route.preflights.
        early = [name for name in names[: names.index("with_cors")] if name in CORS_LATE_LAYERS]
        if early:
            logger.warning(
                "%s %s in %s: %s is listed before with_cors, so its refusals carry no "
                "CORS headers and browsers hide them from the page; list with_cors first",
                method,
                route.pattern,
                route.source,
                ", ".join(early),
            )


def select_handler(
    route: Route, method: str, environ: dict[str, Any] | None = None
) -> tuple[Any, str]:
    """Return the handler that answers *method* on *route* and how it was chosen.

    The outcome is ``"handler"`` (the route exports it), ``"head_via_get"``
    (HEAD runs GET), ``"cors_preflight"`` (a preflight, given *environ*, about a
    method whose chain holds ``with_cors``: the handler is that layer's policy,
    which answers before any layer runs, see :func:`answer_preflight`), ``"automatic_options"``
    (OPTIONS without an export: the handler is ``None``, see the App's
    ``_options``) or ``"method_not_allowed"`` (``None``; the 405 with ``route.allow``).
    """
    if method == "OPTIONS" and route.preflights and environ is not None and is_preflight(environ):
        target = route.preflights.get(environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"])
        if target is not None:
            return target, "cors_preflight"
    handler = route.handlers.get(method)
    if handler is not None:
        return handler, "handler"
    if method == "HEAD":
        handler = route.handlers.get("GET")
        if handler is not None:
            return handler, "head_via_get"
    elif method == "OPTIONS":
        return None, "automatic_options"
    return None, "method_not_allowed"


def method_not_allowed(route: Route, method: str) -> Refusal:
    """The 405 for a method *route* does not export, with its ``Allow`` header."""
    return Refusal(
        405,
        "method_not_allowed",
        f"The method {method} is not allowed for this URL.",
        headers=[("Allow", route.allow)],
        reason=f"{route.pattern} exports {', '.join(route.methods)}, not {method}",
    )


def decode_wsgi(path: str) -> str:
    """Return a WSGI (latin-1) path as the UTF-8 text it carries; unchanged when it is not UTF-8."""
    try:
        return path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return path


def _encoded_trailing_slash(environ: dict[str, Any]) -> bool:
    """Return whether the path's final ``/`` was sent as ``%2F`` (part of a segment, not a slash)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    return raw is not None and not raw.partition("?")[0].endswith("/")


def _ascii_name(host: str) -> str:
    """Return a ``trusted_hosts`` entry as the ASCII name a ``Host`` carries (no port)."""
    suffix = host.startswith(".")
    name = hostname_of(host[1:] if suffix else host)
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError as exc:
        raise ValueError(f"trusted_hosts: {host!r} is not a valid host name") from exc
    return ("." if suffix else "") + name.lower()
