"""revalidate segment config under real gunicorn workers, with the App's cache store in Redis."""

from __future__ import annotations

import collections
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from handlerkit.testing import write_app
from tests.support.servers import gunicorn

pytestmark = pytest.mark.slow

ROUTE = """
import itertools
import os

from handlerkit import NextResponse

revalidate = 30
_calls = itertools.count(1)


def GET(request):
    return NextResponse.json({"pid": os.getpid(), "call": next(_calls)})
"""


def spec(tmp_path: Path, cache_store: str | None) -> str:
    root = write_app(tmp_path / "app", {"catalogue/route.py": ROUTE})
    option = f", cache_store={cache_store!r}" if cache_store else ""
    return f"handlerkit:create_app({str(root)!r}{option})"


def fetch_many(url: str, count: int) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda _: requests.get(url, timeout=10), range(count)))


def test_redis_cache_store_is_shared_by_all_workers(tmp_path: Path, redis_url: str) -> None:
    # A generous Redis timeout (URL options override RedisStore's 0.1 s), so a
    # slow reply on a loaded machine cannot turn a HIT into a MISS.
    store = redis_url + "?socket_timeout=2&socket_connect_timeout=2"
    with gunicorn(spec(tmp_path, store), workers=4, threads=2) as server:
        first = requests.get(server.url + "/catalogue", timeout=10)
        rest = fetch_many(server.url + "/catalogue", 40)
    assert first.headers["X-Cache"] == "MISS"
    assert first.headers["Cache-Control"] == "public, s-maxage=30, stale-while-revalidate"
    # every later answer, whichever worker gave it, is the one stored answer
    assert {r.headers["X-Cache"] for r in rest} == {"HIT"}
    assert {r.content for r in rest} == {first.content}
    assert {r.headers["Cache-Control"] for r in rest} == {first.headers["Cache-Control"]}


def test_memory_cache_store_is_per_worker(tmp_path: Path) -> None:
    # one thread per worker, so a worker never races itself to the first MISS
    with gunicorn(spec(tmp_path, None), workers=4, threads=1) as server:
        responses = fetch_many(server.url + "/catalogue", 40)
    by_pid: dict[int, list[requests.Response]] = collections.defaultdict(list)
    for response in responses:
        by_pid[response.json()["pid"]].append(response)
    # each worker ran the handler once and then served its own entry
    for pid, answers in by_pid.items():
        assert {r.json()["call"] for r in answers} == {1}, pid
        assert [r.headers["X-Cache"] for r in answers].count("MISS") == 1, pid
    print(f"memory cache store: {len(by_pid)} workers, {len(by_pid)} handler runs for 40 requests")
