"""examples/realtime: the SSE feed, publishing, resuming with Last-Event-ID, and the page."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest
import requests
import sseclient

from handlerkit import App
from handlerkit.testing import Client
from tests.support.servers import ROOT, Server, gunicorn

EXAMPLE = ROOT / "examples" / "realtime"
SPEC = f"handlerkit:create_app({str(EXAMPLE)!r})"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setenv("REALTIME_TICK", "0.05")
    return Client(App(EXAMPLE))


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with gunicorn(SPEC, worker_class="gthread", threads=8, env={"REALTIME_TICK": "0.1"}) as running:
        yield running


def open_feed(
    server: Server, **headers: str
) -> tuple[requests.Response, Iterator[sseclient.Event]]:
    response = requests.get(
        f"{server.url}/api/events", stream=True, timeout=(5, 10), headers=headers
    )
    return response, sseclient.SSEClient(response).events()


def test_the_page_subscribes_with_event_source(client: Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert '<script src="app.js"></script>' in page.text and '<ul id="events">' in page.text
    script = client.get("/app.js")
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert 'new EventSource("api/events")' in script.text
    assert "textContent" in script.text and "innerHTML =" not in script.text


def test_the_feed_sends_numbered_ticks_while_quiet(client: Client) -> None:
    response = client.get("/api/events", buffered=False)
    try:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-cache"
        counts = []
        for chunk in itertools.islice(response.response, 20):  # bounded: ticks arrive every 0.05 s
            fields = dict(
                line.split(": ", 1) for line in chunk.decode().strip().split("\n") if ": " in line
            )
            if fields.get("event") == "tick":
                counts.append(json.loads(fields["data"])["count"])
            if len(counts) == 3:
                break
    finally:
        response.close()
    assert counts == [1, 2, 3]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"text": ""}, 422),
        ({"text": "x" * 281}, 422),
        ({"text": 5}, 422),
        ({}, 422),
        ({"text": "a", "admin": True}, 422),
    ],
)
def test_invalid_messages_are_refused(client: Client, body: object, status: int) -> None:
    response = client.post("/api/messages", json=body)
    assert response.status_code == status
    assert response.json()["error"] == "validation_error"


def test_a_message_that_is_not_json_gets_415(client: Client) -> None:
    response = client.post(
        "/api/messages", data="text=hi", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415


def test_a_published_message_reaches_every_open_feed_over_http(server: Server) -> None:
    first, first_events = open_feed(server)
    second, second_events = open_feed(server)
    try:
        assert first.headers["Content-Type"].startswith("text/event-stream")
        assert next(first_events).event == "tick"  # both feeds are live before publishing
        assert next(second_events).event == "tick"
        posted = requests.post(
            f"{server.url}/api/messages", json={"text": "hello <b>all</b>"}, timeout=5
        )
        assert posted.status_code == 202
        for events in (first_events, second_events):
            message = next(event for event in events if event.event == "message")
            assert json.loads(message.data) == {"text": "hello <b>all</b>"}
            assert message.id == str(posted.json()["id"])
    finally:
        first.close()
        second.close()


def test_a_reconnecting_client_gets_what_it_missed(server: Server) -> None:
    ids = []
    for text in ("one", "two", "three"):
        posted = requests.post(f"{server.url}/api/messages", json={"text": text}, timeout=5)
        ids.append(posted.json()["id"])
    response, events = open_feed(server, **{"Last-Event-ID": str(ids[0])})
    try:
        missed = [next(events) for _ in range(2)]
    finally:
        response.close()
    assert [(event.event, json.loads(event.data)["text"], event.id) for event in missed] == [
        ("message", "two", str(ids[1])),
        ("message", "three", str(ids[2])),
    ]


@pytest.mark.parametrize("last_id", ["\u00b2", "-1", "1e9", "9" * 40, "abc", "\u0661"])
def test_a_foreign_last_event_id_starts_the_feed_from_now(client: Client, last_id: str) -> None:
    response = client.get("/api/events", buffered=False, headers={"Last-Event-ID": last_id})
    try:
        assert response.status_code == 200
        chunk = next(chunk for chunk in response.response if b"event:" in chunk)
    finally:
        response.close()
    assert chunk.startswith(b"event: tick")
