"""with_rate_limit: counting requests per key with ``limits`` and refusing the excess with 429.

Three strategies, named as ``limits`` names them:

- ``"fixed-window"``: a counter per key that starts at the first hit and
  expires after *window* seconds. Cheapest; allows up to 2 × *limit* across a
  window boundary.
- ``"moving-window"``: a log of hit times per key; exact over any *window*-long
  span. Costs memory per hit.
- ``"sliding-window"``: the current and previous fixed windows, weighted;
  an approximation of the moving window at the cost of the fixed one.

The storage is ``memory://`` (the default: counters live **in each worker
process**, so with N gunicorn workers a client may get up to N × *limit*) or a
``redis://`` URL shared by every worker and host. Storage and limiter are built
lazily, once per process (after gunicorn forks), never per request.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

from ..context import RouteContext
from ..direct import respond
from ..errors import ApiError
from ..handlers import adapt_inner, mark_wrapper
from ..response import set_headers
from ..stores import FORKS, cluster_retry_options, parse_redis_url, redact_url
from ..typing import RouteHandler

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.strategies import RateLimiter

    from ..request import NextRequest

__all__ = ["STRATEGIES", "with_rate_limit"]

logger = logging.getLogger("handlerkit.rate_limit")

#: Strategy name -> ``limits.strategies`` class name.
STRATEGIES = {
    "fixed-window": "FixedWindowRateLimiter",
    "moving-window": "MovingWindowRateLimiter",
    "sliding-window": "SlidingWindowCounterRateLimiter",
}

_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")

#: Keys longer than this are hashed before they reach the storage.
MAX_KEY_LENGTH = 200

#: How often (seconds) a process logs that its rate-limit storage is failing.
_WARN_EVERY = 10.0

KeyFunc = Callable[["NextRequest", RouteContext], str]


def default_key(request: NextRequest, context: RouteContext) -> str:
    """Return the client IP (``request.ip``, trusted proxies only) and the route pattern."""
    return f"{request.ip or 'unknown'}|{context.route or request.path}"


class _MemoryWindows:
    """Per-bucket rate-limit state in this process's memory, bounded by the window.

    The arithmetic of each strategy is the one ``limits`` uses, so the
    headers read the same with ``memory://`` and Redis. Buckets whose state
    has expired are dropped when a new bucket appears, at most once per
    *window*, so a flood of distinct keys (BAD_INPUTS H5) costs memory for
    about one window and no thread ever runs.
    """

    # PERF: limits' MemoryStorage needed a hit() and a get_window_stats() call,
    # each taking a per-key lock, and started a Timer thread every 10 ms under
    # load; a dict per wrapper took with_rate_limit from 35.3 to 8.3 µs per
    # request (benchmarks/wrappers.py, in benchmarks/results/2026-11-21.md;
    # Headers work included). It also fixes
    # limits' moving window keeping every key ever seen (as an empty list).

    def __init__(self, limit: int, window: int) -> None:
        self.limit = limit
        self.window = window
        self.buckets: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def hit(self, bucket: str) -> tuple[bool, int, float]:
        """Count one request; return (allowed, remaining, when the window resets)."""
        now = time.time()
        with self._lock:
            state = self.buckets.get(bucket)
            if state is None:
                if now >= self._next_sweep:
                    buckets = self.buckets
                    for stale in [b for b, v in buckets.items() if self._expired(v, now)]:
                        del buckets[stale]
                    self._next_sweep = now + self.window
                state = self.buckets[bucket] = self._new(now)
            return self._hit(state, now)

    def _new(self, now: float) -> Any:
        raise NotImplementedError

    def _expired(self, state: Any, now: float) -> bool:
        raise NotImplementedError

    def _hit(self, state: Any, now: float) -> tuple[bool, int, float]:
        raise NotImplementedError


class _FixedWindowMemory(_MemoryWindows):
    """A counter that starts at a bucket's first hit and ends *window* seconds later.

    Every hit counts, refused ones too (as in ``limits``).
    """

    def _new(self, now: float) -> list[float]:
        return [0, now + self.window]  # count, end of the window

    def _expired(self, state: list[float], now: float) -> bool:
        return state[1] <= now

    def _hit(self, state: list[float], now: float) -> tuple[bool, int, float]:
        if state[1] <= now:
            state[0], state[1] = 0, now + self.window
        state[0] += 1
        count = int(state[0])
        return count <= self.limit, max(0, self.limit - count), state[1]


class _MovingWindowMemory(_MemoryWindows):
    """The times of the allowed hits of the last *window* seconds; exact, one float per hit."""

    def _new(self, now: float) -> deque[float]:
        return deque()

    def _expired(self, state: deque[float], now: float) -> bool:
        return not state or state[-1] < now - self.window

    def _hit(self, state: deque[float], now: float) -> tuple[bool, int, float]:
        start = now - self.window
        while state and state[0] < start:
            state.popleft()
        allowed = len(state) < self.limit
        if allowed:
            state.append(now)
        return allowed, self.limit - len(state), state[0] + self.window


class _SlidingWindowMemory(_MemoryWindows):
    """Clock-aligned windows; the previous one's count weighted by how much of it still overlaps."""

    def _new(self, now: float) -> list[int]:
        return [int(now / self.window), 0, 0]  # window index, current count, previous count

    def _expired(self, state: list[int], now: float) -> bool:
        return state[0] < int(now / self.window) - 1

    def _hit(self, state: list[int], now: float) -> tuple[bool, int, float]:
        window = self.window
        index = int(now / window)
        if state[0] != index:
            state[2] = state[1] if state[0] == index - 1 else 0
            state[0], state[1] = index, 0
        # limits' own float expressions, so both stores agree to the last bit.
        previous_expires_in = (1 - (((now - window) / window) % 1)) * window if state[2] else 0.0
        weighted = state[2] * previous_expires_in / window + state[1]
        allowed = math.floor(weighted) + 1 <= self.limit
        if allowed:
            state[1] += 1
            weighted += 1
        remaining = max(0, self.limit - math.floor(weighted))
        # When the weighted count next drops by one, as limits reports it.
        reset_in = math.inf
        if state[2]:
            reset_in = previous_expires_in % (window / state[2])
        if state[1]:
            reset_in = min(reset_in, ((1 - ((now / window) % 1)) * window + window) % window)
        return allowed, remaining, now + (reset_in if reset_in != math.inf else 0)


_MEMORY = {
    "fixed-window": _FixedWindowMemory,
    "moving-window": _MovingWindowMemory,
    "sliding-window": _SlidingWindowMemory,
}


class _LimitsLimiter:
    """A ``limits`` strategy over its storage (Redis, or memory for the window logs)."""

    def __init__(self, limiter: RateLimiter, item: RateLimitItem) -> None:
        self.limiter = limiter
        self.item = item

    def hit(self, bucket: str) -> tuple[bool, int, float]:
        """Count one request; return (allowed, remaining, when the window resets)."""
        allowed = self.limiter.hit(self.item, bucket)
        stats = self.limiter.get_window_stats(self.item, bucket)
        return allowed, stats.remaining, stats.reset_time


class _Limiter:
    """The per-process storage and limiter behind one ``with_rate_limit`` use."""

    def __init__(
        self, storage: str, strategy: str, socket_timeout: float, limit: int, window: int
    ) -> None:
        self.storage_url = storage
        self.strategy = strategy
        self.socket_timeout = socket_timeout
        self.limit = limit
        self.window = window
        self._forks = 0
        self._limiter: _MemoryWindows | _LimitsLimiter | None = None
        self._lock = threading.Lock()
        self._last_warning = -math.inf
        self.errors: tuple[type[BaseException], ...] = (OSError,)

    def get(self) -> _MemoryWindows | _LimitsLimiter:
        limiter = self._limiter
        if limiter is None or self._forks != FORKS[0]:
            with self._lock:
                if self._limiter is None or self._forks != FORKS[0]:
                    self._limiter = self._build()
                    self._forks = FORKS[0]
                limiter = self._limiter
        return limiter

    def _build(self) -> _MemoryWindows | _LimitsLimiter:
        memory = self.storage_url.partition("://")[0].lower() == "memory"
        if memory:
            return _MEMORY[self.strategy](self.limit, self.window)

        import redis
        from limits import RateLimitItemPerSecond, strategies
        from limits.errors import StorageError
        from limits.storage import storage_from_string
        from redis.backoff import NoBackoff
        from redis.exceptions import RedisClusterException
        from redis.retry import Retry

        # Short socket timeouts and no retries: a hung Redis costs about
        # socket_timeout per request, not redis-py's default of seconds.
        options: dict[str, Any] = {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_timeout,
            "retry": Retry(NoBackoff(), 0),
            "health_check_interval": 0,
        }
        # limits reads only the hosts, service and credentials of a topology URL; the
        # options handlerkit accepts in its query (db, ssl ...) are passed on here.
        topology = parse_redis_url(self.storage_url)
        if topology.kind == "sentinel":
            # Count on the primary only: a replica's answer may lag behind it.
            options["use_replicas"] = False
            options["sentinel_kwargs"] = {
                "socket_timeout": self.socket_timeout,
                "socket_connect_timeout": self.socket_timeout,
                **topology.sentinel_auth(),
            }
        elif topology.kind == "cluster":
            options.update(cluster_retry_options())
        options.update(topology.client_options())
        storage = storage_from_string(self.storage_url, wrap_exceptions=True, **options)
        self.errors = (OSError, StorageError, redis.RedisError, RedisClusterException)
        limiter_class = getattr(strategies, STRATEGIES[self.strategy])
        item = RateLimitItemPerSecond(self.limit, self.window)
        return _LimitsLimiter(limiter_class(storage), item)

    def warn(self) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY:
            self._last_warning = now
            logger.warning(
                "rate-limit storage %s is unavailable; applying on_storage_error",
                redact_url(self.storage_url),
                exc_info=True,
            )


@overload
def with_rate_limit(handler: Callable[..., Any], /) -> RouteHandler: ...


@overload
def with_rate_limit(
    handler: None = None,
    /,
    *,
    limit: int = ...,
    window: int = ...,
    strategy: Literal["fixed-window", "moving-window", "sliding-window"] = ...,
    key: KeyFunc | None = ...,
    storage: str = ...,
    on_storage_error: Literal["open", "closed"] = ...,
    socket_timeout: float = ...,
) -> Callable[[Callable[..., Any]], RouteHandler]: ...


def with_rate_limit(
    handler: Callable[..., Any] | None = None,
    /,
    *,
    limit: int = 60,
    window: int = 60,
    strategy: Literal["fixed-window", "moving-window", "sliding-window"] = "fixed-window",
    key: KeyFunc | None = None,
    storage: str = "memory://",
    on_storage_error: Literal["open", "closed"] = "open",
    socket_timeout: float = 0.1,
) -> RouteHandler | Callable[[Callable[..., Any]], RouteHandler]:
    """Allow *limit* requests per *window* seconds per key; answer the excess with 429.

    Works bare (``@with_rate_limit``: 60 requests per minute per client IP and
    route) and configured (``with_rate_limit(limit=5, window=60)``).

    Every response, including 2xx, carries ``X-RateLimit-Limit``,
    ``X-RateLimit-Remaining`` (never negative) and ``X-RateLimit-Reset``
    (whole seconds until the window resets). A refused request gets a 429 in
    the JSON error shape with an integer ``Retry-After`` of at least 1.

    When the storage fails (Redis refusing, or silent past *socket_timeout*):
    ``on_storage_error="open"`` lets the request through with
    ``X-RateLimit-Status: unavailable`` and a throttled warning on the
    ``handlerkit.rate_limit`` logger; ``"closed"`` answers 503
    ``rate_limit_unavailable``. Never a 500.

    Args:
        handler: The handler, when used bare.
        limit: Requests allowed per window (at least 1).
        window: The window in whole seconds (at least 1).
        strategy: ``"fixed-window"``, ``"moving-window"`` or ``"sliding-window"``.
        key: ``(request, context) -> str`` naming the bucket; defaults to the
            client IP (``request.ip``, which honours only the App's trusted
            proxies) plus the route pattern. Long keys are hashed.
        storage: ``"memory://"`` (per process) or a ``redis://`` URL (shared).
            Options ``limits`` understands may be added to the URL.
        on_storage_error: ``"open"`` or ``"closed"``.
        socket_timeout: Redis connect and reply timeout in seconds.

    Raises:
        ValueError: At configuration time, for a bad limit, window, strategy,
            storage URL or policy.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError("with_rate_limit: limit must be an integer >= 1")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError("with_rate_limit: window must be a whole number of seconds >= 1")
    if strategy not in STRATEGIES:
        raise ValueError(f"with_rate_limit: strategy must be one of {sorted(STRATEGIES)}")
    if on_storage_error not in ("open", "closed"):
        raise ValueError('with_rate_limit: on_storage_error must be "open" or "closed"')
    if storage.partition("://")[0].lower() not in _SCHEMES or "://" not in storage:
        raise ValueError(
            'with_rate_limit: storage must be "memory://" or a redis://, rediss://,'
            " redis+sentinel:// or redis+cluster:// URL"
        )
    if not storage.lower().startswith("memory://"):
        parse_redis_url(storage)
    if key is not None and not callable(key):
        raise ValueError("with_rate_limit: key must be a callable (request, context) -> str")
    key_func = key or default_key
    fail_open = on_storage_error == "open"
    holder = _Limiter(storage, strategy, socket_timeout, limit, window)
    limit_header = str(limit)

    def decorate(inner: Callable[..., Any]) -> RouteHandler:
        call = adapt_inner(inner)

        @functools.wraps(inner)
        def wrapped(request: NextRequest, context: RouteContext | None = None) -> Any:
            if context is None:  # called directly: answer as the App would
                return respond(wrapped, request)
            bucket = key_func(request, context)
            if not isinstance(bucket, str):
                bucket = str(bucket)
            if len(bucket) > MAX_KEY_LENGTH or not bucket.isprintable():
                bucket = hashlib.sha256(bucket.encode("utf-8", "surrogatepass")).hexdigest()
            try:
                allowed, remaining, reset_at = holder.get().hit(bucket)
            except holder.errors:
                holder.warn()
                if not fail_open:
                    raise ApiError(
                        503,
                        "rate_limit_unavailable",
                        "The rate limiter is unavailable; try again shortly.",
                        headers=[("Retry-After", "1"), ("X-RateLimit-Limit", limit_header)],
                    ) from None
                headers = [
                    ("X-RateLimit-Limit", limit_header),
                    ("X-RateLimit-Status", "unavailable"),
                ]
            else:
                reset = max(0, math.ceil(reset_at - time.time()))
                headers = [
                    ("X-RateLimit-Limit", limit_header),
                    ("X-RateLimit-Remaining", str(max(0, min(limit, remaining)))),
                    ("X-RateLimit-Reset", str(reset)),
                ]
                if not allowed:
                    retry_after = str(max(1, reset))
                    raise ApiError(
                        429,
                        "rate_limited",
                        f"Too many requests; retry after {retry_after} seconds.",
                        headers=[("Retry-After", retry_after), *headers],
                    )
            try:
                result = call(request, context)
            except ApiError as exc:
                exc.headers.extend(headers)
                raise
            response_headers = getattr(result, "headers", None)
            if response_headers is None:
                return result
            set_headers(response_headers, headers)  # an inner limiter's figures are replaced
            return result

        return mark_wrapper(
            wrapped,
            "with_rate_limit",
            limit=limit,
            window=window,
            strategy=strategy,
            storage=redact_url(storage),
            on_storage_error=on_storage_error,
            state=holder,
        )

    if handler is not None:
        return decorate(handler)
    return decorate
