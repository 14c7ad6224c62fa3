"""OpenTelemetry spans from handlerkit.tracing.instrument, captured by the SDK's in-memory exporter."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from werkzeug.test import Client as WsgiClient

from handlerkit import App
from handlerkit.testing import write_app
from handlerkit.tracing import REQUEST_ID_ATTRIBUTE, instrument

ROUTES = {
    "users/[id]/route.py": (
        "from handlerkit import with_logging\n\n"
        "@with_logging\n"
        "def GET(request, context):\n"
        "    return {'id': context.params['id']}\n"
    ),
    "boom/route.py": "def GET():\n    raise RuntimeError('kaput')\n",
}


@pytest.fixture
def traced(tmp_path: Path) -> tuple[WsgiClient, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = App(write_app(tmp_path / "app", ROUTES))
    return WsgiClient(instrument(app, tracer_provider=provider)), exporter


def test_a_span_per_request_named_by_the_route_template_with_the_request_id(traced) -> None:  # type: ignore[no-untyped-def]
    client, exporter = traced
    first = client.get("/users/42", buffered=True)
    second = client.get("/users/7", headers={"X-Request-ID": "req-abc-123"}, buffered=True)
    head = client.head("/users/9", buffered=True)
    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == ["GET /users/[id]", "GET /users/[id]", "HEAD /users/[id]"]
    assert all(span.kind is SpanKind.SERVER for span in spans)
    assert all(span.attributes["http.route"] == "/users/[id]" for span in spans)
    assert spans[0].attributes[REQUEST_ID_ATTRIBUTE] == first.headers["X-Request-ID"]
    assert spans[1].attributes[REQUEST_ID_ATTRIBUTE] == "req-abc-123" == second.headers["X-Request-ID"]
    # the middleware's own HTTP attributes are there too: the raw target is not the name
    assert any(str(value).endswith("200") or value == 200 for key, value in spans[0].attributes.items() if "status" in key)
    assert head.status_code == 200


def test_the_500_carries_its_request_id_and_an_unmatched_path_keeps_the_default_name(traced) -> None:  # type: ignore[no-untyped-def]
    client, exporter = traced
    failed = client.get("/boom", buffered=True)
    missing = client.get("/nowhere/at/all", buffered=True)
    boom, nowhere = exporter.get_finished_spans()
    assert failed.status_code == 500 and boom.name == "GET /boom"
    assert boom.attributes[REQUEST_ID_ATTRIBUTE] == failed.json["details"]["request_id"] == failed.headers["X-Request-ID"]
    assert missing.status_code == 404
    assert nowhere.name == "GET" and "http.route" not in nowhere.attributes
    client.open("/x", method="BREW", buffered=True)
    assert exporter.get_finished_spans()[-1].name == "HTTP"  # an unknown method, not a name per method


def test_without_tracing_the_app_observes_nothing(tmp_path: Path) -> None:
    assert App(write_app(tmp_path / "app", ROUTES)).route_observer is None
