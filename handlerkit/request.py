"""NextRequest, a thin Werkzeug Request with the Next.js API, and its URL, query, cookie and form views.

Where the Next.js and Werkzeug APIs collide, Next.js wins, and each such place
is listed here once:

- ``request.json()`` and ``request.text()`` are methods (Werkzeug: ``json``
  is a property).
- ``request.cookies`` is a :class:`RequestCookies` whose ``get(name)`` returns a
  cookie object with ``.name`` and ``.value`` (Werkzeug: a ``MultiDict`` of str).
- ``request.body`` is an iterator of byte chunks, read without buffering.

Everything else (``headers``, ``method``, ``args``, ``form``, ``files``,
``stream`` ...) is Werkzeug's, unchanged.
"""

from __future__ import annotations

import builtins
import json as _json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from io import BytesIO
from typing import IO, TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote, unquote, urlencode, urlsplit

from werkzeug.datastructures import EnvironHeaders, FileStorage, MultiDict
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request
from werkzeug.wsgi import _get_server

from .errors import ApiError, HandlerKitError
from .tokens import SecretKey, make_serializer

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "FormData",
    "NextRequest",
    "NextURL",
    "RequestCookie",
    "RequestCookies",
    "SearchParams",
    "UploadedFile",
]

#: The default request body limit: 1 MiB.
DEFAULT_MAX_BODY_SIZE = 1024 * 1024

#: The salt that separates signed cookies from every other signed value.
COOKIE_SALT = "handlerkit.cookie"

_CHUNK = 64 * 1024
_new_object = object.__new__

if TYPE_CHECKING:
    from functools import cached_property
else:

    class cached_property:  # noqa: N801 - a drop-in for functools.cached_property
        """``functools.cached_property`` without the per-class lock.

        PERF: Python 3.11's cached_property takes an RLock on every first read;
        endpoint C reads three of them per request and the lock cost about
        1 µs of its total (cProfile, benchmarks/results/2026-11-21.md). A
        request object is never shared between threads while it is built.
        """

        def __init__(self, func):
            self.func = func
            self.attrname = None
            self.__doc__ = func.__doc__

        def __set_name__(self, owner, name):
            self.attrname = name

        def __get__(self, instance, owner=None):
            if instance is None:
                return self
            value = self.func(instance)
            instance.__dict__[self.attrname] = value
            return value
_MISSING: Any = object()


def parse_query(query: str) -> list[tuple[str, str]]:
    """Split a query string into ``(name, value)`` pairs, percent-decoded as UTF-8.

    The same result as ``urllib.parse.parse_qsl(query, keep_blank_values=True,
    errors="replace")``: ``&`` separates, ``+`` is a space, a name without
    ``=`` has the value ``""``, empty fields are skipped.
    """
    # PERF: parse_qsl's generic argument handling cost 2 of endpoint C's µs;
    # this skips it and only unquotes fields that contain "%" (C's figures in
    # benchmarks/results/2026-11-21.md).
    pairs: list[tuple[str, str]] = []
    if not query:
        return pairs
    for field in query.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "+" in field:
            name = name.replace("+", " ")
            value = value.replace("+", " ")
        if "%" in name:
            name = unquote(name, "utf-8", "replace")
        if "%" in value:
            value = unquote(value, "utf-8", "replace")
        pairs.append((name, value))
    return pairs


def _invalid_json(message: str = "The request body is not valid JSON.") -> ApiError:
    return ApiError(400, "invalid_json", message)


def _json_depth_exceeds(data: str, limit: int) -> bool:
    """Return whether JSON text nests arrays/objects deeper than *limit* (strings skipped)."""
    depth = 0
    in_string = False
    escaped = False
    for char in data:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (_INF, -_INF):  # 1e400 overflows to inf, which JSON cannot carry back out
        raise ValueError("number out of range")
    return value


# PERF: json.loads(text, parse_constant=..., parse_float=...) builds a new
# decoder per call; the decoder is stateless, so one serves every request
# (endpoint D, cProfile 2026-11-21: JSONDecoder.__init__ on every body).
_JSON_DECODER = _json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


_INF = float("inf")
_BOM = b"\xef\xbb\xbf"

#: A ``\\uD800``-``\\uDFFF`` escape: the only way a JSON text read from UTF-8 can
#: carry a surrogate. A pair decodes to one character; a lone one stays a surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    """Return whether a decoded JSON value holds a lone surrogate in any key or string."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


# The characters a URL path and query keep unescaped (the WHATWG URL path and
# query percent-encode sets, plus "%" for escapes the text already has), as
# Werkzeug's iri_to_uri keeps them.
_PATH_SAFE = "!$&'()*+,/:;=@%"
_QUERY_SAFE = "!$&'()*+,/:;=?@%"

# host[:port] as RFC 3986 allows a Host header to name it: a reg-name or IPv4
# address of letters, digits, ".", "-" and "_", or a bracketed IPv6 address,
# and an optional port of 1-5 digits (checked for 1..65535 below).
_HOST = re.compile(
    r"([a-z0-9._-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(?::([0-9]{1,5}))?", re.ASCII | re.IGNORECASE
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def request_host(environ: Mapping[str, Any]) -> str:
    """Return the request's ``host[:port]``, without the scheme's default port.

    The ``Host`` header when there is a non-empty one, else ``SERVER_NAME``
    and ``SERVER_PORT``. This is handlerkit's own check, the same whatever
    Werkzeug version is installed.

    Raises:
        ApiError: 400 ``invalid_host`` when the ``Host`` header is not a
            ``host[:port]`` (RFC 9112 asks a server to refuse it).
    """
    scheme = environ.get("wsgi.url_scheme", "http")
    header = environ.get("HTTP_HOST")
    if not header:  # absent, or empty as RFC 9112 allows: the server's own name
        name = environ.get("SERVER_NAME", "")
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"
        port = str(environ.get("SERVER_PORT", ""))
        return name if not port or port == _DEFAULT_PORTS.get(scheme) else f"{name}:{port}"
    match = _HOST.fullmatch(header)
    if match is None or (match[2] is not None and not 0 < int(match[2]) <= 65535):
        raise ApiError(400, "invalid_host", "The Host header is not a valid host name.")
    if match[2] is not None and match[2] == _DEFAULT_PORTS.get(scheme):
        return match[1]
    return header  # type: ignore[no-any-return]


def hostname_of(host: str) -> str:
    """Return *host* without its ``:port``; an IPv6 address keeps its brackets (``[::1]``)."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.partition(":")[0]


def host_is_trusted(host: str, trusted: Iterable[str]) -> bool:
    """Return whether *host*'s name is one of *trusted* (case-insensitive, the port ignored).

    A *trusted* name starting with ``.`` also matches every subdomain.
    """
    name = hostname_of(host).lower()
    for ref in trusted:
        ref = ref.lower()
        if ref.startswith("."):
            if name == ref[1:] or name.endswith(ref):
                return True
        elif name == ref:
            return True
    return False


class SearchParams:
    """The query string as ordered name/value pairs, like the URLSearchParams API.

    Args:
        query: The raw query string, without ``?``.
    """

    __slots__ = ("_pairs",)

    def __init__(self, query: str = "") -> None:
        self._pairs: list[tuple[str, str]] = parse_query(query)

    def get(self, name: str) -> str | None:
        """Return the first value of *name*, or ``None`` when absent."""
        for key, value in self._pairs:
            if key == name:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        """Return every value of *name* in order; ``[]`` when absent."""
        return [value for key, value in self._pairs if key == name]

    def has(self, name: str) -> bool:
        """Return whether *name* appears at least once."""
        return any(key == name for key, _ in self._pairs)

    def keys(self) -> list[str]:
        """Return every name in order, repeated names included."""
        return [key for key, _ in self._pairs]

    def values(self) -> list[str]:
        """Return every value in order."""
        return [value for _, value in self._pairs]

    def items(self) -> list[tuple[str, str]]:
        """Return every ``(name, value)`` pair in order."""
        return list(self._pairs)

    def to_dict(self) -> dict[str, str]:
        """Return a dict of the first value per name."""
        result: dict[str, str] = {}
        for key, value in self._pairs:
            result.setdefault(key, value)
        return result

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self._pairs)

    def __str__(self) -> str:
        return urlencode(self._pairs)

    def __repr__(self) -> str:
        return f"SearchParams({str(self)!r})"


# NextURL.search_params: parsed from the query string on first read, then kept
# on the instance (a non-data descriptor, like cached_property).
class _SearchParamsAttr:
    """The query as :class:`SearchParams` (empty when there is no query)."""

    def __get__(self, url: Any, owner: type | None = None) -> Any:
        if url is None:
            return self
        # The environ's QUERY_STRING, the text request.query_string is made of,
        # without its latin-1 round trip when the query is ASCII. PERF: read from
        # the environ, never request.__dict__: reading an instance's __dict__
        # makes Python 3.11 move its attributes into a real dict, after which
        # every attribute read on it is slower. Request plus next_url.search_params
        # plus two get() 23.7k -> 21.3k instructions (valgrind --tool=cachegrind,
        # 2026-11-21), with next_url, cookies and the App not reading __dict__.
        query = url._request.environ.get("QUERY_STRING", "")
        if not query.isascii():
            query = query.encode("latin1").decode("utf-8", "replace")
        params = _new_object(SearchParams)  # SearchParams(query) without the __init__ frame
        if "%" in query or "+" in query:
            params._pairs = parse_query(query)
        else:
            # parse_query's loop for a query with nothing to decode.
            params._pairs = pairs = []
            if query:
                for field in query.split("&"):
                    if field:
                        name, _, value = field.partition("=")
                        pairs.append((name, value))
        url.search_params = params
        return params


class NextURL:
    """The parsed request URL, like Next.js ``request.nextUrl``.

    ``pathname`` is the decoded path *inside* the app: it excludes the mount
    prefix (``SCRIPT_NAME``) and the app's ``base_path``. ``href`` is the full,
    encoded URL including both.
    """

    __slots__ = ("_request", "__dict__")

    def __init__(self, request: NextRequest) -> None:
        self._request = request

    @cached_property
    def base_path(self) -> str:
        """The app's ``base_path``; ``""`` when none is configured."""
        return self._request.base_path

    @cached_property
    def pathname(self) -> str:
        """The decoded path below the mount prefix and ``base_path``; at least ``"/"``."""
        path = self._request.path
        base = self._request.base_path
        if base and (path == base or path.startswith(base + "/")):
            path = path[len(base) :]
        return path or "/"

    @cached_property
    def search(self) -> str:
        """``"?"`` plus the raw query string, or ``""`` when there is none."""
        query = self._request.query_string.decode("latin-1")
        return f"?{query}" if query else ""

    if TYPE_CHECKING:

        @cached_property
        def search_params(self) -> SearchParams:
            """The query as :class:`SearchParams` (empty when there is no query)."""

    else:
        # PERF: one descriptor frame that parses the query inline, instead of
        # cached_property + method + parse_query + SearchParams.__init__:
        # request.next_url.search_params plus two get() 2.9 -> 2.6 µs with the
        # NextRequest.next_url descriptor (endpoint C; timeit, min of 31 runs, 2026-11-21).
        search_params = _SearchParamsAttr()

    @property
    def searchParams(self) -> SearchParams:  # noqa: N802 - Next.js alias
        """Alias of :attr:`search_params`, for Next.js familiarity."""
        return self.search_params

    @cached_property
    def protocol(self) -> str:
        """The scheme with a colon, ``"http:"`` or ``"https:"``."""
        return f"{self._request.scheme}:"

    @cached_property
    def host(self) -> str:
        """The host, lower-cased as a URL has it, with the port when it is not the default one."""
        return self._request.host.lower()  # type: ignore[no-any-return]  # NextRequest.host

    @cached_property
    def hostname(self) -> str:
        """The host without the port; an IPv6 address keeps its brackets."""
        return hostname_of(self.host)

    @cached_property
    def port(self) -> str:
        """The port as a string, or ``""`` when it is the scheme's default."""
        host = self.host
        return host[len(hostname_of(host)) + 1 :]

    @cached_property
    def origin(self) -> str:
        """``protocol//host``, for example ``"https://example.com"``."""
        return f"{self._request.scheme}://{self.host}"

    @cached_property
    def href(self) -> str:
        """The full percent-encoded URL, mount prefix and ``base_path`` included.

        Built from the validated host as sent (never IDNA-transcoded, so a
        host such as ``a..b`` or ``xn--a`` cannot fail it) and the decoded path
        and query, percent-encoded as Werkzeug's ``iri_to_uri(request.url)``
        encodes them.
        """
        request = self._request
        query = request.environ.get("QUERY_STRING", "")
        return (
            f"{request.scheme}://{self.host}"
            + quote(request.root_path.rstrip("/") + "/" + request.path.lstrip("/"), _PATH_SAFE)
            + ("?" + quote(query.encode("latin-1"), _QUERY_SAFE) if query else "")
        )

    def __str__(self) -> str:
        return self.href

    def __repr__(self) -> str:
        return f"NextURL({self.href!r})"


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


def _cookies_for(header: str, secret_key: SecretKey | None) -> RequestCookies:
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
        shared = _cookies_for(header, secret_key)
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


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def sanitize_filename(filename: str | None, max_length: int = 255) -> str:
    """Return a display-safe version of a client-supplied file name.

    The result has no directory part, no control characters and no path
    separators, and is at most *max_length* characters. It is meant for
    display and logs; never use a client's file name as a path.
    """
    if not filename:
        return ""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("", name).strip().lstrip(".")
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and len(ext) <= 16 else ""
        name = name[: max_length - len(ext) - 1] + ("." + ext if ext else "")
    return name


def disposition_filename(disposition: str) -> str | None:
    """Return the ``filename`` a multipart part's ``Content-Disposition`` gives, or ``None``.

    handlerkit's own reading, the same whatever Werkzeug is installed:

    - ``filename*=charset'lang'percent-encoded`` (RFC 6266/8187) wins over
      ``filename``; UTF-8 and ISO-8859-1 are understood, bad bytes replaced;
    - in a quoted ``filename="..."`` only ``\\"`` and ``\\\\`` are escapes:
      any other backslash is kept, as browsers send Windows paths unescaped
      (``C:\\x`` stays ``C:\\x``), and ``%22`` is a ``"`` (how HTML forms
      encode a quote in a file name).
    """
    params: dict[str, str] = {}
    text, length = disposition, len(disposition)
    pos = text.find(";")
    while 0 <= pos < length:
        pos += 1
        end = pos
        while end < length and text[end] not in "=;":
            end += 1
        key = text[pos:end].strip(" \t").lower()
        if end >= length or text[end] == ";":
            pos = end
            continue
        pos = end + 1
        while pos < length and text[pos] in " \t":
            pos += 1
        if pos < length and text[pos] == '"':
            chars: list[str] = []
            pos += 1
            while pos < length and text[pos] != '"':
                if text[pos] == "\\" and pos + 1 < length and text[pos + 1] in '"\\':
                    pos += 1
                chars.append(text[pos])
                pos += 1
            value = "".join(chars).replace("%22", '"')
            pos = text.find(";", pos)
        else:
            end = text.find(";", pos)
            value = text[pos : end if end >= 0 else length].strip(" \t")
            pos = end
        params.setdefault(key, value)
    extended = params.get("filename*")
    if extended is not None and extended.count("'") >= 2:
        charset, _, rest = extended.partition("'")
        encoded = rest.partition("'")[2]
        charset = "latin-1" if charset.lower() in ("iso-8859-1", "latin-1", "latin1") else "utf-8"
        return unquote(encoded, charset, "replace")
    return params.get("filename")


class UploadedFile:
    """One uploaded file from a multipart body.

    The declared ``content_type`` comes from the client and is not verified;
    check the bytes yourself when it matters.
    """

    __slots__ = ("_storage", "field")

    def __init__(self, field: str, storage: FileStorage) -> None:
        self.field = field
        self._storage = storage

    @property
    def name(self) -> str:
        """The sanitised display name; ``""`` when the client sent none."""
        return sanitize_filename(self.raw_filename)

    @property
    def raw_filename(self) -> str:
        """The file name as the client sent it (untrusted; never a path); ``""`` when none.

        Read from the part's ``Content-Disposition`` by
        :func:`disposition_filename`, not from the form parser.
        """
        disposition = self._storage.headers.get("Content-Disposition")
        if disposition is None:
            return self._storage.filename or ""
        return disposition_filename(disposition) or ""

    @property
    def content_type(self) -> str:
        """The declared content type (untrusted); ``"application/octet-stream"`` when absent."""
        return self._storage.mimetype or "application/octet-stream"

    @property
    def stream(self) -> IO[bytes]:
        """The underlying file object, a spooled temporary file."""
        return self._storage.stream

    @property
    def size(self) -> int:
        """The size in bytes."""
        stream = self._storage.stream
        position = stream.tell()
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        stream.seek(position)
        return size

    def read(self) -> bytes:
        """Return the whole content."""
        self._storage.stream.seek(0)
        return self._storage.stream.read()

    def save(self, destination: str | os.PathLike[str] | BinaryIO) -> None:
        """Copy the content to a path or an open binary file chosen by the app."""
        self._storage.stream.seek(0)
        if isinstance(destination, (str, os.PathLike)):
            with open(destination, "wb") as target:
                shutil.copyfileobj(self._storage.stream, target)
            return
        shutil.copyfileobj(self._storage.stream, destination)

    def __repr__(self) -> str:
        return f"UploadedFile({self.field!r}, name={self.name!r}, content_type={self.content_type!r})"


class FormData:
    """Fields and files of a form body, like the FormData API.

    ``get(name)`` returns a ``str`` for a field or an :class:`UploadedFile` for
    a file; fields come before files when a name has both.
    """

    __slots__ = ("_fields", "_files")

    def __init__(self, fields: MultiDict[str, str], files: MultiDict[str, FileStorage]) -> None:
        self._fields = fields
        self._files = files

    def get(self, name: str) -> str | UploadedFile | None:
        """Return the first field value or file called *name*, or ``None``."""
        if name in self._fields:
            return self._fields[name]
        if name in self._files:
            return UploadedFile(name, self._files[name])
        return None

    def get_all(self, name: str) -> list[str | UploadedFile]:
        """Return every field value and file called *name*."""
        values: list[str | UploadedFile] = list(self._fields.getlist(name))
        values.extend(UploadedFile(name, storage) for storage in self._files.getlist(name))
        return values

    def has(self, name: str) -> bool:
        """Return whether a field or file called *name* was sent."""
        return name in self._fields or name in self._files

    def keys(self) -> list[str]:
        """Return the distinct names, fields first."""
        return list(dict.fromkeys([*self._fields.keys(), *self._files.keys()]))

    def items(self) -> list[tuple[str, str | UploadedFile]]:
        """Return every ``(name, value)`` pair, fields first."""
        pairs: list[tuple[str, str | UploadedFile]] = list(self._fields.items(multi=True))
        pairs.extend((k, UploadedFile(k, v)) for k, v in self._files.items(multi=True))
        return pairs

    @property
    def files(self) -> list[UploadedFile]:
        """Every uploaded file."""
        return [UploadedFile(k, v) for k, v in self._files.items(multi=True)]

    def __iter__(self) -> Iterator[tuple[str, str | UploadedFile]]:
        return iter(self.items())

    def __contains__(self, name: object) -> bool:
        return name in self._fields or name in self._files

    def __len__(self) -> int:
        return len(self.items())


def _decode_wsgi(value: str) -> str:
    # Werkzeug's WSGI decoding: the latin-1 environ string back to bytes, read as UTF-8.
    return value.encode("latin1").decode(errors="replace")


class _EnvironValue:
    """A request attribute computed from ``environ`` on first read, then stored on the instance."""

    def __init__(self, compute: Callable[[dict[str, Any]], Any], doc: str) -> None:
        self.compute = compute
        self.name = ""
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.compute(instance.environ)
        setattr(instance, self.name, value)  # not via __dict__: see NextURL.search_params
        return value


# PERF: NextRequest.next_url and .cookies are one descriptor frame each on first
# read instead of cached_property's two (plus NextURL/RequestCookies __init__);
# figures at NextURL.search_params and _parse_cookies (endpoint C).
class _NextURLAttr:
    """The parsed URL (``pathname``, ``search_params``, ``origin``, ``href`` ...)."""

    def __get__(self, request: Any, owner: type | None = None) -> Any:
        if request is None:
            return self
        url = _new_object(NextURL)  # NextURL(request) without the __init__ frame
        # The URL reads a twin of the request (the same environ and base path),
        # not the request itself: request -> next_url -> request was a reference
        # cycle, so every request that read next_url (8 objects with its query)
        # waited for the cyclic garbage collector instead of being freed on
        # return. Under gunicorn that cost endpoint C a full collection of the
        # app's heap now and then.
        url._request = type(request).from_environ(request.environ, None, None, request.base_path)
        request.next_url = url  # kept on the instance without touching __dict__
        return url


class _CookiesAttr:
    """The request cookies; empty when no ``Cookie`` header was sent."""

    def __get__(self, request: Any, owner: type | None = None) -> Any:
        if request is None:
            return self
        header = request.environ.get("HTTP_COOKIE", "")
        cookies = _COOKIE_CACHE.get(header)
        if cookies is None or cookies._secret_key is not request.secret_key:
            cookies = _cookies_for(header, request.secret_key)
        request.cookies = cookies
        return cookies


class NextRequest(Request):
    """An incoming request with the Next.js ``NextRequest`` API on top of Werkzeug's.

    In tests, build one from a URL::

        NextRequest("http://localhost/api/users?page=2", method="POST",
                    json={"name": "Ada"}, headers={"X-Id": "1"}, cookies={"s": "abc"})

    The app builds it from the WSGI environ. Bodies are bounded by
    ``max_body_size`` (413 beyond it), buffered once on first full read, and
    readable again afterwards.

    Args:
        environ_or_url: A WSGI environ, or an absolute or ``/``-relative URL.
        method: The HTTP method (URL form only).
        json: A value to send as a JSON body (URL form only).
        data: A raw ``bytes``/``str`` body (URL form only).
        headers: Request headers (URL form only).
        cookies: Cookies to send, ``{name: value}`` (URL form only).
        form: Form fields (URL form only).
        files: Files, ``{field: (bytes_or_file, filename, content_type)}`` (URL form only).
        content_type: The body's content type when it cannot be inferred.
        secret_key: The key or rotation list for signed cookies.
        max_body_size: The body limit in bytes; ``None`` for no limit.
        base_path: The app's base path, reflected in ``next_url``.
    """

    #: The deepest JSON nesting :meth:`json` accepts before answering 400.
    max_json_depth = 128

    # What Werkzeug's Request.__init__ computes eagerly, computed on first read
    # instead when the app built the request (from_environ). __init__ still sets
    # them all, as Werkzeug does.
    method = _EnvironValue(
        lambda e: e.get("REQUEST_METHOD", "GET").upper(), "The method, upper-case."
    )
    scheme = _EnvironValue(
        lambda e: e.get("wsgi.url_scheme", "http"), "The URL scheme, ``http`` by default."
    )
    server = _EnvironValue(_get_server, "``(host, port)`` of the server; ``None`` when unknown.")
    root_path = _EnvironValue(
        lambda e: _decode_wsgi(e.get("SCRIPT_NAME") or "").rstrip("/"),
        "The mount prefix without a trailing slash; ``\"\"`` when there is none.",
    )
    path = _EnvironValue(
        lambda e: "/" + _decode_wsgi(e.get("PATH_INFO") or "").lstrip("/"),
        "The path below the mount prefix; at least ``\"/\"``.",
    )
    query_string = _EnvironValue(
        lambda e: e.get("QUERY_STRING", "").encode("latin1"),
        "The raw query string; ``b\"\"`` when none.",
    )
    headers = _EnvironValue(EnvironHeaders, "The request headers (a live view of the environ).")
    remote_addr = _EnvironValue(
        lambda e: e.get("REMOTE_ADDR"), "The client address; ``None`` when unknown."
    )
    host = _EnvironValue(
        request_host,
        "``host[:port]`` without the default port (:func:`request_host`); 400 when malformed.",
    )

    #: The largest non-file form field, and the largest urlencoded body, in
    #: bytes; beyond it :meth:`form_data` answers 413.
    max_form_memory_size = 500_000

    #: The most fields and files a form may have; beyond it :meth:`form_data` answers 413.
    max_form_parts = 1000

    def __init__(
        self,
        environ_or_url: dict[str, Any] | str = "/",
        method: str = "GET",
        *,
        json: Any = _MISSING,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | list[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | None = None,
        form: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        content_type: str | None = None,
        secret_key: SecretKey | None = None,
        max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
        base_path: str = "",
    ) -> None:
        if isinstance(environ_or_url, dict):
            environ = environ_or_url
        else:
            environ = _build_environ(
                environ_or_url, method, json, data, headers, cookies, form, files, content_type
            )
        super().__init__(environ, populate_request=False)
        self.secret_key = secret_key
        self.max_content_length = max_body_size
        self.base_path = base_path

    @classmethod
    def from_environ(
        cls,
        environ: dict[str, Any],
        secret_key: SecretKey | None,
        max_body_size: int | None,
        base_path: str,
    ) -> NextRequest:
        """Build a request for the app from a WSGI environ (the dispatch path)."""
        # PERF: skips __init__ altogether: method, path, headers ... are read from
        # the environ on first use (_EnvironValue below), so a handler that never
        # looks at them pays nothing. Werkzeug's eager Request.__init__ cost about
        # 2.5 µs of endpoint A's 17 µs (cProfile, benchmarks/results/2026-11-21.md).
        request = cls.__new__(cls)
        request.environ = environ
        request.shallow = False
        request.secret_key = secret_key
        request.max_content_length = max_body_size
        request.base_path = base_path
        return request

    # -- URL ------------------------------------------------------------------

    if TYPE_CHECKING:

        @cached_property
        def next_url(self) -> NextURL:
            """The parsed URL (``pathname``, ``search_params``, ``origin``, ``href`` ...)."""

    else:
        next_url = _NextURLAttr()

    @property
    def nextUrl(self) -> NextURL:  # noqa: N802 - Next.js alias
        """Alias of :attr:`next_url`, for Next.js familiarity."""
        return self.next_url

    @property
    def ip(self) -> str | None:
        """The client address: ``REMOTE_ADDR`` as rewritten by trusted proxies; ``None`` if unknown."""
        return self.remote_addr  # type: ignore[no-any-return]  # lazily computed from the environ

    # -- cookies --------------------------------------------------------------

    if TYPE_CHECKING:

        @cached_property
        def cookies(self) -> RequestCookies:  # type: ignore[override]
            """The request cookies; empty when no ``Cookie`` header was sent."""

    else:
        cookies = _CookiesAttr()

    # -- body -----------------------------------------------------------------

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        """Return a spooled temporary file for one upload, remembered so :meth:`close` releases it.

        Every file the multipart parser opens is tracked, including those of
        a body that later fails to parse (too many parts, truncated), so the
        app can close them all once the response is done.
        """
        stream = super()._get_file_stream(total_content_length, content_type, filename, content_length)
        self.__dict__.setdefault("_hk_temp_files", []).append(stream)
        return stream

    def close(self) -> None:
        """Close every uploaded file of this request; the app calls it after the response."""
        try:
            super().close()
        finally:
            for stream in self.__dict__.pop("_hk_temp_files", ()):
                stream.close()

    def make_form_data_parser(self) -> FormDataParser:
        """Return Werkzeug's form parser; strict (malformed bodies raise) inside :meth:`form_data`.

        Werkzeug's own ``request.form``/``files`` keep their lenient behaviour:
        a malformed body reads as an empty form there.
        """
        return self.form_data_parser_class(
            stream_factory=self._get_file_stream,
            max_form_memory_size=self.max_form_memory_size,
            max_content_length=self.max_content_length,
            max_form_parts=self.max_form_parts,
            cls=self.parameter_storage_class,
            silent=not self.__dict__.get("_hk_strict_form", False),
        )

    def bytes(self) -> bytes:
        """Return the whole body, reading and buffering it on first use.

        Raises:
            ApiError: 413 when the body exceeds the limit, 400 when the client
                disconnected before sending all of it.
        """
        cached = self.__dict__.get("_cached_data")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        if self.__dict__.get("_hk_streamed"):
            raise HandlerKitError("the body was already consumed through request.body")
        if self.__dict__.get("_hk_too_large"):
            raise _too_large()
        length = self.environ.get("CONTENT_LENGTH")
        if length and length.isdigit() and length.isascii() and "stream" not in self.__dict__:
            return self._read_exactly(int(length))
        try:
            data = self.get_data(cache=True)
        except RequestEntityTooLarge as exc:
            raise _too_large() from exc
        except ClientDisconnected as exc:
            raise _incomplete() from exc
        except Exception as exc:  # noqa: BLE001 - only the server's body-read errors become 400
            raise _unreadable(exc) from exc
        if self._overflows(len(data)):
            self.__dict__.pop("_cached_data", None)  # never hand out the truncated bytes
            self.__dict__["_hk_too_large"] = True
            raise _too_large()
        return data

    def _read_exactly(self, length: int) -> builtins.bytes:
        """Read a body of a declared ``Content-Length`` straight from ``wsgi.input``.

        The answers Werkzeug's ``get_data`` gives (413 over the limit before
        reading, 400 for a body that ends early), without its stream wrappers.
        """
        # PERF: get_input_stream + LimitedStream + get_data took about 10 µs of
        # endpoint D's 70 (cProfile, 2026-11-21); a known length needs one read.
        limit = self.max_content_length
        if limit is not None and length > limit:
            raise _too_large()
        stream = self.environ["wsgi.input"]
        try:
            data = stream.read(length)
            while len(data) < length:  # a server may hand the body over in parts
                more = stream.read(length - len(data))
                if not more:
                    raise _incomplete()
                data += more
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001 - only the server's body-read errors become 400
            raise _unreadable(exc) from exc
        self.__dict__["_cached_data"] = data
        return data  # type: ignore[no-any-return]

    def _overflows(self, size: int) -> bool:
        """Return whether a chunked body read up to the limit has more bytes behind it.

        Werkzeug's ``LimitedStream`` stops quietly at ``max_content_length``
        on a body without ``Content-Length`` (chunked, ``wsgi.input_terminated``);
        one more byte from the server's stream tells "exactly the limit" from
        "larger", so a large body is a 413 instead of being silently truncated.
        """
        limit = self.max_content_length
        if limit is None or size < limit or self.content_length is not None:
            return False
        if "wsgi.input_terminated" not in self.environ:
            return False
        try:
            return bool(self.environ["wsgi.input"].read(1))
        except (OSError, ValueError):
            return False
        except Exception as exc:  # noqa: BLE001 - a malformed chunked body (gunicorn's parse errors)
            raise _unreadable(exc) from exc

    def text(self) -> str:
        """Return the body decoded with its declared charset (UTF-8 by default), invalid bytes replaced."""
        charset = self.mimetype_params.get("charset", "utf-8")
        try:
            return self.bytes().decode(charset, "replace")
        except (LookupError, UnicodeError):  # unknown charsets, and codecs like idna that refuse "replace"
            return self.bytes().decode("utf-8", "replace")

    def json(self) -> Any:
        """Parse the body as JSON and return the value (cached; the same object each call).

        Duplicate keys keep the last value. ``NaN``, ``Infinity`` and numbers
        that overflow to infinity (``1e400``) are refused, and so is a lone
        surrogate escape such as ``"\\ud800"`` (valid JSON text, but no Unicode
        string: it could not be stored, hashed or sent as UTF-8), as I-JSON
        (RFC 7493) requires. A surrogate *pair* is one character and is fine.

        Raises:
            ApiError: 400 ``invalid_json`` for an empty body, invalid UTF-8,
                malformed JSON, an integer beyond Python's digit limit, a lone
                surrogate, or nesting deeper than :attr:`max_json_depth`. The parser's own
                message is never echoed. 413 when the body is too large.
        """
        cached = self.__dict__.get("_hk_json", _MISSING)
        if cached is not _MISSING:
            return cached
        raw = self.bytes()
        if not raw.strip():
            raise _invalid_json("The request body is empty; JSON was expected.")
        if raw.startswith(_BOM):  # PERF: "utf-8-sig" is a Python-level codec, "utf-8" is C
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _invalid_json("The request body is not valid UTF-8.") from exc
        limit = self.max_json_depth
        # PERF: the exact depth scan is Python-speed; only bodies with enough
        # brackets to possibly exceed the limit pay for it.
        if text.count("[") + text.count("{") > limit and _json_depth_exceeds(text, limit):
            raise _invalid_json("The JSON body is nested too deeply.")
        try:
            value = _JSON_DECODER.decode(text)
        except (ValueError, RecursionError) as exc:
            raise _invalid_json() from exc
        # PERF: only a body with a surrogate escape (rare) is walked.
        if "\\u" in text and _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
            raise _invalid_json("The JSON body has a lone surrogate escape (not Unicode text).")
        self.__dict__["_hk_json"] = value
        return value

    def form_data(self) -> FormData:
        """Parse a ``multipart/form-data`` or urlencoded body into :class:`FormData`.

        Raises:
            ApiError: 413 beyond the body, part-count or field-size limits;
                400 for a malformed or truncated multipart body or a missing
                boundary; 415 for a body that is not a form.
        """
        cached = self.__dict__.get("_hk_form")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        mimetype = self.mimetype
        if mimetype not in ("multipart/form-data", "application/x-www-form-urlencoded"):
            raise ApiError(
                415,
                "unsupported_media_type",
                "Expected multipart/form-data or application/x-www-form-urlencoded.",
            )
        if mimetype == "multipart/form-data" and not self.mimetype_params.get("boundary"):
            raise ApiError(400, "invalid_form", "The multipart body has no boundary.")
        if mimetype == "multipart/form-data" and self.content_length == 0:
            # Not even a closing boundary: an empty multipart body is malformed.
            raise ApiError(400, "invalid_form", "The multipart body is empty.")
        self.__dict__["_hk_strict_form"] = True
        try:
            # Buffer first (bounded by the body limit): the raw body stays readable
            # after the form is parsed (an HMAC check, a log), and a chunked body
            # over the limit is a 413, where Werkzeug's stream would stop quietly
            # at the limit and hand over a truncated form.
            body = self.bytes()
            if mimetype == "application/x-www-form-urlencoded" and (
                len(body) > self.max_form_memory_size or body.count(b"&") >= self.max_form_parts
            ):
                raise _too_large()
            self._load_form_data()
            self._check_form_limits()
            form = FormData(self.form, self.files)
        except RequestEntityTooLarge as exc:
            raise _too_large() from exc
        except ClientDisconnected as exc:
            raise _incomplete() from exc
        except (ValueError, HTTPException) as exc:
            raise ApiError(400, "invalid_form", "The form body is malformed.") from exc
        except Exception as exc:  # noqa: BLE001 - only the server's body-read errors become 400
            raise _unreadable(exc) from exc
        finally:
            self.__dict__.pop("_hk_strict_form", None)
        self.__dict__["_hk_form"] = form
        return form

    def _check_form_limits(self) -> None:
        """Raise 413 for a parsed form over :attr:`max_form_parts` or :attr:`max_form_memory_size`.

        handlerkit's own check of the limits, so they hold whatever the
        installed Werkzeug's parser enforces (3.1.9 stopped applying the field
        size to urlencoded bodies; form_data checks those before parsing).
        """
        values = [value for _, value in self.form.items(multi=True)]
        if len(values) + sum(1 for _ in self.files.items(multi=True)) > self.max_form_parts:
            raise _too_large()
        limit = self.max_form_memory_size
        for value in values:
            if len(value) * 4 > limit and len(value.encode("utf-8", "surrogatepass")) > limit:
                raise _too_large()

    @property
    def body(self) -> Iterator[builtins.bytes]:
        """Iterate over the body in chunks without buffering it (within the size limit).

        When the body was already read (``bytes()``, ``json()`` ...), the
        buffered bytes are yielded instead. Streaming consumes the body: a
        later ``bytes()`` raises.
        """
        cached = self.__dict__.get("_cached_data")
        if cached is not None:
            return iter((cached,) if cached else ())
        return self._stream_body()

    def _stream_body(self) -> Iterator[builtins.bytes]:
        self.__dict__["_hk_streamed"] = True
        try:
            stream = self.stream
            total = 0
            limit = self.max_content_length
            while True:
                if limit is not None and total >= limit:
                    # Reading past the limit raises in Werkzeug even when the body
                    # ends exactly there; ask the server's stream instead.
                    if self._overflows(total):
                        raise _too_large()
                    return
                chunk = stream.read(_CHUNK)
                if not chunk:
                    return
                total += len(chunk)
                yield chunk
        except RequestEntityTooLarge as exc:
            raise _too_large() from exc
        except ClientDisconnected as exc:
            raise _incomplete() from exc
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001 - only the server's body-read errors become 400
            raise _unreadable(exc) from exc


def _too_large() -> ApiError:
    return ApiError(413, "payload_too_large", "The request body is too large.")


def _incomplete() -> ApiError:
    return ApiError(400, "incomplete_body", "The request body ended early.")


def _unreadable(exc: Exception) -> ApiError:
    """Map the server failing to read a malformed or cut-off body to a 400, else re-raise.

    gunicorn raises its own parse errors (``InvalidChunkSize``,
    ``ChunkMissingTerminator`` ...) and ``NoMoreData`` (an ``OSError``) from
    ``wsgi.input`` for a broken chunked body; they are the client's fault.
    """
    if isinstance(exc, OSError) or type(exc).__module__.startswith("gunicorn.http"):
        return ApiError(400, "invalid_body", "The request body could not be read.")
    raise exc


def _build_environ(
    url: str,
    method: str,
    json: Any,
    data: bytes | str | None,
    headers: Mapping[str, str] | list[tuple[str, str]] | None,
    cookies: Mapping[str, str] | None,
    form: Mapping[str, Any] | None,
    files: Mapping[str, Any] | None,
    content_type: str | None,
) -> dict[str, Any]:
    parts = urlsplit(url)
    base_url = f"{parts.scheme}://{parts.netloc}" if parts.scheme else "http://localhost"
    header_list = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
    if cookies:
        header_list.append(("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items())))
    body: Any = data
    if form is not None or files is not None:
        body = dict(form or {})
        for field, spec in (files or {}).items():
            content, filename, ctype = (tuple(spec) + (None, None))[:3] if isinstance(
                spec, (tuple, list)
            ) else (spec, None, None)
            stream = BytesIO(content) if isinstance(content, (bytes, bytearray)) else content
            body[field] = FileStorage(stream, filename=filename, content_type=ctype)
    kwargs: dict[str, Any] = {}
    if json is not _MISSING:
        kwargs["json"] = json
    builder = EnvironBuilder(
        path=parts.path or "/",
        base_url=base_url,
        query_string=parts.query or None,
        method=method.upper(),
        headers=header_list,
        data=body,
        content_type=content_type,
        **kwargs,
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()
