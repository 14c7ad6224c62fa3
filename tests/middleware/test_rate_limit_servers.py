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
STRATEGIES = {"fixed": "fixed-window", "moving": "moving-window", "sliding": "sliding-window"}

# One route per strategy and storage-error policy; the storage URL comes from
# the environment, as a deployment would set it.
ROUTE = """
import os

from handlerkit import NextResponse, with_rate_limit
from tests.support.worker_pid import with_worker_pid


@with_worker_pid
@with_rate_limit(
    limit=int(os.environ["HK_RL_LIMIT"]),
    window=60,
    strategy={strategy!r},
    storage=os.environ["HK_RL_STORAGE"],
    on_storage_error={policy!r},
    socket_timeout=float(os.environ["HK_RL_SOCKET_TIMEOUT"]),
)
def GET(request):
    return NextResponse.json({{"ok": True}})
"""


def app_spec(tmp_path: Path) -> str:
    files = {
        f"{name}/route.py": ROUTE.format(strategy=strategy, policy="open")
        for name, strategy in STRATEGIES.items()
    }
    files["closed/route.py"] = ROUTE.format(strategy="fixed-window", policy="closed")
    root = write_app(tmp_path / "app", files)
    return f"handlerkit:create_app({str(root)!r})"


def env(storage: str, socket_timeout: float = 0.1) -> dict[str, str]:
    return {
        "HK_RL_LIMIT": str(LIMIT),
        "HK_RL_STORAGE": storage,
        "HK_RL_SOCKET_TIMEOUT": str(socket_timeout),
    }


# The counting tests give Redis a generous timeout: on a loaded CI machine a
# reply can take over 0.1 s, and the route then fails open (an extra 200 that
# says X-RateLimit-Status: unavailable). Timeouts are tested on their own below.
COUNTING_TIMEOUT = 2.0


def burst(urls: list[str], count: int) -> list[requests.Response]:
    """Send *count* concurrent GETs, cycling over *urls*."""
    targets = [urls[i % len(urls)] for i in range(count)]
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda url: requests.get(url, timeout=10), targets))


def test_redis_store_allows_exactly_limit_across_four_workers(
    tmp_path: Path, redis_url: str
) -> None:
    """BAD_INPUTS H1: 5 x L concurrent requests over 4 gthread workers, exactly L allowed."""
    results = {}
    with gunicorn(
        app_spec(tmp_path), workers=WORKERS, threads=4, env=env(redis_url, COUNTING_TIMEOUT)
    ) as server:
        for name in STRATEGIES:
            results[name] = burst([f"{server.url}/{name}"], 5 * LIMIT)
    for name, responses in results.items():
        # Which workers took the burst is up to the kernel; the two-host test
        # below is the deterministic check that separate processes share counts.
        workers = collections.Counter(r.headers["X-Worker-Pid"] for r in responses)
        print(f"{name}: requests per worker {sorted(workers.values(), reverse=True)}")
        statuses = collections.Counter(r.status_code for r in responses)
        assert statuses == {200: LIMIT, 429: 4 * LIMIT}, (name, statuses)
        for response in responses:
            assert "X-RateLimit-Status" not in response.headers  # counted, not failed open
            remaining = int(response.headers["X-RateLimit-Remaining"])
            assert 0 <= remaining <= LIMIT
            assert response.headers["X-RateLimit-Limit"] == str(LIMIT)
            if response.status_code == 429:
                assert response.json()["error"] == "rate_limited"
                assert int(response.headers["Retry-After"]) >= 1


def test_memory_store_counts_per_worker(tmp_path: Path) -> None:
    """BAD_INPUTS H2: with memory:// each worker allows L on its own (up to workers x L)."""
    with gunicorn(app_spec(tmp_path), workers=WORKERS, threads=4, env=env("memory://")) as server:
        responses = burst([server.url + "/fixed"], 5 * LIMIT)
    by_worker: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    for response in responses:
        by_worker[response.headers["X-Worker-Pid"]][response.status_code] += 1
    allowed = sum(counts[200] for counts in by_worker.values())
    # Each worker is an independent limiter: it allows the first L it sees.
    for counts in by_worker.values():
        assert counts[200] == min(LIMIT, counts[200] + counts[429])
    assert LIMIT <= allowed <= WORKERS * LIMIT
    print(f"memory:// over {len(by_worker)} workers allowed {allowed} of {5 * LIMIT} (L={LIMIT})")


def test_two_hosts_sharing_one_redis_allow_exactly_limit(tmp_path: Path, redis_url: str) -> None:
    """Two gunicorn instances (two "machines") behind one Redis: the limit is global."""
    spec = app_spec(tmp_path)
    with (
        gunicorn(spec, workers=2, threads=4, env=env(redis_url, COUNTING_TIMEOUT)) as host_a,
        gunicorn(spec, workers=2, threads=4, env=env(redis_url, COUNTING_TIMEOUT)) as host_b,
    ):
        assert host_a.port != host_b.port
        responses = burst([host_a.url + "/sliding", host_b.url + "/sliding"], 5 * LIMIT)
    statuses = collections.Counter(r.status_code for r in responses)
    assert statuses == {200: LIMIT, 429: 4 * LIMIT}
    assert not any("X-RateLimit-Status" in r.headers for r in responses)
    hosts = collections.Counter(r.url.split("/")[2] for r in responses)
    assert len(hosts) == 2  # both hosts took traffic


@pytest.fixture
def own_redis() -> Iterator[Server]:
    """A redis-server of this test's own, so stopping it cannot break other tests."""
    with redis_server() as server:
        yield server


def timed_burst(urls: list[str], count: int) -> list[tuple[str, int, float, requests.Response]]:
    """Send *count* concurrent GETs cycling over *urls*; time each one."""

    def one(url: str) -> tuple[str, int, float, requests.Response]:
        started = time.monotonic()
        response = requests.get(url, timeout=10)
        return url.rsplit("/", 1)[1], response.status_code, time.monotonic() - started, response

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, [urls[i % len(urls)] for i in range(count)]))


def test_redis_hung_then_stopped_under_load_keeps_the_policy(
    tmp_path: Path, own_redis: Server
) -> None:
    """BAD_INPUTS H4: SIGSTOP-hung, then killed Redis: the policy holds, no 500, no 5 s stall."""
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    with gunicorn(app_spec(tmp_path), workers=2, threads=4, env=env(url)) as server:
        targets = [server.url + "/fixed", server.url + "/closed"]
        # Healthy (one request at a time): counting works.
        for target in targets * 2:
            response = requests.get(target, timeout=10)
            assert response.status_code == 200
            assert "X-RateLimit-Remaining" in response.headers

        os.kill(own_redis.pid, signal.SIGSTOP)
        try:
            hung = timed_burst(targets, 24)
        finally:
            os.kill(own_redis.pid, signal.SIGCONT)
        own_redis.proc.terminate()
        own_redis.proc.wait(10)
        refused = timed_burst(targets, 24)
        log = server.output()

    for phase in (hung, refused):
        for route, status, elapsed, response in phase:
            # A correctness bound against redis-py's 5 s default timeout, not a benchmark.
            assert elapsed < 2.0
            if route == "fixed":  # on_storage_error="open"
                assert status == 200
                assert response.headers["X-RateLimit-Status"] == "unavailable"
            else:  # on_storage_error="closed"
                assert status == 503
                assert response.json()["error"] == "rate_limit_unavailable"
                assert response.headers["Retry-After"] == "1"
    # the workers say why in their log, without the URL's credentials
    assert "rate-limit storage redis://127.0.0.1" in log
