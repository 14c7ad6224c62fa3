"""Suite-wide fixtures: a real redis-server for the session, and helpers to start gunicorn."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.leaks import find_leaks
from tests.support.servers import Server, redis_server


@pytest.fixture(autouse=True)
def _no_leaks_in_error_bodies(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Apply the shared no-leak check to every error response the suite sees.

    In-process responses are checked as ``App`` sends them; responses fetched
    over HTTP with ``requests`` (gunicorn tests) as they arrive. A test that
    leaks on purpose (``debug=True``) is marked ``allow_leaks``.
    """
    if request.node.get_closest_marker("allow_leaks"):
        yield
        return
    import requests

    from handlerkit.app import App

    leaks: list[str] = []

    def check(status: int, body: object, where: str) -> None:
        if status >= 400 and isinstance(body, (bytes, str)):
            leaks.extend(f"{where} {status}: {leak}" for leak in find_leaks(body))

    original_send = App._send

    def send(self, response, environ, start_response):  # type: ignore[no-untyped-def]
        if response.status_code >= 400 and not response.is_streamed:
            check(response.status_code, response.get_data(), environ.get("PATH_INFO", "?"))
        return original_send(self, response, environ, start_response)

    original_request = requests.Session.send

    def http_send(self, prepared, **kwargs):  # type: ignore[no-untyped-def]
        response = original_request(self, prepared, **kwargs)
        if response.status_code >= 400 and not kwargs.get("stream"):
            check(response.status_code, response.content, prepared.url or "?")
        return response

    monkeypatch.setattr(App, "_send", send)
    monkeypatch.setattr(requests.Session, "send", http_send)
    yield
    if leaks:
        pytest.fail("error responses leaked internals:\n" + "\n".join(leaks[:20]), pytrace=False)


@pytest.fixture(scope="session")
def redis_proc() -> Iterator[Server]:
    """A redis-server on a free loopback port for the whole session, stopped by PID."""
    with redis_server() as server:
        yield server


@pytest.fixture
def redis_url(redis_proc: Server) -> Iterator[str]:
    """A ``redis://`` URL to a freshly flushed database."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=redis_proc.port)
    client.flushall()
    client.close()
    yield f"redis://127.0.0.1:{redis_proc.port}/0"
