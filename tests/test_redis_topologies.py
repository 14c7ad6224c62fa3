"""Shared state beyond one host: Redis Cluster and Sentinel, real servers, two `handlerkit serve` hosts, failover.

Every server is started here (tests/support/redis_topologies.py) and stopped by
PID. The "hosts" are two `handlerkit serve` processes with two workers each on
different ports, sharing one cluster: what one counts or locks, the other sees.
"""

from __future__ import annotations

import concurrent.futures
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import redis

from handlerkit import NextRequest, with_rate_limit
from handlerkit.stores import RedisStore, StoreError, parse_redis_url, store_from_url
from handlerkit.testing import write_app
from tests.support.redis_topologies import Topology, current_primary, redis_cluster, redis_sentinel
from tests.support.servers import handlerkit_serve

# --- URLs, checked at startup ---------------------------------------------------------------


def test_sentinel_and_cluster_urls_are_read_as_limits_writes_them() -> None:
    sentinel = parse_redis_url("redis+sentinel://:s3cret@a:26379,b,[::1]:26380/mymaster?db=2&sentinel_password=x")
    assert sentinel.kind == "sentinel" and sentinel.service == "mymaster"
    assert sentinel.nodes == (("a", 26379), ("b", 26379), ("::1", 26380))
    assert sentinel.client_options() == {"password": "s3cret", "db": 2}
    assert sentinel.sentinel_auth() == {"password": "x"}  # the sentinels' own, given
    assert parse_redis_url("redis+sentinel://u:p@a/m").sentinel_auth() == {"username": "u", "password": "p"}
    cluster = parse_redis_url("redis+cluster://u:p@h1:7000,h2:7001?ssl=true&ssl_cert_reqs=none")
    assert cluster.kind == "cluster" and cluster.nodes == (("h1", 7000), ("h2", 7001))
    assert cluster.client_options() == {"username": "u", "password": "p", "ssl": True, "ssl_cert_reqs": "none"}
    assert parse_redis_url("redis://localhost:6379/0").kind == "single"


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("redis+sentinel://a:26379,b:26380", "names no Sentinel service"),
        ("redis+sentinel://a:26379/mymaster?bogus=1", "option 'bogus' is not valid for redis+sentinel"),
        ("redis+cluster://a:7000?db=1", "option 'db' is not valid for redis+cluster"),
        ("redis+cluster://a:7000/3", "only database 0"),
        ("redis+cluster://a:70000", "'70000' is not a port"),
        ("redis+cluster://a:7000,,b:7001", "empty host"),
        ("redis+sentinel://a/m?db=x", "db must be a number"),
        ("redis+sentinel://a/m?ssl=true&ssl_cert_reqs=sometimes", "ssl_cert_reqs must be"),
    ],
)
def test_a_bad_topology_url_is_refused_at_startup_naming_the_problem(url: str, named: str) -> None:
    for build in (store_from_url, lambda u: with_rate_limit(storage=u)):
        with pytest.raises(ValueError, match=re.escape(named)):
            build(url)


def test_credentials_never_appear_in_the_refusal() -> None:
    with pytest.raises(ValueError) as caught:
        store_from_url("redis+sentinel://:hunter2@a:26379/m?sentinel_password=hunter3&x=1")
    assert "hunter2" not in str(caught.value) and "hunter3" not in str(caught.value)


# --- A real cluster -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as topology:
        yield topology


@pytest.mark.parametrize("strategy", ["fixed-window", "moving-window", "sliding-window"])
def test_every_rate_limit_strategy_counts_exactly_on_the_cluster(cluster: Topology, strategy: str) -> None:
    handler = with_rate_limit(limit=5, window=60, storage=cluster.url, strategy=strategy,
                              key=lambda request, context: f"{strategy}-{request.headers['x-client']}")(
        lambda request: {"ok": True}
    )
    for client in ("a", "b", "c"):  # keys that land on different slots
        statuses = [
            handler(NextRequest(f"http://x/?{i}", headers={"x-client": client})).status_code
            for i in range(8)
        ]
        assert statuses == [200] * 5 + [429] * 3, (strategy, client, statuses)


def test_the_store_works_across_the_cluster_slots(cluster: Topology) -> None:
    store = RedisStore(cluster.url, prefix=f"t{time.time_ns()}:")
    keys = [f"key-{i}" for i in range(60)]  # spread over all three primaries
    for key in keys:
        store.set(key, key.encode(), ttl=30)
    assert [store.get(key) for key in keys] == [key.encode() for key in keys]
    assert store.add("lock", b"one", ttl=30) and not store.add("lock", b"two", ttl=30)
    assert store.set_if("lock", b"one", b"done", ttl=30) and store.get("lock") == b"done"
    assert not store.delete_if("lock", b"one") and store.delete_if("lock", b"done")


# --- Two hosts sharing the cluster ----------------------------------------------------------

ROUTES = {
    "limited/route.py": (
        "import os\n"
        "from handlerkit import with_rate_limit\n\n"
        "@with_rate_limit(limit=int(os.environ['HK_LIMIT']), window=60, storage=os.environ['HK_REDIS_URL'],\n"
        "                 key=lambda request, context: request.headers.get('x-client', 'anon'),\n"
        "                 on_storage_error='open')\n"
        "def GET(request):\n"
        "    return {'ok': True}\n"
    ),
    "once/route.py": (
        "import os, time\n"
        "from handlerkit import with_idempotency\n\n"
        "@with_idempotency(store=os.environ['HK_REDIS_URL'], scope=lambda request, context: 'everyone')\n"
        "def POST(request):\n"
        "    with open(os.environ['HK_RUNS'], 'a') as runs:\n"
        "        runs.write(f'{os.getpid()}\\n')\n"
        "    time.sleep(0.5)\n"
        "    return {'ran': True}\n"
    ),
}


def _serve(app_dir: Path, url: str, runs: Path, log: Path, limit: int = 10) -> Any:
    """One "host": `handlerkit serve` with two workers, its stores and limits on *url*."""
    env = {"HK_REDIS_URL": url, "HK_RUNS": str(runs), "HK_LIMIT": str(limit)}
    return handlerkit_serve(app_dir, "--workers", "2", env=env, log=log)


def _get(port: int, path: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers or {},
                                     method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def two_hosts(cluster: Topology, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[int], Path]]:
    root = tmp_path_factory.mktemp("hosts")
    app_dir = write_app(root / "app", ROUTES)
    runs = root / "runs.txt"
    with ExitStack() as stack:
        ports = [
            stack.enter_context(_serve(app_dir, cluster.url, runs, root / f"{name}.log"))
            for name in ("host-a", "host-b")
        ]
        yield ports, runs


def test_a_limit_of_l_across_two_hosts_allows_exactly_l(two_hosts: tuple[list[int], Path]) -> None:
    ports, _ = two_hosts
    client = {"x-client": f"two-hosts-{time.time_ns()}"}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: _get(ports[i % 2], "/limited", client)[0], range(30)))
    assert sorted(statuses) == [200] * 10 + [429] * 20, statuses


def test_one_idempotency_key_runs_its_handler_once_across_two_hosts(two_hosts: tuple[list[int], Path]) -> None:
    ports, runs = two_hosts
    runs.write_text("")
    key = {"Idempotency-Key": f"k-{time.time_ns()}", "Content-Type": "application/json"}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: _get(ports[i % 2], "/once", key, b"{}"), range(8)))
    statuses = [status for status, _, _ in answers]
    assert len(runs.read_text().split()) == 1, runs.read_text()
    assert set(statuses) <= {200, 409} and 200 in statuses, statuses
    # once it has finished, every retry on either host gets the stored answer
    assert [_get(port, "/once", key, b"{}")[0] for port in ports] == [200, 200]
    assert len(runs.read_text().split()) == 1


def test_a_dead_cluster_primary_leaves_the_other_slots_working_quickly(tmp_path: Path) -> None:
    with redis_cluster(tmp_path) as topology:
        store = RedisStore(topology.url, prefix="")
        # which primary holds which key, asked of the cluster itself
        owner = {}
        for i in range(200):
            store.set(f"k{i}", b"v", ttl=60)
            slot = store.client.keyslot(f"k{i}")
            owner[f"k{i}"] = store.client.nodes_manager.get_node_from_slot(slot).port
        limited = with_rate_limit(limit=3, window=60, storage=topology.url, on_storage_error="open",
                                  key=lambda request, context: request.headers["x-client"])(lambda request: {"ok": True})
        clients = [f"client-{i}" for i in range(12)]
        for client in clients:  # connect before the kill, as a running worker would have
            limited(NextRequest("http://x/", headers={"x-client": client}))
        topology.kill("primary0")
        dead = topology.ports["primary0"]
        outcomes = {}
        for client in clients:  # each has 2 left of its limit of 3
            answers = [limited(NextRequest("http://x/", headers={"x-client": client})) for _ in range(4)]
            assert all(a.status_code < 500 for a in answers)
            if all("X-RateLimit-Remaining" in a.headers or a.status_code == 429 for a in answers):
                outcomes[client] = [a.status_code for a in answers]
            else:
                outcomes[client] = ["open" for a in answers if a.headers.get("X-RateLimit-Status") == "unavailable"]
        counted = [o for o in outcomes.values() if o and o[0] != "open"]
        assert counted and all(o == [200, 200, 429, 429] for o in counted), outcomes  # exact on live slots
        assert any(o and o[0] == "open" for o in outcomes.values()), outcomes  # the dead slots fail open
        alive_keys = [k for k, port in owner.items() if port != dead][:20]
        dead_keys = [k for k, port in owner.items() if port == dead][:5]
        failures = 0
        start = time.monotonic()
        for key in dead_keys:
            try:
                store.get(key)
            except StoreError:
                failures += 1
        dead_cost = (time.monotonic() - start) / len(dead_keys)
        start = time.monotonic()
        assert all(store.get(key) == b"v" for key in alive_keys)
        alive_cost = (time.monotonic() - start) / len(alive_keys)
    print(f"cluster, one primary killed: dead-slot op {dead_cost * 1000:.0f} ms, live-slot op {alive_cost * 1000:.1f} ms")
    assert failures == len(dead_keys)  # a StoreError (503 or the wrapper's policy), never a hang
    assert dead_cost < 1.5


# --- Sentinel failover ----------------------------------------------------------------------


def test_a_sentinel_failover_is_a_bounded_outage_with_no_5xx_and_exact_limits_after(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", ROUTES)
    with redis_sentinel(tmp_path) as topology:
        with _serve(app_dir, topology.url, tmp_path / "runs.txt", tmp_path / "serve.log", limit=1000) as port:
            before = current_primary(topology)
            assert before == topology.ports["primary"]
            seen: list[tuple[float, int, str]] = []
            client = {"x-client": "steady"}
            killed_at = 0.0
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                status, headers, _ = _get(port, "/limited", client)
                state = "counted" if "X-RateLimit-Remaining" in headers else headers.get("X-RateLimit-Status", "?")
                seen.append((time.monotonic(), status, state))
                if not killed_at and len(seen) == 50:
                    topology.kill("primary")
                    killed_at = time.monotonic()
                if killed_at and state == "counted" and time.monotonic() - killed_at > 0.5:
                    break  # counting again, on the new primary
                time.sleep(0.02)
            after = current_primary(topology)
            # after promotion the limit is exact again, for a fresh client
            fresh = {"x-client": f"after-{time.time_ns()}"}
            statuses = []
            for _ in range(5):
                statuses.append(_get(port, "/limited", fresh)[0])
    during = [s for t, s, state in seen if t >= killed_at]
    outage = [t for t, _, state in seen if t >= killed_at and state != "counted"]
    length = (max(outage) - killed_at) if outage else 0.0
    print(f"sentinel failover: {len(outage)} requests allowed uncounted over {length:.1f} s;"
          f" {len(during)} requests after the kill, statuses {sorted(set(during))}")
    assert killed_at, "the primary was never killed"
    assert after == topology.ports["replica"], "the replica was not promoted"
    assert all(status < 500 for _, status, _ in seen), "a 5xx during the failover"
    assert seen[-1][2] == "counted", "counting did not resume on the new primary"
    assert length < 15, f"the outage lasted {length:.1f} s"
    assert statuses == [200] * 5  # well under the limit of 1000; exactness is below


def test_after_a_sentinel_failover_a_limit_of_l_allows_exactly_l(tmp_path: Path) -> None:
    with redis_sentinel(tmp_path) as topology:
        handler = with_rate_limit(limit=4, window=60, storage=topology.url,
                                  key=lambda request, context: request.headers["x-client"])(lambda request: {"ok": True})
        hit = lambda client: handler(NextRequest("http://x/", headers={"x-client": client})).status_code  # noqa: E731
        assert [hit("before") for _ in range(6)] == [200] * 4 + [429] * 2
        # the URL's options reach the rate limiter and the store alike: both write to db 3
        in_db3 = with_rate_limit(limit=4, window=60, storage=topology.url + "?db=3")(lambda request: {"ok": True})
        assert "X-RateLimit-Remaining" in in_db3(NextRequest("http://x/")).headers
        store_from_url(topology.url + "?db=3").set("probe", b"1", ttl=60)
        primary = redis.Redis(port=topology.ports["primary"], db=3)
        assert primary.get("handlerkit:probe") == b"1" and primary.dbsize() >= 2
        primary.close()
        topology.kill("primary")
        deadline = time.monotonic() + 30
        while current_primary(topology) != topology.ports["replica"]:
            assert time.monotonic() < deadline, "no promotion within 30 s"
            time.sleep(0.2)
        statuses: list[int] = []
        deadline = time.monotonic() + 20
        while True:  # the first calls may still find the old primary gone (fail open, 200)
            response = handler(NextRequest("http://x/", headers={"x-client": "after"}))
            if "X-RateLimit-Remaining" in response.headers or response.status_code == 429:
                statuses.append(response.status_code)
                if len(statuses) == 6:
                    break
            assert time.monotonic() < deadline, "counting never resumed"
    assert statuses == [200] * 4 + [429] * 2, statuses
