"""MemoryStore and RedisStore: protocol, expiry, atomic add, bounds, fork safety, failures."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from handlerkit import with_rate_limit
from handlerkit.errors import ApiError
from handlerkit.stores import (
    MemoryStore,
    RedisStore,
    Store,
    StoreError,
    check_redis_url,
    redact_url,
    resolve_store,
    store_from_url,
)
from tests.support.servers import free_port, redis_server


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
    else:
        url = request.getfixturevalue("redis_url")
        yield RedisStore(url, prefix=f"t-{uuid.uuid4().hex}:", socket_timeout=2)


def test_both_stores_satisfy_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)


def test_get_set_delete_round_trip(store: Store) -> None:
    assert store.get("k") is None
    store.set("k", b"v1")
    assert store.get("k") == b"v1"
    store.set("k", b"\x00\xffbinary")
    assert store.get("k") == b"\x00\xffbinary"
    store.delete("k")
    assert store.get("k") is None
    store.delete("never-set")  # absent keys are ignored


def test_add_only_stores_when_absent(store: Store) -> None:
    assert store.add("lock", b"a", ttl=10) is True
    assert store.add("lock", b"b", ttl=10) is False
    assert store.get("lock") == b"a"
    store.delete("lock")
    assert store.add("lock", b"c") is True
    assert store.get("lock") == b"c"


def test_ttl_expires_keys(store: Store) -> None:
    store.set("short", b"x", ttl=0.05)
    store.set("long", b"y", ttl=60)
    assert store.get("short") == b"x"
    deadline = time.monotonic() + 5
    while store.get("short") is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.get("short") is None
    assert store.get("long") == b"y"
    # an expired key can be added again
    assert store.add("short", b"z", ttl=60) is True


def test_add_is_atomic_under_threads(store: Store) -> None:
    winners: list[int] = []
    barrier = threading.Barrier(16)

    def race(i: int) -> None:
        barrier.wait(5)
        if store.add("race", str(i).encode(), ttl=30):
            winners.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(winners) == 1
    assert store.get("race") == str(winners[0]).encode()


def test_memory_store_is_bounded_under_key_flooding() -> None:
    """BAD_INPUTS H5: random keys cannot grow the in-memory store past max_entries."""
    store = MemoryStore(max_entries=100)
    for _ in range(5000):
        store.set(uuid.uuid4().hex, b"x" * 10, ttl=3600)
    assert len(store) == 100


def test_memory_store_evicts_least_recently_used() -> None:
    store = MemoryStore(max_entries=2)
    store.set("a", b"1")
    store.set("b", b"2")
    assert store.get("a") == b"1"  # a is now the most recent
    store.set("c", b"3")
    assert store.get("b") is None
    assert store.get("a") == b"1"
    assert store.get("c") == b"3"


def test_memory_store_rejects_a_zero_bound() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryStore(max_entries=0)


def test_redis_store_prefixes_keys(redis_url: str) -> None:
    import redis

    RedisStore(redis_url, prefix="app1:", socket_timeout=2).set("k", b"v", ttl=30)
    raw = redis.Redis.from_url(redis_url)
    try:
        assert raw.get("app1:k") == b"v"
        assert 0 < raw.pttl("app1:k") <= 30000
    finally:
        raw.close()
    assert RedisStore(redis_url, prefix="app2:", socket_timeout=2).get("k") is None


def test_redis_store_expires_keys_server_side_for_flooding(redis_url: str) -> None:
    """BAD_INPUTS H5 for Redis: every key written with a ttl carries a server-side expiry."""
    import redis

    store = RedisStore(redis_url, prefix="flood:", socket_timeout=2)
    for _ in range(50):
        store.set(uuid.uuid4().hex, b"x", ttl=5)
    raw = redis.Redis.from_url(redis_url)
    try:
        keys = list(raw.scan_iter("flood:*"))
        assert len(keys) == 50
        assert all(0 < raw.pttl(key) <= 5000 for key in keys)
    finally:
        raw.close()


def _child_uses_store(
    store: RedisStore, queue: multiprocessing.Queue[tuple[int, int, bytes | None]]
) -> None:
    before = id(store._client)
    value = store.get("shared")
    queue.put((before, id(store.client), value))


def test_redis_client_is_recreated_after_fork(redis_url: str) -> None:
    store = RedisStore(redis_url, prefix="fork:", socket_timeout=2)
    store.set("shared", b"from-parent")
    parent_client = store.client
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[tuple[int, int, bytes | None]] = ctx.Queue()
    proc = ctx.Process(target=_child_uses_store, args=(store, queue))
    proc.start()
    try:
        before, after, value = queue.get(timeout=10)
    finally:
        proc.join(10)
    assert proc.exitcode == 0
    assert value == b"from-parent"
    assert before == id(parent_client)  # the child inherited the parent's client object...
    assert after != before  # ...and replaced it before talking to Redis
    assert store.client is parent_client  # the parent keeps its own


def test_redis_client_is_created_lazily() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    assert store._client is None  # constructing does no I/O


def test_redis_refusing_raises_store_error_quickly() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        store.get("k")
    # generous correctness bound: no redis-py retries with backoff
    assert time.monotonic() - started < 2
    assert isinstance(info.value, ApiError)
    assert info.value.status == 503
    assert info.value.code == "store_unavailable"
    assert "127.0.0.1" not in info.value.message


def test_hung_redis_times_out_within_the_socket_timeout() -> None:
    """BAD_INPUTS H4: a SIGSTOPped Redis costs about socket_timeout, not redis-py's seconds."""
    with redis_server() as server:
        store = RedisStore(f"redis://127.0.0.1:{server.port}/0", socket_timeout=0.1)
        store.set("k", b"v")
        os.kill(server.pid, signal.SIGSTOP)
        try:
            calls = (
                lambda: store.get("k"),
                lambda: store.add("n", b"v", ttl=5),
                lambda: store.set("k", b"w"),
            )
            for call in calls:
                started = time.monotonic()
                with pytest.raises(StoreError):
                    call()
                assert time.monotonic() - started < 2
        finally:
            os.kill(server.pid, signal.SIGCONT)
        # and the same store recovers once Redis answers again
        assert store.get("k") == b"v"


def test_store_from_url() -> None:
    assert isinstance(store_from_url("memory://"), MemoryStore)
    assert store_from_url("memory://", max_entries=5).max_entries == 5  # type: ignore[attr-defined]
    redis_store = store_from_url("redis://user:pw@127.0.0.1:1/0", prefix="p:")
    assert isinstance(redis_store, RedisStore)
    assert redis_store.prefix == "p:"
    assert "pw" not in repr(redis_store)
    with pytest.raises(ValueError, match="unsupported store URL"):
        store_from_url("memcached://x")


def test_resolve_store() -> None:
    store = MemoryStore()
    assert resolve_store(store) is store
    assert isinstance(resolve_store(None), MemoryStore)
    assert isinstance(resolve_store("redis://127.0.0.1:1/0"), RedisStore)


def test_redis_url_options_override_the_default_timeouts() -> None:
    store = RedisStore("redis://127.0.0.1:1/0?socket_timeout=2&socket_connect_timeout=1.5")
    kwargs = store.client.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (2.0, 1.5)
    default = RedisStore("redis://127.0.0.1:1/0").client.connection_pool.connection_kwargs
    assert (default["socket_timeout"], default["socket_connect_timeout"]) == (0.1, 0.1)


def test_delete_if_and_set_if_compare_before_writing(store: Store) -> None:
    """Compare-and-delete / compare-and-set: a stale owner never removes a newer value."""
    assert store.add("lock", b"mine", 30)
    assert store.delete_if("lock", b"someone else's") is False  # type: ignore[attr-defined]
    assert store.get("lock") == b"mine"
    assert store.set_if("lock", b"someone else's", b"x", 30) is False  # type: ignore[attr-defined]
    assert store.get("lock") == b"mine"
    assert store.set_if("lock", b"mine", b"done", 30) is True  # type: ignore[attr-defined]
    assert store.get("lock") == b"done"
    assert store.delete_if("lock", b"mine") is False  # type: ignore[attr-defined]
    assert store.delete_if("lock", b"done") is True  # type: ignore[attr-defined]
    assert store.get("lock") is None
    assert store.delete_if("lock", b"done") is False  # type: ignore[attr-defined]
    assert store.set_if("lock", b"done", b"again") is False  # type: ignore[attr-defined]
    assert store.get("lock") is None


def test_set_if_keeps_the_ttl(store: Store) -> None:
    store.set("k", b"a", 30)
    assert store.set_if("k", b"a", b"b", 0.2) is True  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while store.get("k") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.get("k") is None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@h:6379/0", "redis://***@h:6379/0"),
        ("redis://bob:hunter2@h/0", "redis://***@h/0"),
        ("redis://h/0?password=hunter2", "redis://h/0?password=***"),
        (
            "redis://h/0?username=bob&password=hunter2&db=1",
            "redis://h/0?username=***&password=***&db=1",
        ),
        (
            "rediss://h/0?socket_timeout=2&PASSWORD=hunter2",
            "rediss://h/0?socket_timeout=2&PASSWORD=***",
        ),
        ("unix:///tmp/r.sock?db=0&password=hunter2", "unix:///tmp/r.sock?db=0&password=***"),
        ("rediss://h/0?ssl_password=hunter2", "rediss://h/0?ssl_password=***"),
        ("redis://h/0?ssl_password=hunter2", "redis://h/0?ssl_password=***"),
        ("memory://", "memory://"),
    ],
)
def test_redact_url_masks_credentials_in_userinfo_and_query(url: str, shown: str) -> None:
    """Regression: ?password= (which redis-py honours) was shown in reprs and logs."""
    assert redact_url(url) == shown
    if url.startswith(("redis", "unix")):
        try:
            store = RedisStore(url)
        except ValueError as exc:
            # An option redis-py would refuse (PASSWORD is not password; ssl_* needs
            # rediss://) is refused at construction, and the message is redacted too.
            assert "hunter2" not in str(exc) and "is not valid" in str(exc)
        else:
            assert "hunter2" not in repr(store)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("rediss://:pw@h:6379/0?ssl_cert_reqs=bogus", "option 'ssl_cert_reqs'"),
        ("redis://h/0?db=1&bogus=1", "option 'bogus'"),
        ("redis://h/0?socket_timeout=soon", "option 'socket_timeout'"),
        ("redis://h/0?ssl_cert_reqs=required", "option 'ssl_cert_reqs'"),  # ssl_* needs rediss://
        ("redis://h:port/0", "Port could not be cast"),
    ],
)
def test_a_redis_url_redis_py_would_refuse_on_first_use_is_refused_at_startup(
    url: str, named: str
) -> None:
    """Regression: ?ssl_cert_reqs=bogus passed the scheme check and then failed every request."""
    for build in (RedisStore, store_from_url, lambda u: with_rate_limit(storage=u)):
        with pytest.raises(ValueError, match=named) as caught:
            build(url)
        assert ":pw@" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis://h:6379/2?socket_timeout=1&health_check_interval=5",
        "rediss://h/0?ssl_cert_reqs=none&ssl_check_hostname=false",
        "unix:///tmp/redis.sock?db=3",
    ],
)
def test_valid_redis_urls_are_accepted_without_connecting(url: str) -> None:
    check_redis_url(url)
    assert repr(RedisStore(url)).startswith("RedisStore(")
    with_rate_limit(storage=url.replace("unix://", "redis+unix://"))
