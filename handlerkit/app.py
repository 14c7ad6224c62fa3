"""App: the WSGI callable that routes a request, calls its handler and answers for it.

Everything that can be decided once is decided in ``App.__init__``: the route
table and its static-path dict, each handler's calling convention and wrapper
chain, each route's ``Allow`` header and body limit. ``__call__`` only looks
things up.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from .apidocs import add_docs_routes
from .boundary import (
    boundary_failed,
    exception_response,
    internal_error,
    not_a_response,
    request_id_for,
)
from .config import load_settings
from .context import RouteContext
from .errors import ApiError
from .handlers import adapt_handler
from .middleware.cache import segment_cache
from .openapi import add_document_route
from .request import DEFAULT_MAX_BODY_SIZE, NextRequest, close_uploads_after, content_length_error
from .response import NextResponse
from .routing.matcher import MiddlewareSpec, compile_middleware
from .routing.resolve import (
    Refusal,
    Resolver,
    answer_preflight,
    method_not_allowed,
    preflight_targets,
    select_handler,
    warn_if_cors_late,
)
from .routing.router import Router, build_table, load_tree
from .routing.runner import MiddlewareRunner
from .routing.tree import Route
from .sse import warn_if_sync_worker
from .stores import Store, resolve_store
from .tokens import SecretKey
from .typing import Wrapper

__all__ = ["App", "create_app"]

logger = logging.getLogger("handlerkit")

#: How the startup warning for an app without routes begins (``check`` exits 1 on it).
NO_ROUTES = "no routes found in"

#: The environ key marking a request ProxyFix has already rewritten.
_PROXIED = "handlerkit.proxied"



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
        docs_path: Serve an interactive docs page (Swagger UI, offline: its
            files come from the ``docs`` extra, not a CDN) for the
            ``openapi_path`` document at this static path, e.g. ``"/docs"``.
            Off by default; see docs/openapi.md.
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
        docs_path: str | None = None,
    ) -> None:
        if isinstance(source, Router):
            routes, self.root_middleware = source.build(), None
            self.app_dir = None
        else:
            routes, self.root_middleware = load_tree(source)
            self.app_dir = os.path.abspath(source)
        self.table = build_table(routes)
        self.routes: list[Route] = self.table.routes
        if not self.routes:
            where = self.app_dir if self.app_dir is not None else "the Router"
            logger.warning("%s %s: add a route.py, e.g. api/hello/route.py", NO_ROUTES, where)
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.trailing_slash = trailing_slash
        self.max_body_size = max_body_size
        self.secret_key = secret_key
        self.debug = debug
        #: Called with ``(route, method)`` for each routed request before its handler is
        #: chosen; :func:`handlerkit.tracing.instrument` names the request's span with it.
        self.route_observer: Callable[[Route, str], None] | None = None
        self.trusted_hosts = list(trusted_hosts) if trusted_hosts is not None else None
        self.cache_store: Store = resolve_store(cache_store)
        for route in self.routes:
            # revalidate/dynamic segment config: the cache sits innermost, inside `wrap`.
            segment = segment_cache(route.config, self.cache_store, route.source)
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
            route.preflights = preflight_targets(route)
            warn_if_cors_late(route)
            route.extra["middleware"] = tuple(compile_middleware(m) for m in route.middleware)
        self._root_spec: MiddlewareSpec | None = (
            compile_middleware(self.root_middleware) if self.root_middleware is not None else None
        )
        if openapi_path is not None:
            add_document_route(self, openapi_path, wrap=wrap, **(openapi_options or {}))
        if docs_path is not None:
            title = str((openapi_options or {}).get("title", "API docs"))
            add_docs_routes(self, docs_path, openapi_path, title=title, wrap=wrap)
        warn_if_sync_worker(self.routes)  # long SSE streams die at gunicorn's sync-worker timeout
        self.resolver = Resolver(
            self.table,
            base_path=self.base_path,
            trailing_slash=trailing_slash,
            trusted_hosts=self.trusted_hosts,
        )
        self._middleware = MiddlewareRunner(
            self.resolver,
            self._root_spec,
            self._call_route,
            self._internal_error,
            secret_key=secret_key,
            max_body_size=max_body_size,
            base_path=self.base_path,
        )
        self._proxy_fix: Callable[..., Any] | None = None
        if trusted_proxies:
            self._proxy_fix = ProxyFix(
                self._proxied,
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
        """Answer one request: respond, then send (behind ``ProxyFix`` when proxies are trusted)."""
        # PERF: ProxyFix calls back into this same method, marked, so the
        # unproxied path has no second frame (A, benchmarks/results/2026-12-07.md).
        if self._proxy_fix is not None and _PROXIED not in environ:
            return self._proxy_fix(environ, start_response)  # type: ignore[no-any-return]
        try:
            response = self._respond(environ)
        except Exception:  # noqa: BLE001 - the boundary of last resort
            return boundary_failed(start_response)
        return self._send(response, environ, start_response)

    def _proxied(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """``__call__`` once ``ProxyFix`` has rewritten the environ from the trusted proxies' headers."""
        environ[_PROXIED] = True
        return self(environ, start_response)

    def _respond(self, environ: dict[str, Any]) -> Response:
        path = self.resolver.path(environ)
        if type(path) is not str:
            return path.to_response()  # type: ignore[union-attr]  # a Redirect or Refusal
        method = environ.get("REQUEST_METHOD", "GET")
        if self._root_spec is not None:
            return self._middleware.respond(environ, method, path, None)
        found = self.resolver.route(environ, path)
        if type(found) is Refusal:
            return found.to_response()
        route, params = found  # type: ignore[misc]  # a Match (type() is the fast check)
        if route.middleware:
            return self._middleware.respond(environ, method, path, (route, params))
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
        observer = self.route_observer
        if observer is not None:  # PERF: one attribute test when nothing observes
            observer(route, method)
        handler = route.handlers.get(method)
        if handler is None or (method == "OPTIONS" and route.preflights):
            # HEAD via GET, a CORS preflight, the automatic OPTIONS, or a 405
            handler, outcome = select_handler(route, method, environ)
            if outcome == "cors_preflight":  # answered by the chain's policy, no layer runs
                return answer_preflight(handler, environ, route.allow)  # type: ignore[no-any-return]
            if outcome == "automatic_options":
                return self._options(route, environ, params)
            if handler is None:
                return method_not_allowed(route, method).to_response()
        limit = route.extra["max_body_size"]
        if limit is not None and "CONTENT_LENGTH" in environ:
            refused = content_length_error(environ, limit)
            if refused is not None:
                return NextResponse.from_error(refused)
        if request is None or context is None:
            request = NextRequest.from_environ(environ, self.secret_key, limit, self.base_path)
            context = RouteContext.of(params, route.pattern)
        else:
            request.max_content_length = limit
        # The one error boundary for handlers. PERF: a plain NextResponse (the
        # usual answer) skips the generic checks' frame (figures in the
        # 2026-11-21 results, A-C).
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
            close_uploads_after(request, response)
        return response

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
        exported = method if method in route.exports else "GET"  # HEAD runs GET
        return self._internal_error(
            request, context, not_a_response(result, exported, route.source, request)
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
        response = NextResponse(None, 204)
        response.headers["Allow"] = route.allow
        return response

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


def create_app(app_dir: str | os.PathLike[str], **options: Any) -> App:
    """Return ``App(app_dir, **options)``; for ``gunicorn "handlerkit:create_app('app')"``.

    Options not given are read as :mod:`handlerkit.config` says: from the
    environment (``HANDLERKIT_SECRET_KEY``, ``HANDLERKIT_TRUSTED_PROXIES``,
    ``HANDLERKIT_TRUSTED_HOSTS``, ``HANDLERKIT_BASE_PATH`` ...), then from a
    ``.env`` file. ``handlerkit dev``, ``handlerkit serve`` and the pytest
    plugin read them the same way. ``App`` itself never reads the environment.
    """
    return App(app_dir, **load_settings(options).options)


