"""The request URL: ``NextURL`` (``request.next_url``), its query as ``SearchParams``, and its host.

The host is handlerkit's own reading of the ``Host`` header (:func:`request_host`),
the same whatever Werkzeug is installed, and never IDNA-transcoded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlencode

from .errors import ApiError
from .lazy import cached_property

__all__ = [
    "NextURL",
    "SearchParams",
    "host_is_trusted",
    "hostname_of",
    "parse_query",
    "request_host",
]

_new_object = object.__new__


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

    def __init__(self, request: Any) -> None:  # a NextRequest
        self._request = request

    @cached_property
    def base_path(self) -> str:
        """The app's ``base_path``; ``""`` when none is configured."""
        base: str = self._request.base_path
        return base

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


# PERF: NextRequest.next_url is one descriptor frame on first read instead of
# cached_property's two (plus NextURL.__init__); figures at NextURL.search_params.
class NextURLAttr:
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
