"""Cookies both ways: ``request.cookies`` (handlerkit's own ``Cookie`` parser, its bounded cache) and ``response.cookies``.

:class:`RequestCookies` reads the ``Cookie`` header; :class:`ResponseCookies` is a
view over a response's ``Set-Cookie`` headers, keyed by name, path and domain.
Signed values of both use one salt, :data:`COOKIE_SALT`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from werkzeug.http import dump_cookie

from .errors import HandlerKitError
from .tokens import SecretKey, make_serializer

__all__ = [
    "COOKIE_SALT",
    "CookieError",
    "RequestCookie",
    "RequestCookies",
    "ResponseCookie",
    "ResponseCookies",
    "cookies_for",
]

#: The salt that separates signed cookies from every other signed value.
COOKIE_SALT = "handlerkit.cookie"

_new_object = object.__new__
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class RequestCookie(NamedTuple):
    """One request cookie: ``name`` and ``value`` (read-only: requests that send the same
    ``Cookie`` header share them).

    A named tuple, so it compares and hashes as ``(name, value)``.
    """

    name: str
    value: str

    def __repr__(self) -> str:
        return f"RequestCookie({self.name!r}, {self.value!r})"


# PERF: a cookie made by tuple.__new__ costs about a third of one made by a
# read-only class's __init__ (0.39 µs each, timeit 2026-12-07; endpoint Cv
# parses three per request).
_new_cookie = tuple.__new__


_ParsedCookies = tuple[tuple[RequestCookie, ...], dict[str, RequestCookie]]

#: ``RequestCookies`` by the raw ``Cookie`` header text: at most this many, and
#: only headers up to ``_COOKIE_CACHE_MAX_HEADER`` characters. A RequestCookies
#: and its RequestCookie objects are immutable, so requests can share one.
_COOKIE_CACHE: dict[str, RequestCookies] = {}
_COOKIE_CACHE_SIZE = 512
_COOKIE_CACHE_MAX_HEADER = 4096


def cookies_for(header: str, secret_key: SecretKey | None) -> RequestCookies:
    """Return the ``RequestCookies`` of a raw ``Cookie`` header for *secret_key* (cached)."""
    # PERF: a client sends the same Cookie header on every request, so the
    # parse is kept (bounded, immutable). With the NextRequest.cookies descriptor,
    # request.cookies.get("session").value 2.15 -> 1.16 µs (endpoint C; timeit,
    # min of 31 runs, 2026-11-21); keeping the whole view, not just the parse,
    # 8.8k -> 7.6k instructions (valgrind --tool=cachegrind, 2026-11-21).
    cached = _COOKIE_CACHE.get(header)
    if cached is not None and cached._secret_key is secret_key:
        return cached
    cookies = _new_object(RequestCookies)  # RequestCookies(header, key) without __init__
    cookies._cookies, cookies._first = (
        _parse_cookies(header) if cached is None else (cached._cookies, cached._first)
    )
    cookies._secret_key = secret_key
    if len(header) <= _COOKIE_CACHE_MAX_HEADER:
        if len(_COOKIE_CACHE) >= _COOKIE_CACHE_SIZE:
            _COOKIE_CACHE.clear()
        _COOKIE_CACHE[header] = cookies
    return cookies


def _parse_cookies(header: str) -> _ParsedCookies:
    """Return the cookies of a raw ``Cookie`` header, in order, and the first of each name.

    handlerkit's own parser, whatever Werkzeug version is installed (the
    rules are in :class:`RequestCookies`).
    """
    text = header
    if not text.isascii():
        # WSGI passes headers as latin-1 text: back to the bytes, read as UTF-8
        # with invalid bytes replaced.
        text = text.encode("latin-1", "replace").decode("utf-8", "replace")
    cookies: list[RequestCookie] = []
    first: dict[str, RequestCookie] = {}
    repeated = False
    # PERF: one split loop, not Werkzeug's regex parser and MultiDict: half of
    # endpoint C's cookie cost (benchmarks/results/2026-11-21.md).
    for field in text.split(";"):
        name, _, value = field.partition("=")
        name = name.strip(" \t")
        if name:
            value = value.strip(" \t")
            if value[:1] == '"' and len(value) >= 2 and value[-1] == '"':
                value = _unquote_cookie(value[1:-1])
            cookie = _new_cookie(RequestCookie, (name, value))
            cookies.append(cookie)
            if name in first:
                repeated = True
            else:
                first[name] = cookie
    if repeated:
        # Repeated names are grouped under their first position, as a MultiDict lists them.
        grouped: dict[str, list[RequestCookie]] = {}
        for cookie in cookies:
            grouped.setdefault(cookie.name, []).append(cookie)
        cookies = [cookie for group in grouped.values() for cookie in group]
    return tuple(cookies), first


_COOKIE_ESCAPE = re.compile(rb"\\([0-3][0-7]{2}|.)", re.DOTALL)


def _unquote_cookie(quoted: str) -> str:
    """Undo the quoting ``Set-Cookie`` writers use: ``\\ooo`` octal bytes, ``\\c`` for ``c``."""
    if "\\" not in quoted:
        return quoted
    raw = _COOKIE_ESCAPE.sub(
        lambda m: m[1] if len(m[1]) == 1 else bytes((int(m[1], 8),)),
        quoted.encode("utf-8", "surrogateescape"),
    )
    return raw.decode("utf-8", "replace")


class RequestCookies:
    """The request's cookies, parsed leniently from the ``Cookie`` header.

    The rules, handlerkit's own (the same whatever Werkzeug is installed):

    - the header is split at every ``;``; each field at its first ``=`` into
      a name and a value, both stripped of spaces and tabs;
    - a field with an empty name (``=x``, or nothing between two ``;``) is
      skipped; a field without ``=`` is a name with the value ``""``;
    - a value in double quotes loses them, and its ``\\ooo`` (octal byte)
      and ``\\c`` escapes are undone, as ``Set-Cookie`` writers such as
      Werkzeug's ``dump_cookie`` quote values;
    - bytes that are not UTF-8 are replaced with U+FFFD; nothing is refused.

    When a name appears twice (``a=1; a=2``), the first one wins for
    :meth:`get`; :meth:`get_all` returns both, grouped at the first one's place.

    Args:
        header: The raw ``Cookie`` header value.
        secret_key: The app's key or rotation list, for :meth:`get_signed`.
    """

    __slots__ = ("_cookies", "_first", "_secret_key")

    _cookies: tuple[RequestCookie, ...]
    _first: dict[str, RequestCookie]
    _secret_key: SecretKey | None

    def __init__(self, header: str = "", secret_key: SecretKey | None = None) -> None:
        shared = cookies_for(header, secret_key)
        self._cookies, self._first = shared._cookies, shared._first
        self._secret_key = secret_key

    def get(self, name: str) -> RequestCookie | None:
        """Return the first cookie called *name*, or ``None``."""
        return self._first.get(name)

    def get_all(self, name: str | None = None) -> list[RequestCookie]:
        """Return every cookie called *name*, or every cookie when *name* is ``None``."""
        if name is None:
            return list(self._cookies)
        return [cookie for cookie in self._cookies if cookie.name == name]

    def has(self, name: str) -> bool:
        """Return whether a cookie called *name* was sent."""
        return name in self._first

    def get_signed(self, name: str, max_age: int | float | None = None) -> Any:
        """Return the verified payload of a cookie set with ``set_signed``.

        Args:
            name: The cookie name.
            max_age: Seconds after signing when the value expires; ``None`` for never.

        Returns:
            The payload, or ``None`` when the cookie is absent, tampered with,
            signed with an unknown key, or expired.

        Raises:
            HandlerKitError: The app has no ``secret_key``.
        """
        cookie = self.get(name)
        if cookie is None:
            return None
        serializer = make_serializer(self._secret_key, COOKIE_SALT)
        try:
            return serializer.loads(cookie.value, max_age=max_age)  # type: ignore[arg-type]  # float ages work
        except Exception:  # noqa: BLE001 - any failure to verify means "not signed by us"
            return None

    def __iter__(self) -> Iterator[RequestCookie]:
        return iter(self._cookies)

    def __len__(self) -> int:
        return len(self._cookies)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._first

    def __repr__(self) -> str:
        return f"RequestCookies({list(self._cookies)!r})"


# PERF: NextRequest.cookies is one descriptor frame on first read instead of
# cached_property's two (plus RequestCookies.__init__); figures at _parse_cookies.
class CookiesAttr:
    """The request cookies; empty when no ``Cookie`` header was sent."""

    def __get__(self, request: Any, owner: type | None = None) -> Any:
        if request is None:
            return self
        cookies = cookies_for(request.environ.get("HTTP_COOKIE", ""), request.secret_key)
        request.cookies = cookies
        return cookies


# -- response cookies ----------------------------------------------------------


class CookieError(HandlerKitError, ValueError):
    """Raised at ``cookies.set`` time for a name, value or attribute that would corrupt the header."""


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
        # dump_cookie quotes with backslash and octal escapes (\054 for ","); undo them
        # with the request parser's own unquoting.
        value = _unquote_cookie(value[1:-1])
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

    def __init__(self, response: Any) -> None:  # a NextResponse
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
