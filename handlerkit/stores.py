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
build either from a URL. Highly available Redis takes the URLs ``limits`` uses
(:func:`parse_redis_url`): ``redis+sentinel://host:26379,host:26380/mymaster``
for a Sentinel-managed primary and ``redis+cluster://host:7000,host:7001`` for
Redis Cluster, served by redis-py's own ``Sentinel`` and ``RedisCluster``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable
from urllib.parse import parse_qsl, unquote

from .errors import ApiError

if TYPE_CHECKING:
    import redis

__all__ = [
    "MemoryStore",
    "RedisStore",
    "RedisTopology",
    "Store",
    "StoreError",
    "check_redis_url",
    "parse_redis_url",
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
        url: A ``redis://`` (or ``rediss://``, ``unix://``) URL, or a
            ``redis+sentinel://`` or ``redis+cluster://`` one (:func:`parse_redis_url`).
        prefix: Prepended to every key.
        socket_timeout: Seconds to wait for connect and for each reply.

    Raises:
        ValueError: The URL is malformed or has an option redis-py would
            refuse on first use (see :func:`check_redis_url`).
    """

    def __init__(
        self, url: str, *, prefix: str = "handlerkit:", socket_timeout: float = 0.1
    ) -> None:
        self.topology = parse_redis_url(url)
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

        timeouts: dict[str, Any] = {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_timeout,
        }
        # Bounded latency: no retries, so an unreachable node costs one timeout.
        options = {**timeouts, "retry": Retry(NoBackoff(), 0), "health_check_interval": 0}
        topology = self.topology
        if topology.kind == "sentinel":
            from redis.sentinel import Sentinel

            sentinels = Sentinel(
                list(topology.nodes),
                sentinel_kwargs={**timeouts, **topology.sentinel_auth()},
                **options,
                **topology.client_options(),
            )
            return cast("redis.Redis", sentinels.master_for(topology.service or ""))
        if topology.kind == "cluster":
            from redis.cluster import ClusterNode, RedisCluster

            nodes = [ClusterNode(host, port) for host, port in topology.nodes]  # type: ignore[no-untyped-call]
            cluster: Any = RedisCluster(
                startup_nodes=nodes,
                require_full_coverage=False,
                **options,
                **cluster_retry_options(),
                **topology.client_options(),
            )
            return cast("redis.Redis", cluster)  # every command the store sends, by key
        return redis.Redis.from_url(self.url, **options)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        import redis
        from redis.exceptions import RedisClusterException

        try:
            return getattr(self.client, name)(*args, **kwargs)
        except (redis.RedisError, RedisClusterException, OSError) as exc:
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


_DEFAULT_PORTS = {"sentinel": 26379, "cluster": 6379}
#: Query options each topology accepts, beyond the credentials in the URL.
_TOPOLOGY_OPTIONS = {
    "sentinel": {"db", "sentinel_password", "sentinel_username", "ssl", "ssl_cert_reqs", "ssl_ca_certs"},
    "cluster": {"ssl", "ssl_cert_reqs", "ssl_ca_certs"},
}
_SSL_CERT_REQS = {"none", "optional", "required"}


@dataclass(frozen=True)
class RedisTopology:
    """What a Redis URL names: one server, a Sentinel-managed primary or a cluster.

    Attributes:
        kind: ``"single"``, ``"sentinel"`` or ``"cluster"``.
        nodes: The sentinels' or the cluster's seed nodes, ``(host, port)``
            (empty for ``"single"``: redis-py reads that URL itself).
        service: The Sentinel service (the primary's name), or ``None``.
        username: For the Redis servers, from the URL's user part.
        password: For the Redis servers, from the URL's password part.
        options: The URL's query options, checked against the topology's list.
    """

    kind: str
    nodes: tuple[tuple[str, int], ...] = ()
    service: str | None = None
    username: str | None = None
    password: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for the redis-py connections to the data servers."""
        found: dict[str, Any] = {}
        if self.username:
            found["username"] = self.username
        if self.password:
            found["password"] = self.password
        if "db" in self.options:
            found["db"] = int(self.options["db"])
        if self.options.get("ssl", "").lower() in ("1", "true", "yes"):
            found["ssl"] = True
            for name in ("ssl_cert_reqs", "ssl_ca_certs"):
                if name in self.options:
                    found[name] = self.options[name]
        return found

    def sentinel_auth(self) -> dict[str, Any]:
        """Keyword arguments for the connections to the sentinels themselves.

        The URL's credentials, as ``limits`` uses them, unless ``sentinel_username``
        or ``sentinel_password`` name the sentinels' own.
        """
        found: dict[str, Any] = {}
        if self.username:
            found["username"] = self.username
        if self.password:
            found["password"] = self.password
        if "sentinel_username" in self.options:
            found["username"] = self.options["sentinel_username"]
        if "sentinel_password" in self.options:
            found["password"] = self.options["sentinel_password"]
        return found


def cluster_retry_options() -> dict[str, Any]:
    """``RedisCluster`` arguments for no retries beyond its ``retry`` object's (none).

    redis-py 5 retries cluster errors ``cluster_error_retry_attempts`` times (3)
    whatever ``retry`` says; redis-py 6 deprecated that argument for ``retry``.
    """
    import redis

    return {"cluster_error_retry_attempts": 0} if int(redis.__version__.split(".")[0]) < 6 else {}


def parse_redis_url(url: str) -> RedisTopology:
    """Read and check a Redis URL at startup, naming what is wrong with it.

    * ``redis://``, ``rediss://``, ``unix://`` (and ``limits``' ``redis+unix://``):
      one server, checked by :func:`check_redis_url`.
    * ``redis+sentinel://[user:password@]host:port[,host:port...]/SERVICE``:
      the primary that the sentinels name *SERVICE*, found through redis-py's
      ``Sentinel`` and found again after a failover. Options: ``db``,
      ``sentinel_username``, ``sentinel_password`` (the sentinels' own
      credentials), ``ssl=true`` with ``ssl_cert_reqs`` and ``ssl_ca_certs``.
    * ``redis+cluster://[user:password@]host:port[,host:port...]``: Redis
      Cluster through redis-py's ``RedisCluster`` (the nodes are seeds; the
      rest are discovered). Options: ``ssl=true``, ``ssl_cert_reqs``, ``ssl_ca_certs``.

    Ports default to 26379 for sentinels and 6379 for cluster nodes.

    Raises:
        ValueError: Naming the problem (an unknown option, a missing service
            name, a bad port ...), with the credentials masked.
    """
    scheme, _, rest = url.partition("://")
    kind = {"redis+sentinel": "sentinel", "redis+cluster": "cluster"}.get(scheme.lower())
    if kind is None:
        check_redis_url(url)
        return RedisTopology("single")
    shown = redact_url(url)
    rest, _, query = rest.partition("?")
    hosts, _, path = rest.partition("/")
    username = password = None
    if "@" in hosts:
        userinfo, _, hosts = hosts.rpartition("@")
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    nodes = []
    for part in hosts.split(","):
        host, port = _host_port(part.strip(), _DEFAULT_PORTS[kind], shown)
        nodes.append((host, port))
    service = unquote(path.strip("/")) or None
    if kind == "sentinel" and service is None:
        raise ValueError(
            f"Redis URL {shown!r} names no Sentinel service: put the primary's name after the"
            " hosts, as in redis+sentinel://host:26379,host:26380/mymaster"
        )
    if kind == "cluster" and path.strip("/") not in ("", "0"):
        raise ValueError(f"Redis URL {shown!r}: Redis Cluster has only database 0, not {path!r}")
    options: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in _TOPOLOGY_OPTIONS[kind]:
            known = ", ".join(sorted(_TOPOLOGY_OPTIONS[kind]))
            raise ValueError(f"Redis URL {shown!r}: option {name!r} is not valid for {scheme} (known: {known})")
        options[name] = value
    if "db" in options and not options["db"].isdigit():
        raise ValueError(f"Redis URL {shown!r}: db must be a number, not {options['db']!r}")
    if options.get("ssl_cert_reqs", "required").lower() not in _SSL_CERT_REQS:
        raise ValueError(f"Redis URL {shown!r}: ssl_cert_reqs must be none, optional or required")
    return RedisTopology(kind, tuple(nodes), service if kind == "sentinel" else None, username, password, options)


def _host_port(part: str, default: int, shown: str) -> tuple[str, int]:
    if part.startswith("["):  # [::1]:7000
        host, _, tail = part[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = part.partition(":")
    if not host:
        raise ValueError(f"Redis URL {shown!r} has an empty host in its host list")
    if not port_text:
        return host, default
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"Redis URL {shown!r}: {port_text!r} is not a port")
    return host, int(port_text)


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
            ``rediss://``, ``unix://``, ``redis+sentinel://`` or
            ``redis+cluster://`` URL for a :class:`RedisStore` (:func:`parse_redis_url`).
        **options: Passed to the store's constructor (``max_entries``,
            ``prefix``, ``socket_timeout``).

    Raises:
        ValueError: The URL scheme is not supported, or the Redis URL is not
            valid (:func:`check_redis_url`).
    """
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        return MemoryStore(**options)
    if scheme in ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster"):
        return RedisStore(url, **options)
    raise ValueError(
        f"unsupported store URL scheme {scheme!r}; use memory://, redis://, rediss://,"
        " redis+sentinel:// or redis+cluster://"
    )


def resolve_store(store: Store | str | None) -> Store:
    """Return *store*, a store built from a URL, or a new :class:`MemoryStore` for ``None``."""
    if store is None:
        return MemoryStore()
    if isinstance(store, str):
        return store_from_url(store)
    return store
