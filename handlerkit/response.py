"""NextResponse, a thin Werkzeug Response with the Next.js API, and its cookie jar.

Where the Next.js and Werkzeug APIs collide, Next.js wins, and each such place
is listed here once:

- ``NextResponse.json(data)`` on the class builds a JSON response;
  ``response.json()`` on an instance parses the body, as in Fetch.
- A ``str`` body is ``text/plain; charset=utf-8``; a ``bytes`` body or ``None``
  gets no ``Content-Type`` (Werkzeug defaults to ``text/plain``), as in Fetch.
- ``response.cookies`` is a :class:`ResponseCookies` jar keyed by name, path
  and domain, written through to the ``Set-Cookie`` headers.

``status_code`` and ``headers`` are Werkzeug's, unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json as _json
import re
from collections.abc import Iterable, Iterator, Mapping
from types import MethodType
from typing import Any, Callable
from urllib.parse import quote, urlsplit, urlunsplit

from werkzeug.datastructures import Headers
from werkzeug.http import HTTP_STATUS_CODES, dump_cookie, parse_cookie
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

from .cookies import COOKIE_SALT
from .encoding import json_dumps
from .errors import ApiError, HandlerKitError, error_body
from .tokens import SecretKey, make_serializer

__all__ = [
    "CookieError",
    "error_response",
    "NextResponse",
    "ResponseCookie",
    "ResponseCookies",
    "is_safe_redirect",
    "json_dumps",
]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# The same status lines Werkzeug's status setter produces.
_STATUS_LINES = {code: f"{code} {phrase.upper()}" for code, phrase in HTTP_STATUS_CODES.items()}
_HEADERS_HAVE_LIST = hasattr(Headers(), "_list") and list(vars(Headers())) == ["_list"]
_new_headers = object.__new__


def header_value(headers: Headers, name: str) -> str | None:
    """Return the first value of header *name* in *headers*, or ``None``; for the wrappers.

    The same answer as ``headers.get(name)``.
    """
    # PERF: Werkzeug's Headers.get raises and catches a KeyError subclass
    # for an absent name; the wrappers ask about absent names (Vary,
    # X-RateLimit-Limit) on every request of endpoint E (cProfile, 2026-11-21).
    if _HEADERS_HAVE_LIST and type(headers) is Headers:
        lowered = name.lower()
        for key, value in headers._list:  # noqa: SLF001 - see _HEADERS_HAVE_LIST
            if key.lower() == lowered:
                return value
        return None
    return headers.get(name)


def set_headers(headers: Headers, items: list[tuple[str, str]]) -> None:
    """Set every ``(name, value)`` of *items*, replacing earlier values of those names.

    The same result as ``headers[name] = value`` for each item, in one pass
    over the headers. The values are ``str``; if one has a CR or LF,
    ``ValueError`` is raised and nothing is set.
    """
    # PERF: endpoint E's wrappers set 7 headers per request; each Headers.set
    # validates and scans the whole list (2.7 µs apiece, timeit 2026-11-21).
    # Plain loops, not a set comprehension and any(<generator>): two frames
    # fewer per call, and one name compared directly: 8.0k instructions fewer
    # for one header, 9.2k for three (cachegrind, 2026-11-21).
    for _, value in items:
        if "\n" in value or "\r" in value:
            raise ValueError("Header values must not contain newline characters.")
    if not (_HEADERS_HAVE_LIST and type(headers) is Headers):
        for name, value in items:
            headers[name] = value
        return
    current = headers._list  # noqa: SLF001 - see _HEADERS_HAVE_LIST
    if len(items) == 1:
        lowered = items[0][0].lower()
        for key, _ in current:
            if key.lower() == lowered:
                current[:] = [item for item in current if item[0].lower() != lowered]
                break
    else:
        names = set()
        for name, _ in items:
            names.add(name.lower())
        for key, _ in current:
            if key.lower() in names:
                current[:] = [item for item in current if item[0].lower() not in names]
                break
    current.extend(items)


class CookieError(HandlerKitError, ValueError):
    """Raised at ``cookies.set`` time for a name, value or attribute that would corrupt the header."""


class _ClassOrInstance:
    """A method that does one thing on the class and another on an instance."""

    def __init__(self, on_class: Callable[..., Any], on_instance: Callable[..., Any]) -> None:
        self.on_class = on_class
        self.on_instance = on_instance
        self.__doc__ = on_class.__doc__
        self._bound: dict[Any, Any] = {}

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            # PERF: one bound method per class, not one per call (every
            # NextResponse.json(...) goes through here; endpoint A).
            bound = self._bound.get(owner)
            if bound is None:
                bound = self._bound[owner] = MethodType(self.on_class, owner)
            return bound
        return MethodType(self.on_instance, instance)


@dataclasses.dataclass(slots=True)
class ResponseCookie:
    """One cookie as the response will set it."""

    name: str
    value: str
    path: str | None = "/"
    domain: str | None = None
    max_age: int | None = None
    expires: str | None = None
    secure: bool = False
    http_only: bool = False
    same_site: str | None = None
    priority: str | None = None
    partitioned: bool = False


def _parse_set_cookie(header: str) -> ResponseCookie:
    first, *attributes = header.split(";")
    name, _, value = first.partition("=")
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        # dump_cookie quotes with backslash and octal escapes (\054 for ","); undo them all.
        value = parse_cookie(f"x={value}").get("x", value)
    cookie = ResponseCookie(name.strip(), value, path=None)
    for attribute in attributes:
        key, _, raw = attribute.strip().partition("=")
        key = key.lower()
        if key == "path":
            cookie.path = raw
        elif key == "domain":
            cookie.domain = raw
        elif key == "max-age":
            cookie.max_age = int(raw) if raw.lstrip("-").isdigit() else None
        elif key == "expires":
            cookie.expires = raw
        elif key == "secure":
            cookie.secure = True
        elif key == "httponly":
            cookie.http_only = True
        elif key == "samesite":
            cookie.same_site = raw
        elif key == "priority":
            cookie.priority = raw
        elif key == "partitioned":
            cookie.partitioned = True
    return cookie


def _check_cookie(name: str, value: str, path: str | None, domain: str | None) -> None:
    if not isinstance(name, str) or not _TOKEN.match(name):
        raise CookieError(f"invalid cookie name {name!r}: use letters, digits and !#$%&'*+-.^_`|~")
    if not isinstance(value, str):
        raise CookieError(f"cookie {name!r}: the value must be a str, not {type(value).__name__}")
    for label, text in (("value", value), ("path", path), ("domain", domain)):
        if text is not None and (_CONTROL.search(text) or (label != "value" and ";" in text)):
            raise CookieError(f"cookie {name!r}: the {label} contains control characters or ';'")


class ResponseCookies:
    """The response's cookies: a view over its ``Set-Cookie`` headers.

    Cookies are keyed by ``(name, path, domain)``: setting the same key twice
    replaces the first, while the same name on two paths gives two cookies.
    """

    __slots__ = ("_response",)

    def __init__(self, response: NextResponse) -> None:
        self._response = response

    def _entries(self) -> list[ResponseCookie]:
        return [_parse_set_cookie(v) for v in self._response.headers.getlist("Set-Cookie")]

    def _remove(self, name: str, path: str | None, domain: str | None) -> None:
        headers = self._response.headers
        kept = [
            value
            for value in headers.getlist("Set-Cookie")
            if (lambda c: (c.name, c.path or "/", c.domain))(_parse_set_cookie(value))
            != (name, path or "/", domain)
        ]
        headers.remove("Set-Cookie")
        for value in kept:
            headers.add("Set-Cookie", value)

    def set(
        self,
        name: str,
        value: str,
        *,
        max_age: int | _dt.timedelta | None = None,
        expires: _dt.datetime | int | float | str | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        http_only: bool = False,
        same_site: str | None = None,
        priority: str | None = None,
        partitioned: bool = False,
    ) -> None:
        """Set a cookie, replacing any with the same name, path and domain.

        Raises:
            CookieError: The name is not a token, or the value, path or domain
                contains CR, LF or other control characters.
        """
        _check_cookie(name, value, path, domain)
        if same_site is not None and same_site.lower() not in ("strict", "lax", "none"):
            raise CookieError(f"cookie {name!r}: same_site must be Strict, Lax or None")
        if priority is not None and priority.lower() not in ("low", "medium", "high"):
            raise CookieError(f"cookie {name!r}: priority must be Low, Medium or High")
        header = dump_cookie(
            name,
            value,
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=http_only,
            samesite=same_site.capitalize() if same_site else None,
            partitioned=partitioned,
        )
        if priority is not None:
            header += f"; Priority={priority.capitalize()}"
        # Key by what the header will say: dump_cookie normalises the domain
        # (".Example.com" -> "Example.com") and quotes the path.
        written = _parse_set_cookie(header)
        self._remove(written.name, written.path, written.domain)
        self._response.headers.add("Set-Cookie", header)

    def set_signed(
        self,
        name: str,
        value: Any,
        *,
        secret_key: SecretKey | None = None,
        **options: Any,
    ) -> None:
        """Set a cookie whose value is signed (and timestamped) with itsdangerous.

        Read it back with ``request.cookies.get_signed(name, max_age=...)``.

        Args:
            name: The cookie name.
            value: Any JSON-serializable value.
            secret_key: The key or rotation list (the last key signs). When
                omitted, the cookie is signed with the app's ``secret_key``
                as the response leaves the app.
            **options: The attributes :meth:`set` takes.
        """
        if secret_key is None:
            _check_cookie(name, "", options.get("path", "/"), options.get("domain"))
            pending = self._response.__dict__.setdefault("_hk_pending_signed", [])
            pending.append((name, value, options))
            return
        token = make_serializer(secret_key, COOKIE_SALT).dumps(value)
        self.set(name, token if isinstance(token, str) else token.decode("ascii"), **options)

    def sign_pending(self, secret_key: SecretKey | None) -> None:
        """Sign the cookies that :meth:`set_signed` deferred; the app calls this."""
        pending = self._response.__dict__.pop("_hk_pending_signed", None)
        if not pending:
            return
        make_serializer(secret_key)  # no key: raise now rather than drop the cookies
        for name, value, options in pending:
            self.set_signed(name, value, secret_key=secret_key, **options)

    def get(self, name: str) -> ResponseCookie | None:
        """Return the first cookie called *name* this response sets, or ``None``."""
        for cookie in self._entries():
            if cookie.name == name:
                return cookie
        return None

    def get_all(self, name: str | None = None) -> list[ResponseCookie]:
        """Return every cookie called *name*, or all of them when *name* is ``None``."""
        return [c for c in self._entries() if name is None or c.name == name]

    def has(self, name: str) -> bool:
        """Return whether the response sets a cookie called *name*."""
        return self.get(name) is not None

    def delete(self, name: str, path: str = "/", domain: str | None = None) -> None:
        """Expire the cookie with this name, path and domain in the client."""
        self.set(name, "", max_age=0, expires=0, path=path, domain=domain)

    def __iter__(self) -> Iterator[ResponseCookie]:
        return iter(self._entries())

    def __len__(self) -> int:
        return len(self._response.headers.getlist("Set-Cookie"))

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self._entries())


def is_safe_redirect(target: str, allowed_hosts: Iterable[str] = ()) -> bool:
    """Return whether *target* (often user input) is safe to redirect to.

    Safe means a same-origin path (``/x``, not ``//x`` or ``/\\x``), or an
    ``http(s)`` URL whose host is in *allowed_hosts*. Backslashes and control
    characters are never safe: browsers read ``\\`` as ``/``.
    """
    if not isinstance(target, str) or not target or _CONTROL.search(target) or "\\" in target:
        return False
    parts = urlsplit(target)
    if not parts.scheme and not parts.netloc:
        return target.startswith("/") and not target.startswith("//")
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return False
    return (parts.hostname or "") in set(allowed_hosts)


#: The headers whose value is a URL, encoded by :func:`_location` on the way out.
_URL_HEADERS = frozenset({"location", "content-location"})


def _sent_as_is(pairs: list[tuple[str, str]]) -> bool:
    """Return whether Werkzeug's generic header pass would leave *pairs* unchanged.

    For a buffered 2xx-5xx body (not 204/304) it adds a missing ``Content-Length``
    and re-encodes ``Location`` and ``Content-Location``; nothing else.
    """
    length = False
    for key, _ in pairs:
        lowered = key.lower()
        if lowered in _URL_HEADERS:
            return False
        if lowered == "content-length":
            length = True
    return length


def _location(url: str) -> str:
    """Return *url* percent-encoded for a ``Location`` header (an IRI made a URI).

    An ASCII host is kept exactly as given: a host built from the request
    (``request.next_url.origin``) may be one IDNA refuses (``a..b``), and it
    needs no transcoding. Only a non-ASCII host is IDNA-encoded.
    """
    parts = urlsplit(url)
    if not parts.netloc.isascii():
        try:
            return iri_to_uri(url)
        except UnicodeError as exc:
            raise ValueError("redirect URL host is not a valid domain name") from exc
    return urlunsplit(
        (
            parts.scheme,
            parts.netloc,
            quote(parts.path, "%!$&'()*+,/:;=@"),
            quote(parts.query, "%!$&'()*+,/:;=?@"),
            quote(parts.fragment, "%!#$&'()*+,/:;=?@"),
        )
    )


def _json_class(
    cls: type[NextResponse],
    data: Any,
    status: int = 200,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
) -> NextResponse:
    """Return a JSON response for *data* (``NextResponse.json(data, status=201)``)."""
    body = json_dumps(data)
    # PERF: builds the object without Werkzeug's generic __init__ (header
    # validation, mimetype negotiation, set_data); a JSON response needs
    # none of it. Figures: benchmarks/results, endpoint A.
    response = cls.__new__(cls)
    if _HEADERS_HAVE_LIST:
        # Headers.__init__ only makes this list; skipping the call saves a frame.
        response.headers = header_map = _new_headers(Headers)
        header_map._list = [  # noqa: SLF001 - same list Werkzeug builds
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
        ]
    else:  # pragma: no cover - future Werkzeug without Headers._list
        response.headers = Headers(
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
    line = _STATUS_LINES.get(status) if type(status) is int else None
    if line is None:
        response.status = status
    else:
        response._status = line
        response._status_code = status
    response.direct_passthrough = False
    response._on_close = []
    response.response = [body]
    if headers:
        _merge_headers(response.headers, headers)
    return response


class NextResponse(Response):
    """An outgoing response with the Next.js ``NextResponse`` API on top of Werkzeug's.

    Args:
        body: ``str``, ``bytes``, an iterable or generator of chunks (streamed,
            never buffered), or ``None`` for no body (and no ``Content-Type``).
        status: The HTTP status code.
        headers: Response headers, as a mapping or ``(name, value)`` pairs.
    """

    default_mimetype = None

    #: Set by ``next()``/``rewrite()``; such responses belong to middleware.py only.
    middleware_action: str | None = None

    # Whether the class sends with the stock header pass and body iterator, so
    # that __call__ may skip them (a subclass overriding either never does).
    _hk_plain_send = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._hk_plain_send = (
            cls.get_wsgi_headers is NextResponse.get_wsgi_headers
            and cls.get_app_iter is Response.get_app_iter
        )

    #: With ``next()``: request header overrides (``None`` removes a header).
    request_headers: dict[str, str | None]

    #: With ``rewrite()``: the path (and query) to route to instead.
    rewrite_url: str

    def __init__(
        self,
        body: Any = None,
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        **werkzeug_options: Any,
    ) -> None:
        if isinstance(body, str) and not _has_header(headers, "content-type"):
            werkzeug_options.setdefault("content_type", "text/plain; charset=utf-8")
        super().__init__(body, status, headers, **werkzeug_options)

    def _json_instance(self) -> Any:
        """Parse this response's body as JSON, as ``await response.json()`` does in Fetch."""
        return _json.loads(self.get_data())

    json = _ClassOrInstance(_json_class, _json_instance)

    @classmethod
    def from_error(cls, error: ApiError) -> NextResponse:
        """Return *error* as a response in the one JSON error shape, with its headers.

        What the App answers when a handler raises it, for code that renders
        an :class:`~handlerkit.ApiError` itself (a wrapper, a test).
        """
        return error_response(error.status, error.code, error.message, error.details, error.headers)

    @classmethod
    def redirect(
        cls,
        url: str,
        status: int = 307,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> NextResponse:
        """Return a redirect to *url*, absolute or relative.

        Args:
            url: The target. Only ``http``/``https`` absolute URLs and relative
                references are accepted.
            status: 301, 302, 303, 307 (default) or 308.
            headers: Extra headers.

        Raises:
            ValueError: Another status, another scheme, or CR, LF or other
                control characters in *url*. For user-supplied targets, check
                them with :func:`is_safe_redirect` first.
        """
        if status not in REDIRECT_STATUSES:
            raise ValueError(f"redirect status must be one of 301, 302, 303, 307, 308, not {status}")
        if not isinstance(url, str) or not url or _CONTROL.search(url):
            raise ValueError("redirect URL must be a non-empty str without control characters")
        scheme = urlsplit(url).scheme
        if scheme and scheme.lower() not in ("http", "https"):
            raise ValueError(f"redirect URL scheme must be http or https, not {scheme!r}")
        response = cls(None, status, headers)
        response.headers["Location"] = _location(url)
        return response

    @classmethod
    def next(
        cls,
        *,
        request_headers: Mapping[str, str | None] | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> NextResponse:
        """Continue to the route (``middleware.py`` only).

        Args:
            request_headers: Headers to set on the request the handler sees;
                a ``None`` value removes that header.
            headers: Headers to add to the final response.
        """
        response = cls(None, 200, headers)
        response.middleware_action = "next"
        response.request_headers = dict(request_headers or {})
        return response

    @classmethod
    def rewrite(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> NextResponse:
        """Route the request internally to another path (``middleware.py`` only).

        Args:
            url: A path (with an optional query) inside the app.
            headers: Headers to add to the final response.
        """
        if not isinstance(url, str) or _CONTROL.search(url):
            raise ValueError("rewrite URL must be a str without control characters")
        response = cls(None, 200, headers)
        response.middleware_action = "rewrite"
        response.rewrite_url = url
        return response

    def __call__(self, environ: Any, start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Send this response as a WSGI app: the same status, headers and body as Werkzeug's.

        A buffered single ``bytes`` chunk whose headers Werkzeug's generic pass
        would not change (a ``Content-Length`` is there; no ``Location`` or
        ``Content-Location`` to encode; a status with a body) is sent as it
        is; anything else goes through ``Response.__call__``.
        tests/test_equivalence.py compares the two on generated responses.
        """
        # PERF: skipping the generic header pass saved about 1 µs of endpoint A
        # (benchmarks/results/2026-11-21.md); JSON's own two headers need no scan
        # (2.2k of 6.0k instructions, cachegrind 2026-11-21).
        body = self.response
        if (
            self._hk_plain_send
            and type(body) is list
            and len(body) == 1
            and type(body[0]) is bytes
            and not self.direct_passthrough
            and not self._on_close
        ):
            status = self._status_code
            if status >= 200 and status != 204 and status != 304:
                headers = self.headers
                pairs = list(headers._list) if type(headers) is Headers else headers.to_wsgi_list()  # noqa: SLF001
                if (
                    len(pairs) == 2
                    and pairs[0][0] == "Content-Type"
                    and pairs[1][0] == "Content-Length"
                ) or _sent_as_is(pairs):
                    start_response(self._status, pairs)
                    if environ.get("REQUEST_METHOD") == "HEAD":
                        return []
                    return body
        return super().__call__(environ, start_response)

    def get_wsgi_headers(self, environ: Any) -> Headers:
        """Werkzeug's WSGI headers, ``Location`` and ``Content-Location`` encoded by handlerkit.

        Werkzeug re-encodes both with ``iri_to_uri``, which IDNA-encodes even
        an ASCII host and fails on one such as ``a..b`` (a ``Host`` a client
        may send, so ``redirect(request.next_url.origin + ...)`` would fail
        after the handler returned). They are encoded as :meth:`redirect`
        encodes its target instead: an ASCII host is kept as given.
        """
        saved = self.headers
        moved = [(key, value) for key, value in saved.items() if key.lower() in _URL_HEADERS]
        if not moved:
            return super().get_wsgi_headers(environ)
        self.headers = Headers([(k, v) for k, v in saved.items() if k.lower() not in _URL_HEADERS])
        try:
            headers = super().get_wsgi_headers(environ)
        finally:
            self.headers = saved
        for key, value in moved:
            headers.add(key, _location(value))
        return headers

    @property
    def cookies(self) -> ResponseCookies:
        """The cookie jar, written through to the ``Set-Cookie`` headers."""
        return ResponseCookies(self)

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (consumes a streamed body)."""
        return self.get_data(as_text=True)


def _has_header(headers: Any, name: str) -> bool:
    if not headers:
        return False
    items = headers.items() if isinstance(headers, Mapping) else headers
    return any(key.lower() == name for key, _ in items)


def _merge_headers(target: Headers, extra: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
    items = extra.items() if isinstance(extra, Mapping) else extra
    for key, value in items:
        if key.lower() in ("content-type", "content-length"):
            target[key] = value
        else:
            target.add(key, value)


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Iterable[tuple[str, str]] = (),
) -> NextResponse:
    """Return a response in the one JSON error shape."""
    response: NextResponse = NextResponse.json(None, status)
    response.set_data(error_body(code, message, details))
    for key, value in headers:
        if key.lower() not in ("content-type", "content-length"):
            response.headers.add(key, value)
    return response
