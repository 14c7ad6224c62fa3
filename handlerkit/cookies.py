"""Request cookies: ``RequestCookies`` (``request.cookies``), handlerkit's own ``Cookie`` parser and its bounded cache."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .tokens import SecretKey, make_serializer

__all__ = ["COOKIE_SALT", "RequestCookie", "RequestCookies", "cookies_for"]

#: The salt that separates signed cookies from every other signed value.
COOKIE_SALT = "handlerkit.cookie"

_new_object = object.__new__


class RequestCookie:
    """One request cookie: ``name`` and ``value`` (read-only)."""

    __slots__ = ("name", "value")

    name: str
    value: str

    def __init__(self, name: str, value: str) -> None:
        _set_attribute(self, "name", name)
        _set_attribute(self, "value", value)

    def __setattr__(self, key: str, value: object) -> None:
        # Read-only: parsed cookies are shared by every request that sends the
        # same Cookie header (see _parse_cookies).
        raise AttributeError("a RequestCookie is read-only")

    def __delattr__(self, key: str) -> None:
        raise AttributeError("a RequestCookie is read-only")

    def __reduce__(self) -> tuple[type[RequestCookie], tuple[str, str]]:
        return RequestCookie, (self.name, self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RequestCookie) and (self.name, self.value) == (
            other.name,
            other.value,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.value))

    def __repr__(self) -> str:
        return f"RequestCookie({self.name!r}, {self.value!r})"


_set_attribute = object.__setattr__

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
    # PERF: one split loop, not Werkzeug's regex parser and MultiDict: half of
    # endpoint C's cookie cost (benchmarks/results/2026-11-21.md).
    for field in text.split(";"):
        name, _, value = field.partition("=")
        name = name.strip(" \t")
        if name:
            value = value.strip(" \t")
            if value[:1] == '"' and len(value) >= 2 and value[-1] == '"':
                value = _unquote_cookie(value[1:-1])
            cookies.append(RequestCookie(name, value))
    first: dict[str, RequestCookie] = {}
    for cookie in cookies:
        first.setdefault(cookie.name, cookie)
    if len(first) != len(cookies):
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
