"""Key-value stores for shared state: cache entries, idempotency keys and replay guards.

One small protocol, :class:`Store`, with two implementations:

- :class:`MemoryStore`: a bounded dict **per process**. Each gunicorn worker has
  its own, so counts and cached answers are not shared between workers or
  machines.
- :class:`RedisStore`: one Redis shared by every worker and host. The client is
  created lazily on first use in each process (after gunicorn forks), with short
  socket timeouts so a hung Redis costs about 100 ms, not redis-py's default
  seconds.

A store that cannot reach its backend raises :class:`StoreError`, an
:class:`~handlerkit.errors.ApiError` that renders as a 503 in the JSON error
shape; callers may catch it to fail open instead.

``store_from_url("memory://")`` and ``store_from_url("redis://host:6379/0")``
build either from a URL.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import ApiError

if TYPE_CHECKING:
    import redis

__all__ = [
    "MemoryStore",
    "RedisStore",
    "Store",
    "StoreError",
    "check_redis_url",
    "redact_url",
    "resolve_store",
    "store_from_url",
]

#: How many forks separate this process from the one that imported handlerkit;
#: ``FORKS[0]`` changes in every child. Per-process clients and limiters
#: remember the value they were built under and are rebuilt after a fork.
FORKS = [0]


def _forked() -> None:
    FORKS[0] += 1


# PERF: comparing os.getpid() on every use was a system call per request
# (with_rate_limit, RedisStore.client); a fork hook bumps a counter instead:
# with_rate_limit's limiter lookup 12.8k -> 2.4k instructions (cachegrind, 2026-11-21).
os.register_at_fork(after_in_child=_forked)


class StoreError(ApiError):
    """Raised when a store's backend (Redis) is unreachable, refuses or times out; a 503."""

    def __init__(self, message: str = "A shared store is unavailable.") -> None:
        super().__init__(503, "store_unavailable", message)


@runtime_checkable
class Store(Protocol):
    """A key-value store of bytes with optional per-key expiry.

    Keys are ``str``; values are ``bytes``; *ttl* is in seconds (``None`` keeps
    the key until it is deleted or evicted).

    Stores may also offer ``delete_if(key, expected) -> bool`` and
    ``set_if(key, expected, value, ttl) -> bool`` (compare-and-delete and
    compare-and-set, atomically); both built-in stores do. They are optional:
    ``with_idempotency`` uses them to release only its own lock and falls back
    to a non-atomic get, compare and delete/set on stores without them.
    """

    def get(self, key: str) -> bytes | None:
        """Return the value stored under *key*, or ``None`` when absent or expired."""
        ...

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store *value* under *key*, replacing any previous value."""
        ...

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Store *value* only if *key* is absent (atomically); return whether it was stored."""
        ...

    def delete(self, key: str) -> None:
        """Remove *key*; absent keys are ignored."""
        ...


class MemoryStore:
    """An in-process store, bounded and thread-safe. It is **per process**.

    Under gunicorn each worker process has its own ``MemoryStore``: a value set
    by one worker is invisible to the others and to other machines. Use
    :class:`RedisStore` when workers or hosts must agree.

    Expired keys are dropped when read; once ``max_entries`` keys are held, each
    new key evicts the least recently used one, so flooding the store with
    random keys cannot grow it without bound.

    Args:
        max_entries: The most keys held at once.
    """

    def __init__(self, max_entries: int = 10000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def _live(self, key: str, now: float) -> tuple[bytes, float | None] | None:
        # Caller holds the lock.
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= now:
            del self._data[key]
            return None
        return item

    def _put(self, key: str, value: bytes, ttl: float | None, now: float) -> None:
        # Caller holds the lock.
        expires = now + ttl if ttl is not None else None
        self._data[key] = (bytes(value), expires)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def get(self, key: str) -> bytes | None:
        """Return the value stored under *key*, or ``None`` when absent or expired."""
        with self._lock:
            item = self._live(key, time.monotonic())
            if item is None:
                return None
            self._data.move_to_end(key)
            return item[0]

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store *value* under *key* for *ttl* seconds (``None``: no expiry)."""
        with self._lock:
            self._put(key, value, ttl, time.monotonic())

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Store *value* only if *key* is absent or expired; return whether it was stored."""
        with self._lock:
            now = time.monotonic()
            if self._live(key, now) is not None:
                return False
            self._put(key, value, ttl, now)
            return True

    def delete(self, key: str) -> None:
        """Remove *key*; absent keys are ignored."""
        with self._lock:
            self._data.pop(key, None)

    def delete_if(self, key: str, expected: bytes) -> bool:
        """Remove *key* only if it still holds *expected* (atomically); return whether it did."""
        with self._lock:
            item = self._live(key, time.monotonic())
            if item is None or item[0] != expected:
                return False
            del self._data[key]
            return True

    def set_if(self, key: str, expected: bytes, value: bytes, ttl: float | None = None) -> bool:
        """Replace *key* with *value* only if it still holds *expected*; return whether it did."""
        with self._lock:
            now = time.monotonic()
            item = self._live(key, now)
            if item is None or item[0] != expected:
                return False
            self._put(key, value, ttl, now)
            return True

    def clear(self) -> None:
        """Remove every key (tests use it)."""
        with self._lock:
            self._data.clear()

    def __repr__(self) -> str:
        return f"MemoryStore(max_entries={self.max_entries})"


_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_SET_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if tonumber(ARGV[3]) > 0 then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  else
    redis.call('SET', KEYS[1], ARGV[2])
  end
  return 1
end
return 0
"""


class RedisStore:
    """A store in Redis, shared by every worker process and every host using the same server.

    The redis-py client is created on first use and re-created whenever the
    process id changes, so a store built before gunicorn forks never shares a
    socket between workers. Socket timeouts are short and redis-py's retries
    are disabled: an unreachable or hung Redis raises :class:`StoreError` after
    about *socket_timeout* seconds.

    Args:
        url: A ``redis://`` (or ``rediss://``, ``unix://``) URL.
        prefix: Prepended to every key.
        socket_timeout: Seconds to wait for connect and for each reply.

    Raises:
        ValueError: The URL is malformed or has an option redis-py would
            refuse on first use (see :func:`check_redis_url`).
    """

    def __init__(
        self, url: str, *, prefix: str = "handlerkit:", socket_timeout: float = 0.1
    ) -> None:
        check_redis_url(url)
        self.url = url
        self.prefix = prefix
        self.socket_timeout = socket_timeout
        self._client: redis.Redis | None = None
        self._forks = 0
        self._lock = threading.Lock()

    @property
    def client(self) -> redis.Redis:
        """The redis-py client for this process, created on first use after fork."""
        client = self._client
        if client is None or self._forks != FORKS[0]:
            with self._lock:
                if self._client is None or self._forks != FORKS[0]:
                    self._client = self._connect()
                    self._forks = FORKS[0]
                client = self._client
        return client

    def _connect(self) -> redis.Redis:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis.from_url(
            self.url,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.socket_timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return getattr(self.client, name)(*args, **kwargs)
        except redis.RedisError as exc:
            raise StoreError() from exc
        except OSError as exc:
            raise StoreError() from exc

    @staticmethod
    def _px(ttl: float | None) -> int | None:
        return None if ttl is None else max(1, int(ttl * 1000))

    def get(self, key: str) -> bytes | None:
        """Return the value stored under *key*, or ``None`` when absent or expired."""
        value = self._call("get", self.prefix + key)
        return bytes(value) if value is not None else None

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store *value* under *key* for *ttl* seconds (``None``: no expiry)."""
        self._call("set", self.prefix + key, value, px=self._px(ttl))

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Store *value* only if *key* is absent (``SET NX``); return whether it was stored."""
        return bool(self._call("set", self.prefix + key, value, px=self._px(ttl), nx=True))

    def delete(self, key: str) -> None:
        """Remove *key*; absent keys are ignored."""
        self._call("delete", self.prefix + key)

    def delete_if(self, key: str, expected: bytes) -> bool:
        """Remove *key* only if it still holds *expected* (a Lua script); return whether it did."""
        return bool(self._call("eval", _DELETE_IF, 1, self.prefix + key, expected))

    def set_if(self, key: str, expected: bytes, value: bytes, ttl: float | None = None) -> bool:
        """Replace *key* with *value* only if it still holds *expected* (one Lua script)."""
        px = self._px(ttl)
        return bool(self._call("eval", _SET_IF, 1, self.prefix + key, expected, value, px or 0))

    def __repr__(self) -> str:
        return f"RedisStore({redact_url(self.url)!r}, prefix={self.prefix!r})"


def check_redis_url(url: str) -> None:
    """Refuse, at startup, a Redis URL that redis-py would refuse on first use.

    redis-py parses a URL's options lazily: ``?ssl_cert_reqs=bogus`` or an
    unknown ``?bogus=1`` only fail when the first connection is made, which
    would be a failure on every request. This builds (without connecting) the
    connection the URL describes, once per option, and names the first that
    fails. ``redis+unix://`` (the ``limits`` spelling) is read as ``unix://``.

    Raises:
        ValueError: What is wrong, with the credentials masked.
    """
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - the [redis] extra is part of every test run
        message = "a redis:// store needs redis-py: pip install 'handlerkit[redis]'"
        raise ValueError(message) from exc
    if url.lower().startswith("redis+unix://"):
        url = url[len("redis+") :]

    def problem(candidate: str) -> str | None:
        try:
            redis.ConnectionPool.from_url(candidate).make_connection()
        except (ValueError, TypeError, redis.RedisError) as exc:
            return str(exc)
        return None

    found = problem(url)
    if found is None:
        return
    base, _, query = url.partition("?")
    for field in query.split("&"):
        name = field.partition("=")[0]
        if field and problem(f"{base}?{field}") is not None:
            raise ValueError(
                f"Redis URL {redact_url(url)!r}: option {name!r} is not valid here"
                " (unknown to redis-py, or a value it refuses)"
            )
    raise ValueError(f"Redis URL {redact_url(url)!r} is not valid: {found}")


def redact_url(url: str) -> str:
    """Return *url* with its credentials masked, for logs, labels and reprs.

    Masks the ``user:password@`` part and the value of every query field
    named ``password`` or ``username`` (redis-py honours both, e.g.
    ``redis://host/0?password=...``), and of any field ending in ``password``.
    """
    scheme, sep, rest = url.partition("://")
    rest, qsep, query = rest.partition("?")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    if qsep:
        fields = []
        for field in query.split("&"):
            name, eq, _value = field.partition("=")
            lowered = name.lower()
            if eq and (lowered == "username" or lowered.endswith("password")):
                field = name + "=***"
            fields.append(field)
        rest = rest + "?" + "&".join(fields)
    return scheme + sep + rest


def store_from_url(url: str, **options: Any) -> Store:
    """Return a store for *url*.

    Args:
        url: ``"memory://"`` for a :class:`MemoryStore`, or a ``redis://``,
            ``rediss://`` or ``unix://`` URL for a :class:`RedisStore`.
        **options: Passed to the store's constructor (``max_entries``,
            ``prefix``, ``socket_timeout``).

    Raises:
        ValueError: The URL scheme is not supported, or the Redis URL is not
            valid (:func:`check_redis_url`).
    """
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        return MemoryStore(**options)
    if scheme in ("redis", "rediss", "unix"):
        return RedisStore(url, **options)
    raise ValueError(f"unsupported store URL scheme {scheme!r}; use memory:// or redis://")


def resolve_store(store: Store | str | None) -> Store:
    """Return *store*, a store built from a URL, or a new :class:`MemoryStore` for ``None``."""
    if store is None:
        return MemoryStore()
    if isinstance(store, str):
        return store_from_url(store)
    return store
