"""Suite-wide fixtures: a real redis-server for the session, and helpers to start gunicorn."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import Server, redis_server


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
