"""App: the WSGI callable that routes a request, calls its handler and answers for it.

Everything that can be decided once is decided in ``App.__init__``: the route
table and its static-path dict, each handler's calling convention and wrapper
chain, each route's ``Allow`` header and body limit. ``__call__`` only looks
things up.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from .boundary import boundary_failed, exception_response, internal_error, request_id_for
from .context import RouteContext
from .errors import ApiError
from .handlers import adapt_handler
from .middleware.cache import segment_cache
from .middleware.cors import install_cors
from .openapi import add_document_route
from .request import DEFAULT_MAX_BODY_SIZE, NextRequest
from .response import NextResponse, error_response
from .routing.matcher import MiddlewareSpec, compile_middleware
from .routing.resolve import (
    Refusal,
    Resolver,
    decode_wsgi,
    method_not_allowed,
    select_handler,
)
from .routing.router import Router, build_table, load_tree
from .routing.tree import Route
from .sse import warn_if_sync_worker
from .stores import Store, resolve_store
from .tokens import SecretKey
from .typing import Wrapper

__all__ = ["App", "create_app"]

logger = logging.getLogger("handlerkit")

_LOCATION_SAFE = "/%:@!$&'()*+,;=-._~"
_new_object = object.__new__
# RouteContext is three slots, the State made on first use: the dispatch fills them directly.
_PLAIN_CONTEXT = getattr(RouteContext, "__slots__", None) == ("params", "route", "_state")


class App:
    """A WSGI application serving a route tree or a :class:`~handlerkit.Router`.

    Args:
        source: An app directory of ``route.py`` files, or a ``Router``.
        base_path: A URL prefix the app answers under (``"/api"``), on top of
            any ``SCRIPT_NAME`` mount prefix. Other paths get 404.
        trailing_slash: ``False`` (default) redirects ``/x/`` to ``/x`` with a
            308; ``True`` redirects ``/x`` to ``/x/``.
        max_body_size: The default request body limit in bytes (1 MiB);
            a route's ``max_body_size`` overrides it. ``None`` for no limit.
        trusted_proxies: How many proxies in front of the app to trust for
            ``X-Forwarded-For/-Proto/-Host/-Port`` (Werkzeug ``ProxyFix``).
            ``0`` (default) trusts none.
        trusted_hosts: Host names the app answers for; others get 400. ``None``
            accepts any ``Host``.
        secret_key: A key, or a rotation list oldest first, for signed
            cookies and tokens.
        debug: Put tracebacks in 500 bodies. Never enable it in production.
        wrap: A wrapper (usually ``compose(...)``) applied to every handler.
        cache_store: Where ``revalidate = N`` routes keep their cached GET
            answers: a :class:`~handlerkit.stores.Store`, a ``redis://`` URL
            (shared by workers and hosts), or ``None`` for an in-process
            ``MemoryStore`` (per worker). See docs/caching.md.
        openapi_path: Serve the app's OpenAPI 3.1 document (built once, here)
            at this static path, e.g. ``"/openapi.json"``. Off by default;
            needs apispec (the ``openapi`` extra). See docs/openapi.md.
        openapi_options: Passed to :func:`handlerkit.openapi.build_spec`
            (``title``, ``version`` ...).
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | Router,
        *,
        base_path: str = "",
        trailing_slash: bool = False,
        max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
        trusted_proxies: int = 0,
        trusted_hosts: Iterable[str] | None = None,
        secret_key: SecretKey | None = None,
        debug: bool = False,
        wrap: Wrapper | None = None,
        cache_store: Store | str | None = None,
        openapi_path: str | None = None,
        openapi_options: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(source, Router):
            routes, self.root_middleware = source.build(), None
            self.app_dir = None
        else:
            routes, self.root_middleware = load_tree(source)
            self.app_dir = os.path.abspath(source)
        self.table = build_table(routes)
        self.routes: list[Route] = self.table.routes
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.trailing_slash = trailing_slash
        self.max_body_size = max_body_size
        self.secret_key = secret_key
        self.debug = debug
        self.trusted_hosts = list(trusted_hosts) if trusted_hosts is not None else None
        self.cache_store: Store = resolve_store(cache_store)
        for route in self.routes:
            # revalidate/dynamic segment config: the cache sits innermost, inside `wrap`.
            segment = segment_cache(route.config, self.cache_store)
            route.extra["max_body_size"] = route.config.get("max_body_size", max_body_size)
            # PERF: make_route already adapted (and so inspected) every handler;
            # inspecting them again cost about 5 % of a 1000-route startup
            # (benchmarks/results/2026-11-21.md, startup).
            adapted = route.extra.pop("adapted", None) or {}
            for method, func in route.exports.items():
                handler = adapted.get(method) or adapt_handler(func, source=route.source)
                if segment is not None and method in ("GET", "HEAD"):
                    handler = segment(handler)
                route.handlers[method] = wrap(handler) if wrap is not None else handler
            install_cors(route)  # preflights answered from the route's with_cors policy
            route.extra["middleware"] = tuple(compile_middleware(m) for m in route.middleware)
        self._root_spec: MiddlewareSpec | None = (
            compile_middleware(self.root_middleware) if self.root_middleware is not None else None
        )
        if openapi_path is not None:
            add_document_route(self, openapi_path, wrap=wrap, **(openapi_options or {}))
        warn_if_sync_worker(self.routes)  # long SSE streams die at gunicorn's sync-worker timeout
        self.resolver = Resolver(
            self.table,
            base_path=self.base_path,
            trailing_slash=trailing_slash,
            trusted_hosts=self.trusted_hosts,
        )
        self._proxy_fix: Callable[..., Any] | None = None
        if trusted_proxies:
            self._proxy_fix = ProxyFix(
                self._dispatch,
                x_for=trusted_proxies,
                x_proto=trusted_proxies,
                x_host=trusted_proxies,
                x_port=trusted_proxies,
            )
        if debug:
            logger.warning(
                "handlerkit App(debug=True): tracebacks are sent to clients; never use it in "
                "production"
            )

    # -- WSGI -----------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self._proxy_fix is not None:
            return self._proxy_fix(environ, start_response)  # type: ignore[no-any-return]
        return self._dispatch(environ, start_response)

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Answer one request: respond, then send; behind ``ProxyFix`` when proxies are trusted."""
        try:
            response = self._respond(environ)
        except Exception:  # noqa: BLE001 - the boundary of last resort
            return boundary_failed(start_response)
        return self._send(response, environ, start_response)

    def _respond(self, environ: dict[str, Any]) -> Response:
        path = self.resolver.path(environ)
        if type(path) is not str:
            return path.to_response()  # type: ignore[union-attr]  # a Redirect or Refusal
        method = environ.get("REQUEST_METHOD", "GET")
        if self._root_spec is not None:
            return self._respond_with_middleware(environ, method, path, None)
        found = self.resolver.route(environ, path)
        if type(found) is Refusal:
            return found.to_response()
        route, params = found  # type: ignore[misc]  # a Match (type() is the fast check)
        if route.middleware:
            return self._respond_with_middleware(environ, method, path, (route, params))
        return self._call_route(route, params, method, environ)

    def _call_route(
        self,
        route: Route,
        params: dict[str, Any],
        method: str,
        environ: dict[str, Any],
        request: NextRequest | None = None,
        context: RouteContext | None = None,
    ) -> Response:
        """Pick the method's handler (HEAD runs GET; automatic OPTIONS; 405), check the body limit, call it.

        *request* and *context* are passed when middleware already built them.
        """
        handler = route.handlers.get(method)
        if handler is None:  # HEAD via GET, the automatic OPTIONS, or a 405
            handler, outcome = select_handler(route, method)
            if outcome == "automatic_options":
                return self._options(route, environ, params)
            if handler is None:
                return method_not_allowed(route, method).to_response()
        limit = route.extra["max_body_size"]
        length = environ.get("CONTENT_LENGTH")
        if length and limit is not None:
            try:
                too_large = int(length) > limit
            except ValueError:
                return error_response(400, "bad_request", "The Content-Length header is invalid.")
            if too_large:
                return error_response(413, "payload_too_large", "The request body is too large.")
        if request is None or context is None:
            # PERF: NextRequest.from_environ inlined (the same five attributes;
            # tests/test_hot_path_dispatch.py compares them). Figures in __call__.
            request = _new_object(NextRequest)
            request.environ = environ
            request.shallow = False
            request.secret_key = self.secret_key
            request.max_content_length = limit
            request.base_path = self.base_path
            if _PLAIN_CONTEXT:
                # PERF: RouteContext(params, route=...) without the keyword call
                # and __init__ frame: 0.59 -> 0.27 µs per request, A, B and C
                # (timeit, min of 21 runs, 2026-11-21); tests/test_hot_path_dispatch.py
                # checks it equals the constructor's object.
                context = _new_object(RouteContext)
                context.params = params
                context.route = route.pattern
                context._state = None
            else:  # another RouteContext: its constructor
                context = RouteContext(params, route=route.pattern)
        else:
            request.max_content_length = limit
        # PERF: call_handler inlined, with a NextResponse (the usual answer)
        # accepted without the generic checks' frame. Figures in __call__.
        response: Response
        try:
            response = handler(request, context)
            if (
                type(response) is not NextResponse
                or response.middleware_action is not None
                or getattr(response, "_hk_pending_signed", None) is not None
            ):
                response = self._check_result(response, request, context, route, method)
        except ApiError as exc:
            response = NextResponse.from_error(exc)
        except Exception as exc:  # noqa: BLE001 - the error boundary
            response = self._handler_failed(exc, request, context)
        # PERF: getattr, not request.__dict__ (which would turn the request's
        # attributes into a dict; see NextURL.search_params). The same for the
        # response's check above: NextResponse.json(...) plus _send's five reads
        # 16.5k -> 14.8k instructions (valgrind --tool=cachegrind, 2026-11-21).
        if getattr(request, "_hk_temp_files", None) is not None:
            _close_uploads_after(request, response)
        return response

    def call_handler(
        self,
        handler: Callable[..., Any],
        request: NextRequest,
        context: RouteContext,
        route: Route,
        method: str,
    ) -> Response:
        """Call *handler* inside the error boundary and return a response."""
        try:
            return self._check_result(handler(request, context), request, context, route, method)
        except ApiError as exc:
            return NextResponse.from_error(exc)
        except Exception as exc:  # noqa: BLE001 - the error boundary
            return self._handler_failed(exc, request, context)

    def _check_result(
        self, result: Any, request: NextRequest, context: RouteContext, route: Route, method: str
    ) -> Response:
        """Turn what a handler returned into the response (a 500 for what is not one)."""
        if isinstance(result, Response):
            if getattr(result, "middleware_action", None) is not None:
                return self._internal_error(
                    request,
                    context,
                    f"NextResponse.{result.middleware_action}() returned from {method} in "  # type: ignore[attr-defined]
                    f"{route.source}; next() and rewrite() are for middleware.py",
                )
            if "_hk_pending_signed" in result.__dict__:
                result.cookies.sign_pending(self.secret_key)  # type: ignore[attr-defined]
            return result
        if isinstance(result, (dict, list)):
            json_response: NextResponse = NextResponse.json(result)
            return json_response
        if result is None:
            return self._internal_error(
                request, context, f"no response returned from {method} in {route.source}"
            )
        return self._internal_error(
            request,
            context,
            f"{method} in {route.source} returned a {type(result).__name__}; return a "
            "NextResponse, a dict or a list",
        )

    def _handler_failed(
        self, exc: Exception, request: NextRequest, context: RouteContext
    ) -> Response:
        """The response for an exception a handler raised; called inside its ``except`` block."""
        # The one mapping (middleware/errors.py), shared with with_error_handling.
        mapped = exception_response(exc, request.environ)
        if mapped is not None:
            return mapped
        return self._internal_error(request, context, None)

    def _internal_error(self, request: NextRequest, context: RouteContext, problem: str | None) -> Response:
        """The logged generic 500 (:func:`handlerkit.boundary.internal_error`), tracebacks if debug."""
        return internal_error(request, context, problem, debug=self.debug)

    def _options(self, route: Route, environ: dict[str, Any], params: dict[str, Any]) -> Response:
        hook = route.extra.get("options")
        if hook is not None:
            return hook(environ, route)  # type: ignore[no-any-return]
        response = NextResponse(None, 204)
        response.headers["Allow"] = route.allow
        return response

    # -- middleware.py (the slow path; apps without it never come here) -------

    def _respond_with_middleware(
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
        response = self._middleware_chain(environ, method, path, resolved, seen)
        # Middleware may have parsed uploads and then answered itself: those
        # temporary files are closed like the handler's.
        for request in seen:
            _close_uploads_after(request, response)
        return response

    def _middleware_chain(
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
        if self._root_spec is not None:
            outcome, request = self._run_middleware(self._root_spec, request, context, path, added)
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
                outcome, request = self._run_middleware(spec, request, context, path, added)
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
                return self._internal_error(
                    request, context, f"more than {MAX_REWRITES} middleware rewrites (a loop?) for {route.source}"
                )
            target = self._rewrite(request, context, rewrite_to)
            if isinstance(target, Response):
                return target
            path, request = target
            seen.append(request)
            resolved = None
        return _add_headers(self._call_route(route, params, method, request.environ, request, context), added)

    def _run_middleware(
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
            return (mapped if mapped is not None else self._internal_error(request, context, None)), request
        if result is None:
            return None, request
        if isinstance(result, (dict, list)):
            return NextResponse.json(result), request
        if not isinstance(result, Response):
            problem = f"middleware in {spec.source} returned a {type(result).__name__}; return None or a response"
            return self._internal_error(request, context, problem), request
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
                    return self._internal_error(request, context, problem), request
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
            return self._internal_error(request, context, problem)
        raw_path = parts.path or "/"
        if not raw_path.startswith("/"):
            return self._internal_error(request, context, f"middleware rewrite target {url!r} is not an absolute path")
        environ = dict(request.environ)
        path = unquote(raw_path).encode("utf-8").decode("latin-1")
        environ["PATH_INFO"] = self.base_path + path
        if parts.query:
            environ["QUERY_STRING"] = parts.query
        query = environ.get("QUERY_STRING", "")
        environ["RAW_URI"] = (
            quote(environ.get("SCRIPT_NAME") or "", safe=_LOCATION_SAFE) + self.base_path + raw_path
            + (f"?{query}" if query else "")
        )
        environ.pop("REQUEST_URI", None)
        return path, _derive_request(request, environ)

    def _send(
        self, response: Response, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Send *response* (its own ``__call__``); a streamed body is guarded against late errors."""
        try:
            app_iter = response(environ, start_response)
        except Exception:  # noqa: BLE001 - a header Werkzeug cannot encode (a plain Response's Location)
            return boundary_failed(start_response)
        if type(response.response) is list or response.direct_passthrough:
            return app_iter
        return _GuardedStream(app_iter, environ, response)

    # -- routing --------------------------------------------------------------

    def resolve(
        self, path: str, environ: dict[str, Any] | None = None
    ) -> tuple[Route, dict[str, Any]] | Response | None:
        """Return the route and decoded params for *path* (inside the app), a 400 response, or ``None``.

        The App's own resolver (:class:`~handlerkit.routing.resolve.Resolver`)
        answers; ``None`` is its 404.
        """
        found = self.resolver.route(environ or {}, path)
        if type(found) is not Refusal:
            return found  # type: ignore[return-value]  # a Match
        return None if found.status == 404 else found.to_response()


class _GuardedStream:
    """A streamed body that logs an exception raised after the headers went out, then ends.

    Iteration is delegated chunk by chunk (nothing is buffered) and ``close()``
    is forwarded, so a generator's ``finally`` runs when the server closes the
    response, including on client disconnect.
    """

    __slots__ = ("_app_iter", "_iterator", "_environ", "_response", "_done")

    def __init__(self, app_iter: Iterable[bytes], environ: dict[str, Any], response: Response) -> None:
        self._app_iter = app_iter
        self._iterator = iter(app_iter)
        self._environ = environ
        self._response = response
        self._done = False

    def __iter__(self) -> _GuardedStream:
        return self

    def __next__(self) -> bytes:
        if self._done:
            raise StopIteration
        try:
            return next(self._iterator)
        except StopIteration:
            self._done = True
            raise
        except Exception:  # noqa: BLE001 - the status line is gone; log and end the body
            self._done = True
            self._log("an exception ended the streamed body of")
            raise StopIteration from None

    def close(self) -> None:
        close = getattr(self._app_iter, "close", None)
        if close is None:
            return
        try:
            close()
        except Exception:  # noqa: BLE001 - a failing cleanup must not reach the server
            self._log("an exception was raised closing the streamed body of")

    def _log(self, what: str) -> None:
        environ = self._environ
        request_id = request_id_for(environ, response=self._response)
        logger.exception(
            "%s %s %s (request id %s)",
            what,
            environ.get("REQUEST_METHOD", "GET"),
            _safe_path(environ.get("PATH_INFO") or "/"),
            request_id,
        )


def _safe_path(path: str) -> str:
    # Logged paths never carry raw control characters (forged log lines).
    return path.encode("unicode_escape").decode("ascii")[:512]


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


def _close_uploads_after(request: NextRequest, response: Response) -> None:
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


def create_app(app_dir: str | os.PathLike[str], **options: Any) -> App:
    """Return ``App(app_dir, **options)``; for ``gunicorn "handlerkit:create_app('app')"``.

    Options not given are read from the environment when set there:
    ``HANDLERKIT_TRUSTED_PROXIES`` (an int), ``HANDLERKIT_TRUSTED_HOSTS``
    (comma-separated) and ``HANDLERKIT_SECRET_KEY`` (comma-separated keys,
    oldest first: the last signs, all verify). ``App`` itself never reads the
    environment.
    """
    return App(app_dir, **{**_env_options(), **options})


def _env_options() -> dict[str, Any]:
    options: dict[str, Any] = {}
    proxies = os.environ.get("HANDLERKIT_TRUSTED_PROXIES", "").strip()
    if proxies:
        if not proxies.isdigit():
            raise ValueError(f"HANDLERKIT_TRUSTED_PROXIES must be a whole number, not {proxies!r}")
        options["trusted_proxies"] = int(proxies)
    hosts = [h.strip() for h in os.environ.get("HANDLERKIT_TRUSTED_HOSTS", "").split(",") if h.strip()]
    if hosts:
        options["trusted_hosts"] = hosts
    keys = [k.strip() for k in os.environ.get("HANDLERKIT_SECRET_KEY", "").split(",") if k.strip()]
    if keys:
        options["secret_key"] = keys if len(keys) > 1 else keys[0]
    return options


