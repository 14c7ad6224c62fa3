"""with_rate_limit under real gunicorn workers and a real redis-server (BAD_INPUTS H1-H4)."""

from __future__ import annotations

import collections
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from handlerkit.testing import write_app
from tests.support.servers import Server, gunicorn, redis_server

pytestmark = pytest.mark.slow

LIMIT = 10
WORKERS = 4

ROUTE = """
import os

from handlerkit import NextResponse, with_rate_limit
from handlerkit.errors import ApiError


def with_worker_pid(handler):
    # Tags every answer, 429s included, with the worker that gave it.
    def wrapped(request, context):
        try:
            response = handler(request, context)
        except ApiError as exc:
            exc.headers.append(("X-Worker-Pid", str(os.getpid())))
            raise
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response
    return wrapped


@with_worker_pid
@with_rate_limit(
    limit=int(os.environ["HK_RL_LIMIT"]),
    window=60,
    strategy=os.environ.get("HK_RL_STRATEGY", "fixed-window"),
    storage=os.environ["HK_RL_STORAGE"],
    on_storage_error=os.environ.get("HK_RL_POLICY", "open"),
)
def GET(request):
    return NextResponse.json({"ok": True})
"""


def app_spec(tmp_path: Path) -> str:
    root = write_app(tmp_path / "app", {"limited/route.py": ROUTE})
    return f"handlerkit:create_app({str(root)!r})"


def env(storage: str, *, strategy: str = "fixed-window", policy: str = "open") -> dict[str, str]:
    return {
        "HK_RL_LIMIT": str(LIMIT),
        "HK_RL_STORAGE": storage,
        "HK_RL_STRATEGY": strategy,
        "HK_RL_POLICY": policy,
    }


def burst(urls: list[str], count: int) -> list[requests.Response]:
    """Send *count* concurrent GETs, cycling over *urls*."""
    targets = [urls[i % len(urls)] for i in range(count)]
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda url: requests.get(url, timeout=10), targets))


@pytest.fixture
def own_redis() -> Iterator[Server]:
    """A redis-server of this test's own, so stopping it cannot break other tests."""
    with redis_server() as server:
        yield server


@pytest.mark.parametrize("strategy", ["fixed-window", "moving-window", "sliding-window"])
def test_redis_store_allows_exactly_limit_across_four_workers(
    tmp_path: Path, redis_url: str, strategy: str
) -> None:
    """BAD_INPUTS H1: 5 x L concurrent requests over 4 gthread workers, exactly L allowed."""
    with gunicorn(
        app_spec(tmp_path), workers=WORKERS, threads=4, env=env(redis_url, strategy=strategy)
    ) as server:
        responses = burst([server.url + "/limited"], 5 * LIMIT)
    statuses = collections.Counter(r.status_code for r in responses)
    assert statuses == {200: LIMIT, 429: 4 * LIMIT}
    for response in responses:
        remaining = int(response.headers["X-RateLimit-Remaining"])
        assert 0 <= remaining <= LIMIT
        if response.status_code == 429:
            assert response.json()["error"] == "rate_limited"
            assert int(response.headers["Retry-After"]) >= 1


def test_memory_store_counts_per_worker(tmp_path: Path) -> None:
    """BAD_INPUTS H2: with memory:// each worker allows L on its own (up to workers x L)."""
    with gunicorn(app_spec(tmp_path), workers=WORKERS, threads=4, env=env("memory://")) as server:
        responses = burst([server.url + "/limited"], 5 * LIMIT)
    by_worker: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    for response in responses:
        by_worker[response.headers["X-Worker-Pid"]][response.status_code] += 1
    allowed = sum(counts[200] for counts in by_worker.values())
    # Each worker is an independent limiter: it allows the first L it sees.
    for counts in by_worker.values():
        assert counts[200] == min(LIMIT, counts[200] + counts[429])
    assert LIMIT <= allowed <= WORKERS * LIMIT
    assert allowed == sum(min(LIMIT, sum(c.values())) for c in by_worker.values())
    print(f"memory:// over {len(by_worker)} workers allowed {allowed} of {5 * LIMIT} (L={LIMIT})")


def test_two_hosts_sharing_one_redis_allow_exactly_limit(tmp_path: Path, redis_url: str) -> None:
    """Two gunicorn instances (two "machines") behind one Redis: the limit is global."""
    spec = app_spec(tmp_path)
    with (
        gunicorn(spec, workers=2, threads=4, env=env(redis_url)) as host_a,
        gunicorn(spec, workers=2, threads=4, env=env(redis_url)) as host_b,
    ):
        assert host_a.port != host_b.port
        responses = burst([host_a.url + "/limited", host_b.url + "/limited"], 5 * LIMIT)
    statuses = collections.Counter(r.status_code for r in responses)
    assert statuses == {200: LIMIT, 429: 4 * LIMIT}
    by_host = collections.Counter(r.url.split("/")[2] for r in responses if r.status_code == 200)
    assert sum(by_host.values()) == LIMIT


def timed_burst(url: str, count: int) -> list[tuple[int, float, requests.Response]]:
    def one(_: int) -> tuple[int, float, requests.Response]:
        started = time.monotonic()
        response = requests.get(url, timeout=10)
        return response.status_code, time.monotonic() - started, response

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


@pytest.mark.parametrize("policy, expected", [("open", 200), ("closed", 503)])
def test_redis_hung_then_stopped_under_load_keeps_the_policy(
    tmp_path: Path, own_redis: Server, policy: str, expected: int
) -> None:
    """BAD_INPUTS H4: SIGSTOP-hung, then killed Redis: the policy holds, no 500, no 5 s stall."""
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    with gunicorn(app_spec(tmp_path), workers=2, threads=4, env=env(url, policy=policy)) as server:
        target = server.url + "/limited"
        # Healthy: counting works (and the workers hold pooled Redis connections).
        healthy = timed_burst(target, 6)
        assert sorted(status for status, _, _ in healthy) == [200] * 6

        os.kill(own_redis.pid, signal.SIGSTOP)
        try:
            hung = timed_burst(target, 20)
        finally:
            os.kill(own_redis.pid, signal.SIGCONT)
        own_redis.proc.terminate()
        own_redis.proc.wait(10)
        refused = timed_burst(target, 20)

    for phase in (hung, refused):
        statuses = [status for status, _, _ in phase]
        assert statuses == [expected] * len(phase), statuses
        # A correctness bound against redis-py's 5 s default timeout, not a benchmark.
        assert max(elapsed for _, elapsed, _ in phase) < 2.0
        for _, _, response in phase:
            if policy == "open":
                assert response.headers["X-RateLimit-Status"] == "unavailable"
            else:
                assert response.json()["error"] == "rate_limit_unavailable"
                assert response.headers["Retry-After"] == "1"
    # fail open or closed, the workers say why in their log
    assert "rate-limit storage redis://127.0.0.1" in server.output()
