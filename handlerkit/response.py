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

import json as _json
import re
from collections.abc import Iterable, Mapping
from types import MethodType
from typing import Any, Callable, Protocol, overload
from urllib.parse import quote, urlsplit, urlunsplit

from werkzeug.datastructures import Headers
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

from .cookies import CookieError, ResponseCookie, ResponseCookies
from .encoding import json_dumps
from .errors import ApiError, error_body

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


class _JsonFactory(Protocol):
    def __call__(
        self,
        data: Any,
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> NextResponse: ...


class _ClassOrInstance:
    """``NextResponse.json``: a constructor on the class, the body parser on an instance.

    Typed for checkers: ``NextResponse.json(data)`` is a ``NextResponse`` and
    ``response.json()`` is ``Any``.
    """

    def __init__(self, on_class: Callable[..., Any], on_instance: Callable[..., Any]) -> None:
        self.on_class = on_class
        self.on_instance = on_instance
        self.__doc__ = on_class.__doc__
        self._bound: dict[Any, Any] = {}

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _JsonFactory: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> Callable[[], Any]: ...

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            # PERF: one bound method per class, not one per call (every
            # NextResponse.json(...) goes through here; endpoint A).
            bound = self._bound.get(owner)
            if bound is None:
                bound = self._bound[owner] = MethodType(self.on_class, owner)
            return bound
        return MethodType(self.on_instance, instance)


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
