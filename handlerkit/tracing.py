"""OpenTelemetry tracing: one server span per request, named by the route template.

::

    from handlerkit import create_app
    from handlerkit.tracing import instrument

    application = instrument(create_app("app"))   # pip install 'handlerkit[tracing]'

:func:`instrument` wraps the App in ``opentelemetry-instrumentation-wsgi``'s
``OpenTelemetryMiddleware``, which starts a server span for each request with
the HTTP semantic-convention attributes. The App then names the span after the
route that matched, ``GET /users/[id]`` (never the raw path, which would make
one span name per user), and sets ``http.route`` to the template; the request
id the answer carries (``X-Request-ID``, from ``with_logging`` or the App's
500) is set as ``handlerkit.request_id``. A request that matches no route is
named by its method alone (``GET``; ``HTTP`` for an unknown method), never its
path. Exporting the spans is the OpenTelemetry SDK's job:
configure a ``TracerProvider`` as usual, or pass ``tracer_provider=``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .handlers import METHODS

if TYPE_CHECKING:
    from .app import App
    from .routing.tree import Route

__all__ = ["REQUEST_ID_ATTRIBUTE", "instrument"]

#: The span attribute holding the request id the answer carries.
REQUEST_ID_ATTRIBUTE = "handlerkit.request_id"


def instrument(app: App, **options: Any) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """Return *app* as a WSGI application traced by OpenTelemetry (a span per request).

    Args:
        app: The App; its spans are named ``METHOD /route/[template]``.
        **options: Passed to ``OpenTelemetryMiddleware`` (``tracer_provider``,
            ``request_hook``, ``response_hook`` ...).

    Raises:
        ImportError: ``opentelemetry-instrumentation-wsgi`` is not installed;
            the message names the ``tracing`` extra.
    """
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
    except ImportError as exc:
        raise ImportError("tracing needs OpenTelemetry: pip install 'handlerkit[tracing]'") from exc

    def name_span(route: Route, method: str) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            span.update_name(f"{method} {route.pattern}")
            span.set_attribute("http.route", route.pattern)

    app.route_observer = name_span

    def with_request_id(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # Until a route matches, the name is the method alone (HTTP's semantic conventions;
        # "HTTP" for a method outside the known ones): the middleware's own name has the raw
        # path, one name per URL.
        method = environ.get("REQUEST_METHOD", "")
        trace.get_current_span().update_name(method if method in METHODS else "HTTP")

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            for name, value in headers:
                if name.lower() == "x-request-id":
                    trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, value)
                    break
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return OpenTelemetryMiddleware(with_request_id, **options)
