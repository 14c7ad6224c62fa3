"""NextRequest, a thin Werkzeug Request with the Next.js API, and reading its body.

Its views live in their own modules: the URL and query in :mod:`handlerkit.url`,
cookies in :mod:`handlerkit.cookies`, forms and uploads in :mod:`handlerkit.uploads`
(all re-exported here).

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
from collections.abc import Iterator, Mapping
from io import BytesIO
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.datastructures import EnvironHeaders, FileStorage
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import _get_server

from .cookies import COOKIE_SALT, CookiesAttr, RequestCookie, RequestCookies
from .encoding import BadJSON, decode_json_body
from .errors import ApiError, HandlerKitError
from .lazy import EnvironValue, cached_property
from .tokens import SecretKey
from .uploads import FormData, UploadedFile, disposition_filename, sanitize_filename
from .url import (
    NextURL,
    NextURLAttr,
    SearchParams,
    host_is_trusted,
    hostname_of,
    parse_query,
    request_host,
)

__all__ = [
    "COOKIE_SALT",
    "DEFAULT_MAX_BODY_SIZE",
    "FormData",
    "NextRequest",
    "NextURL",
    "RequestCookie",
    "RequestCookies",
    "SearchParams",
    "UploadedFile",
    "close_uploads_after",
    "content_length_error",
    "disposition_filename",
    "host_is_trusted",
    "hostname_of",
    "parse_query",
    "request_host",
    "sanitize_filename",
]

#: The default request body limit: 1 MiB.
DEFAULT_MAX_BODY_SIZE = 1024 * 1024

_CHUNK = 64 * 1024

_MISSING: Any = object()


def _decode_wsgi(value: str) -> str:
    # Werkzeug's WSGI decoding: the latin-1 environ string back to bytes, read as UTF-8.
    return value.encode("latin1").decode(errors="replace")


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
    method = EnvironValue(
        lambda e: e.get("REQUEST_METHOD", "GET").upper(), "The method, upper-case."
    )
    scheme = EnvironValue(
        lambda e: e.get("wsgi.url_scheme", "http"), "The URL scheme, ``http`` by default."
    )
    server = EnvironValue(_get_server, "``(host, port)`` of the server; ``None`` when unknown.")
    root_path = EnvironValue(
        lambda e: _decode_wsgi(e.get("SCRIPT_NAME") or "").rstrip("/"),
        "The mount prefix without a trailing slash; ``\"\"`` when there is none.",
    )
    path = EnvironValue(
        lambda e: "/" + _decode_wsgi(e.get("PATH_INFO") or "").lstrip("/"),
        "The path below the mount prefix; at least ``\"/\"``.",
    )
    query_string = EnvironValue(
        lambda e: e.get("QUERY_STRING", "").encode("latin1"),
        "The raw query string; ``b\"\"`` when none.",
    )
    headers = EnvironValue(EnvironHeaders, "The request headers (a live view of the environ).")
    remote_addr = EnvironValue(
        lambda e: e.get("REMOTE_ADDR"), "The client address; ``None`` when unknown."
    )
    host = EnvironValue(
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
        # the environ on first use (EnvironValue below), so a handler that never
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
        next_url = NextURLAttr()

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
        cookies = CookiesAttr()

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
            raise _incomplete(exc) from exc
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
        refused = content_length_error(self.environ, self.max_content_length)
        if refused is not None:
            raise refused
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
        try:
            value = decode_json_body(self.bytes(), self.max_json_depth)
        except BadJSON as exc:
            raise ApiError(400, "invalid_json", str(exc)) from exc
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
            raise _incomplete(exc) from exc
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
            raise _incomplete(exc) from exc
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001 - only the server's body-read errors become 400
            raise _unreadable(exc) from exc


def close_uploads_after(request: NextRequest, response: Response) -> None:
    """Close the request's spooled upload files once *response* is done with them.

    Now for a buffered body; after the last chunk for a streamed one, which may
    still read them. Closing twice is harmless.
    """
    if "_hk_temp_files" not in request.__dict__:
        return
    if type(response.response) is list:
        request.close()
    else:
        response.call_on_close(request.close)


def content_length_error(environ: Mapping[str, Any], limit: int | None) -> ApiError | None:
    """Return the error for a declared ``Content-Length`` over *limit* (413) or not a number (400).

    ``None`` when the length is absent or within the limit. The App asks
    before calling a handler, so the answer comes before any byte is read;
    :meth:`NextRequest.bytes` asks again for a request built outside an App.
    """
    length = environ.get("CONTENT_LENGTH")
    if not length or limit is None:
        return None
    try:
        declared = int(length)
    except ValueError:
        return ApiError(400, "bad_request", "The Content-Length header is invalid.")
    return _too_large() if declared > limit else None


def _too_large() -> ApiError:
    return ApiError(413, "payload_too_large", "The request body is too large.")


_TIMED_OUT = (TimeoutError, BlockingIOError)


def _incomplete(exc: BaseException | None = None) -> ApiError:
    """A body cut short: 400, or 408 when the read that failed timed out (see :func:`_unreadable`)."""
    while exc is not None:  # Werkzeug raises ClientDisconnected while handling the OSError
        if isinstance(exc, _TIMED_OUT):
            return _timed_out()
        exc = exc.__cause__ or exc.__context__
    return ApiError(400, "incomplete_body", "The request body ended early.")


def _timed_out() -> ApiError:
    return ApiError(408, "request_timeout", "The request body stopped arriving.")


def _unreadable(exc: Exception) -> ApiError:
    """Map the server failing to read a malformed or cut-off body to a 400, else re-raise.

    gunicorn raises its own parse errors (``InvalidChunkSize``,
    ``ChunkMissingTerminator`` ...) and ``NoMoreData`` (an ``OSError``) from
    ``wsgi.input`` for a broken chunked body; they are the client's fault. A
    body that stops arriving is a 408: the server's read timed out, a
    ``TimeoutError`` from a socket with ``settimeout`` or a ``BlockingIOError``
    from a blocking one with ``SO_RCVTIMEO`` (:mod:`handlerkit.workers`).
    """
    if isinstance(exc, _TIMED_OUT):
        return _timed_out()
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
