"""``middleware.py`` at request time: root middleware before routing, folder middleware root to leaf after.

The App hands a request here only when its tree has ``middleware.py`` files (the
fast path never comes here). Routing goes through the App's own resolver; a
handler is called through the App's own ``_call_route``; an exception becomes a
response through the one error boundary (:mod:`handlerkit.boundary`). No request
header is consulted to decide whether middleware runs: only the matchers compiled
at startup (CVE-2025-29927).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from werkzeug.wrappers import Response

from ..boundary import exception_response
from ..context import RouteContext
from ..errors import ApiError
from ..request import NextRequest, close_uploads_after
from ..response import NextResponse
from .matcher import MiddlewareSpec
from .resolve import LOCATION_SAFE, Refusal, Resolver, decode_wsgi
from .tree import Route

__all__ = ["MAX_REWRITES", "MiddlewareRunner"]


class MiddlewareRunner:
    """Runs an App's ``middleware.py`` files around its routes (built once, at startup).

    Args:
        resolver: The App's resolver.
        root_spec: The root ``middleware.py``, compiled; ``None`` when there is none.
        call_route: The App's ``_call_route(route, params, method, environ, request, context)``.
        internal_error: The App's logged 500: ``(request, context, problem)``.
        secret_key, max_body_size, base_path: The App's, for the requests built here.
    """

    def __init__(
        self,
        resolver: Resolver,
        root_spec: MiddlewareSpec | None,
        call_route: Callable[..., Response],
        internal_error: Callable[[NextRequest, RouteContext, str | None], Response],
        *,
        secret_key: Any,
        max_body_size: int | None,
        base_path: str,
    ) -> None:
        self.resolver = resolver
        self.root_spec = root_spec
        self.call_route = call_route
        self.internal_error = internal_error
        self.secret_key = secret_key
        self.max_body_size = max_body_size
        self.base_path = base_path

    def respond(
        self,
        environ: dict[str, Any],
        method: str,
        path: str,
        resolved: tuple[Route, dict[str, Any]] | None,
    ) -> Response:
        """Run root middleware, route, run folder middleware root to leaf, then the handler.

        No request header is consulted to decide whether middleware runs:
        only the compiled matchers (CVE-2025-29927).
        """
        seen: list[NextRequest] = []
        response = self._chain(environ, method, path, resolved, seen)
        # Middleware may have parsed uploads and then answered itself: those
        # temporary files are closed like the handler's.
        for request in seen:
            close_uploads_after(request, response)
        return response

    def _chain(
        self,
        environ: dict[str, Any],
        method: str,
        path: str,
        resolved: tuple[Route, dict[str, Any]] | None,
        seen: list[NextRequest],
    ) -> Response:
        environ = dict(environ)
        request = NextRequest.from_environ(environ, self.secret_key, self.max_body_size, self.base_path)
        seen.append(request)
        context = RouteContext(route="")
        added: list[tuple[str, str]] = []
        rewrites = 0
        if self.root_spec is not None:
            outcome, request = self._run(self.root_spec, request, context, path, added)
            seen.append(request)
            if isinstance(outcome, Response):
                return _add_headers(outcome, added)
            if outcome is not None:
                rewrites += 1
                target = self._rewrite(request, context, outcome)
                if isinstance(target, Response):
                    return target
                path, request = target
                seen.append(request)
            resolved = None
        while True:
            if resolved is None:
                found = self.resolver.route(request.environ, path)
                if isinstance(found, Refusal):
                    return _add_headers(found.to_response(), added)
                resolved = found
            route, params = resolved
            context.route, context.params = route.pattern, params
            rewrite_to: str | None = None
            for spec in route.extra["middleware"]:
                outcome, request = self._run(spec, request, context, path, added)
                seen.append(request)
                if isinstance(outcome, Response):
                    return _add_headers(outcome, added)
                if outcome is not None:
                    rewrite_to = outcome
                    break
            if rewrite_to is None:
                break
            rewrites += 1
            if rewrites > MAX_REWRITES:
                return self.internal_error(
                    request, context, f"more than {MAX_REWRITES} middleware rewrites (a loop?) for {route.source}"
                )
            target = self._rewrite(request, context, rewrite_to)
            if isinstance(target, Response):
                return target
            path, request = target
            seen.append(request)
            resolved = None
        return _add_headers(self.call_route(route, params, method, request.environ, request, context), added)

    def _run(
        self,
        spec: MiddlewareSpec,
        request: NextRequest,
        context: RouteContext,
        path: str,
        added: list[tuple[str, str]],
    ) -> tuple[Response | str | None, NextRequest]:
        """Run one middleware.py; return ``(outcome, request)``.

        The outcome is ``None`` to continue, a response to answer with, or a
        rewrite target. The request is replaced when ``next()`` overrode headers.
        """
        if not spec.applies(decode_wsgi(path), request):
            return None, request
        try:
            result = spec.function(request, context)
        except ApiError as exc:
            return NextResponse.from_error(exc), request
        except Exception as exc:  # noqa: BLE001 - the same error boundary as handlers
            mapped = exception_response(exc, request.environ)
            return (mapped if mapped is not None else self.internal_error(request, context, None)), request
        if result is None:
            return None, request
        if isinstance(result, (dict, list)):
            return NextResponse.json(result), request
        if not isinstance(result, Response):
            problem = f"middleware in {spec.source} returned a {type(result).__name__}; return None or a response"
            return self.internal_error(request, context, problem), request
        action = getattr(result, "middleware_action", None)
        if action is None:
            return result, request
        added.extend(
            (key, value)
            for key, value in result.headers.to_wsgi_list()
            if key.lower() not in ("content-type", "content-length")
        )
        if action == "rewrite":
            return result.rewrite_url, request  # type: ignore[attr-defined]
        overrides = getattr(result, "request_headers", None)
        if overrides:
            environ = dict(request.environ)
            for name, value in overrides.items():
                key = name.upper().replace("-", "_")
                if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                    key = "HTTP_" + key
                if value is None:
                    environ.pop(key, None)
                elif _HEADER_UNSAFE.search(str(value)):
                    problem = f"middleware in {spec.source} set a request header with a control character"
                    return self.internal_error(request, context, problem), request
                else:
                    environ[key] = str(value)
            request = _derive_request(request, environ)
        return None, request

    def _rewrite(
        self, request: NextRequest, context: RouteContext, url: str
    ) -> tuple[str, NextRequest] | Response:
        """Point *request* at *url* (a path inside the app, optional query); return the new path."""
        parts = urlsplit(url)
        if (parts.scheme or parts.netloc) and (parts.scheme, parts.netloc) != (request.scheme, request.host):
            problem = f"middleware rewrote to {parts.scheme}://{parts.netloc}: only paths inside the app are allowed"
            return self.internal_error(request, context, problem)
        raw_path = parts.path or "/"
        if not raw_path.startswith("/"):
            return self.internal_error(request, context, f"middleware rewrite target {url!r} is not an absolute path")
        environ = dict(request.environ)
        path = unquote(raw_path).encode("utf-8").decode("latin-1")
        environ["PATH_INFO"] = self.base_path + path
        if parts.query:
            environ["QUERY_STRING"] = parts.query
        query = environ.get("QUERY_STRING", "")
        environ["RAW_URI"] = (
            quote(environ.get("SCRIPT_NAME") or "", safe=LOCATION_SAFE) + self.base_path + raw_path
            + (f"?{query}" if query else "")
        )
        environ.pop("REQUEST_URI", None)
        return path, _derive_request(request, environ)


#: Most internal rewrites one request may go through (a guard against loops).
MAX_REWRITES = 5

_HEADER_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# What a NextRequest caches about its body: carried over when middleware
# replaces the request (header overrides, rewrites), so a body read by
# middleware is still there for the handler.
_BODY_STATE = ("stream", "_cached_data", "_hk_json", "_hk_form", "_hk_streamed", "form", "files", "_hk_temp_files")


def _derive_request(old: NextRequest, environ: dict[str, Any]) -> NextRequest:
    new = NextRequest.from_environ(environ, old.secret_key, old.max_content_length, old.base_path)
    for key in _BODY_STATE:
        if key in old.__dict__:
            new.__dict__[key] = old.__dict__[key]
    return new


def _add_headers(response: Response, headers: list[tuple[str, str]]) -> Response:
    for key, value in headers:
        response.headers.add(key, value)
    return response
