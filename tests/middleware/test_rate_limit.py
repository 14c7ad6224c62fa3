"""with_rate_limit in-process: strategies, headers, keys, storage failures, configuration errors."""

from __future__ import annotations

import json
import multiprocessing
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from handlerkit import App, NextRequest, NextResponse, RouteContext
from handlerkit.errors import ApiError
from handlerkit.handlers import WRAPPER_ATTRIBUTE
from handlerkit.middleware.rate_limit import STRATEGIES, _Limiter, with_rate_limit
from handlerkit.testing import Client
from tests.support.servers import free_port

ALL_STRATEGIES = sorted(STRATEGIES)


def request_from(ip: str = "10.0.0.1", path: str = "/x", **headers: str) -> NextRequest:
    environ = EnvironBuilder(
        path=path, headers=headers, environ_base={"REMOTE_ADDR": ip}
    ).get_environ()
    return NextRequest(environ)


def ok(request: NextRequest) -> NextResponse:
    return NextResponse.json({"ok": True})


def call(
    handler: Callable[..., Any], request: NextRequest, context: RouteContext | None = None
) -> Any:
    """Call *handler*; turn a raised ApiError into its response as the App would."""
    try:
        return handler(request, context or RouteContext(route="/x"))
    except ApiError as exc:
        return NextResponse.from_error(exc)


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    # generous timeouts: these tests are about behaviour, not a slow CI machine
    return str(request.getfixturevalue("redis_url")) + "?socket_timeout=2&socket_connect_timeout=2"


# -- direct calls ----------------------------------------------------------------


def test_bare_form_allows_60_per_minute_and_sets_headers() -> None:
    handler = with_rate_limit(ok)
    response = call(handler, request_from())
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "60"
    assert response.headers["X-RateLimit-Remaining"] == "59"
    assert 1 <= int(response.headers["X-RateLimit-Reset"]) <= 60
    assert handler.__wrapped__ is ok  # type: ignore[attr-defined]


def test_context_defaults_when_called_with_request_only() -> None:
    handler = with_rate_limit(limit=1, window=60)(ok)
    assert handler(request_from()).status_code == 200  # type: ignore[call-arg, union-attr]


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_exactly_limit_requests_are_allowed(strategy: str, storage: str) -> None:
    handler = with_rate_limit(limit=5, window=60, strategy=strategy, storage=storage)(ok)  # type: ignore[arg-type]
    statuses = [call(handler, request_from()).status_code for _ in range(12)]
    assert statuses == [200] * 5 + [429] * 7


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_429_has_json_shape_retry_after_and_headers(strategy: str, storage: str) -> None:
    """BAD_INPUTS H3."""
    handler = with_rate_limit(limit=2, window=30, strategy=strategy, storage=storage)(ok)  # type: ignore[arg-type]
    call(handler, request_from())
    call(handler, request_from())
    response = call(handler, request_from())
    assert response.status_code == 429
    assert response.content_type == "application/json"
    body = json.loads(response.get_data())
    assert body["error"] == "rate_limited"
    assert set(body) <= {"error", "message", "details"}
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 30
    assert response.headers["X-RateLimit-Limit"] == "2"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Reset"].isdigit()


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_remaining_stays_between_zero_and_limit(strategy: str, storage: str) -> None:
    """BAD_INPUTS H3: Remaining counts down and never goes negative."""
    handler = with_rate_limit(limit=4, window=60, strategy=strategy, storage=storage)(ok)  # type: ignore[arg-type]
    seen = []
    for _ in range(10):
        response = call(handler, request_from())
        remaining = int(response.headers["X-RateLimit-Remaining"])
        assert 0 <= remaining <= 4
        assert int(response.headers["X-RateLimit-Limit"]) == 4
        assert int(response.headers["X-RateLimit-Reset"]) >= 0
        seen.append(remaining)
    assert seen == [3, 2, 1, 0, 0, 0, 0, 0, 0, 0]


def test_default_key_is_client_ip_plus_route() -> None:
    handler = with_rate_limit(limit=1, window=60)(ok)
    assert call(handler, request_from("10.0.0.1"), RouteContext(route="/a")).status_code == 200
    assert call(handler, request_from("10.0.0.1"), RouteContext(route="/a")).status_code == 429
    assert call(handler, request_from("10.0.0.2"), RouteContext(route="/a")).status_code == 200
    assert call(handler, request_from("10.0.0.1"), RouteContext(route="/b")).status_code == 200


def test_custom_key_callable() -> None:
    handler = with_rate_limit(
        limit=1, window=60, key=lambda request, context: request.headers.get("X-Api-Key", "")
    )(ok)
    assert call(handler, request_from("1.1.1.1", **{"X-Api-Key": "k1"})).status_code == 200
    assert call(handler, request_from("2.2.2.2", **{"X-Api-Key": "k1"})).status_code == 429
    assert call(handler, request_from("1.1.1.1", **{"X-Api-Key": "k2"})).status_code == 200


@pytest.mark.parametrize("hostile", ["x" * 10_000, "a\r\nb", "\x00\x01", "é" * 300])
def test_long_or_unprintable_keys_are_hashed_and_still_limited(hostile: str, storage: str) -> None:
    handler = with_rate_limit(
        limit=1, window=60, storage=storage, key=lambda request, context: hostile
    )(ok)
    assert call(handler, request_from()).status_code == 200
    assert call(handler, request_from()).status_code == 429


def test_headers_are_added_to_errors_raised_by_the_handler() -> None:
    def missing(request: NextRequest) -> NextResponse:
        raise ApiError(404, "not_found", "No such thing.")

    handler = with_rate_limit(limit=3, window=60)(missing)
    with pytest.raises(ApiError) as info:
        handler(request_from(), RouteContext(route="/x"))
    headers = dict(info.value.headers)
    assert headers["X-RateLimit-Limit"] == "3"
    assert headers["X-RateLimit-Remaining"] == "2"


def test_dict_results_become_json_responses_with_headers() -> None:
    handler = with_rate_limit(limit=3, window=60)(lambda: {"a": 1})
    response = handler(request_from(), RouteContext())
    assert isinstance(response, NextResponse)
    assert response.json() == {"a": 1}
    assert response.headers["X-RateLimit-Remaining"] == "2"


def test_limiter_is_built_once_per_process_not_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    builds = []
    original = _Limiter._build

    def counting(self: _Limiter) -> Any:
        builds.append(self)
        return original(self)

    monkeypatch.setattr(_Limiter, "_build", counting)
    handler = with_rate_limit(limit=100, window=60)(ok)
    assert builds == []  # nothing is built at wrap time
    for _ in range(20):
        call(handler, request_from())
    assert len(builds) == 1


def _child_hits(holder: _Limiter, queue: Any) -> None:
    inherited = id(holder._limiter)
    queue.put((inherited, id(holder.get()), holder.get().hit("k")))


def test_a_forked_worker_builds_its_own_limiter() -> None:
    # gunicorn --preload forks workers from a master that may already hold the
    # limiter: each worker must count alone (and reconnect, for Redis).
    holder = _Limiter("memory://", "fixed-window", 0.1, 5, 60)
    parent = holder.get()
    for _ in range(4):
        parent.hit("k")
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_hits, args=(holder, queue))
    proc.start()
    try:
        inherited, rebuilt, (allowed, remaining, _) = queue.get(timeout=10)
    finally:
        proc.join(10)
    assert proc.exitcode == 0
    assert inherited == id(parent) and rebuilt != inherited
    assert (allowed, remaining) == (True, 4)  # a fresh count: the parent's four hits stay behind
    assert holder.get() is parent and parent.hit("k")[1] == 0


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_memory_state_is_bounded_by_the_window(strategy: str) -> None:
    """BAD_INPUTS H5 for every strategy: flooded keys are gone one window later, no thread needed."""
    import threading
    import time

    threads = threading.active_count()
    handler = with_rate_limit(
        limit=1, window=1, strategy=strategy, key=lambda request, context: uuid.uuid4().hex  # type: ignore[arg-type]
    )(ok)
    for _ in range(200):
        assert call(handler, request_from()).status_code == 200
    buckets = getattr(handler, WRAPPER_ATTRIBUTE)["state"].get().buckets
    assert 0 < len(buckets) <= 200
    assert threading.active_count() == threads
    time.sleep(2.1)  # past the sliding window's previous window too
    call(handler, request_from())
    assert len(buckets) == 1


def test_a_fixed_window_refuses_until_it_resets(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    now = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    handler = with_rate_limit(limit=2, window=10)(ok)
    assert [call(handler, request_from()).status_code for _ in range(3)] == [200, 200, 429]
    now[0] += 9.5
    refused = call(handler, request_from())
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.headers["X-RateLimit-Reset"] == "1"
    now[0] += 0.5  # the window that began at the first hit is over
    response = call(handler, request_from())
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "1"
    assert response.headers["X-RateLimit-Reset"] == "10"


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_redis_refusing_fails_open_with_a_marker_header(strategy: str) -> None:
    """BAD_INPUTS H4, fail open."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    handler = with_rate_limit(limit=1, window=60, strategy=strategy, storage=url)(ok)  # type: ignore[arg-type]
    for _ in range(3):
        response = call(handler, request_from())
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Status"] == "unavailable"
        assert response.headers["X-RateLimit-Limit"] == "1"
        assert "X-RateLimit-Remaining" not in response.headers


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_redis_refusing_fails_closed_with_503(
    strategy: str, caplog: pytest.LogCaptureFixture
) -> None:
    """BAD_INPUTS H4, fail closed."""
    url = f"redis://user:pw-secret@127.0.0.1:{free_port()}/0"
    handler = with_rate_limit(
        limit=1, window=60, strategy=strategy, storage=url, on_storage_error="closed"
    )(ok)  # type: ignore[arg-type]
    response = call(handler, request_from())
    assert response.status_code == 503
    body = json.loads(response.get_data())
    assert body["error"] == "rate_limit_unavailable"
    assert response.headers["Retry-After"] == "1"
    assert "pw-secret" not in response.get_data(as_text=True)
    assert "pw-secret" not in caplog.text
    assert any("rate-limit storage" in r.getMessage() for r in caplog.records)


def test_a_query_string_password_is_redacted_in_logs_and_labels(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Regression: ?password=/?username= (honoured by redis-py) leaked into logs and labels."""
    url = f"redis://127.0.0.1:{free_port()}/0?username=bob-secret&password=pw-secret"
    handler = with_rate_limit(limit=1, window=60, storage=url)(ok)  # type: ignore[arg-type]
    response = call(handler, request_from())
    assert response.status_code == 200  # fails open
    assert "pw-secret" not in caplog.text and "bob-secret" not in caplog.text
    assert any("password=***" in r.getMessage() for r in caplog.records)
    label = getattr(handler, WRAPPER_ATTRIBUTE)
    assert label["storage"].endswith("/0?username=***&password=***")
    assert "pw-secret" not in repr({k: v for k, v in label.items() if k != "state"})


@pytest.mark.parametrize(
    "options, message",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 2.5}, "limit"),
        ({"limit": True}, "limit"),
        ({"window": 0}, "window"),
        ({"window": 0.5}, "window"),
        ({"strategy": "token-bucket"}, "strategy"),
        ({"on_storage_error": "maybe"}, "on_storage_error"),
        ({"storage": "memcached://x"}, "storage"),
        ({"storage": "redis"}, "storage"),
        ({"key": "ip"}, "key"),
    ],
)
def test_bad_configuration_fails_at_wrap_time(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        with_rate_limit(**options)


# -- through an App --------------------------------------------------------------

ROUTE = """
from handlerkit import NextResponse, with_rate_limit

@with_rate_limit(limit=2, window=60, strategy={strategy!r})
def GET(request):
    return NextResponse.json({{"ok": True}})
"""


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_through_an_app(make_app: Callable[..., App], strategy: str) -> None:
    client = Client(make_app({"limited/route.py": ROUTE.format(strategy=strategy)}))
    responses = [client.get("/limited") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["1", "0", "0"]
    assert responses[2].json()["error"] == "rate_limited"
    assert int(responses[2].headers["Retry-After"]) >= 1


def test_spoofed_forwarded_for_is_ignored_without_trusted_proxies(
    make_app: Callable[..., App],
) -> None:
    client = Client(make_app({"limited/route.py": ROUTE.format(strategy="fixed-window")}))
    statuses = [
        client.get("/limited", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_forwarded_for_is_the_key_behind_a_trusted_proxy(make_app: Callable[..., App]) -> None:
    client = Client(
        make_app({"limited/route.py": ROUTE.format(strategy="fixed-window")}, trusted_proxies=1)
    )
    statuses = [
        client.get("/limited", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 200]
    assert client.get("/limited", headers={"X-Forwarded-For": "203.0.113.0"}).status_code == 200
    assert client.get("/limited", headers={"X-Forwarded-For": "203.0.113.0"}).status_code == 429


def test_app_wide_wrap(make_app: Callable[..., App]) -> None:
    app = make_app(
        {
            "a/route.py": "def GET():\n    return {'a': 1}\n",
            "b/route.py": "def GET():\n    return {'b': 1}\n",
        },
        wrap=with_rate_limit(limit=1, window=60),
    )
    client = Client(app)
    assert client.get("/a").status_code == 200
    assert client.get("/b").status_code == 200  # the route pattern is part of the key
    assert client.get("/a").status_code == 429


def test_nested_limiters_send_one_set_of_headers_the_outer_ones() -> None:
    inner = with_rate_limit(limit=5, window=60, key=lambda request, context: "account")(ok)
    handler = with_rate_limit(limit=3, window=60)(inner)
    response = call(handler, request_from())
    assert response.headers.getlist("X-RateLimit-Limit") == ["3"]
    assert response.headers.getlist("X-RateLimit-Remaining") == ["2"]
    assert len(response.headers.getlist("X-RateLimit-Reset")) == 1


def test_a_sliding_window_refuses_at_the_exact_edge_as_limits_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At the first instant of a window the previous one still weighs in full."""
    import time

    from limits import RateLimitItemPerSecond
    from limits.storage import MemoryStorage
    from limits.strategies import SlidingWindowCounterRateLimiter

    from handlerkit.middleware.rate_limit import _SlidingWindowMemory

    now = [995.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    ours = _SlidingWindowMemory(1, 10)
    theirs = SlidingWindowCounterRateLimiter(MemoryStorage())
    item = RateLimitItemPerSecond(1, 10)
    for at in (995.0, 1000.0, 1004.0, 1005.5):
        now[0] = at
        allowed = theirs.hit(item, "k")
        stats = theirs.get_window_stats(item, "k")
        assert ours.hit("k") == (allowed, stats.remaining, pytest.approx(stats.reset_time))
    assert ours.buckets["k"][1:] == [1, 1]  # refused at 1000 and 1004, allowed at 1005.5
