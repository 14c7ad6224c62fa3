"""with_idempotency in-process: BAD_INPUTS L1-L5, scoping, what is stored, lock expiry."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from handlerkit import App, NextRequest, NextResponse, RouteContext
from handlerkit.errors import ApiError
from handlerkit.middleware.idempotency import default_scope, with_idempotency
from handlerkit.stores import MemoryStore, RedisStore, Store, StoreError
from handlerkit.testing import Client
from tests.support.servers import free_port

KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
    else:
        # generous timeouts: these tests are about behaviour, not a slow CI machine
        yield RedisStore(
            str(request.getfixturevalue("redis_url")) + "?socket_timeout=2&socket_connect_timeout=2"
        )


def post(
    payload: Any = None,
    key: str | None = KEY,
    *,
    ip: str = "10.0.0.1",
    method: str = "POST",
    path: str = "/orders",
) -> NextRequest:
    headers = {"Idempotency-Key": key} if key is not None else {}
    environ = EnvironBuilder(
        path=path,
        method=method,
        json=payload if payload is not None else {"item": "book"},
        headers=headers,
        environ_base={"REMOTE_ADDR": ip},
    ).get_environ()
    return NextRequest(environ)


def answer(
    handler: Callable[..., Any], request: NextRequest, context: RouteContext | None = None
) -> Any:
    """Call *handler* as the App would: a raised ApiError becomes its response."""
    try:
        return handler(request, context or RouteContext(route="/orders"))
    except ApiError as exc:
        return NextResponse.from_error(exc)


class Orders:
    """A handler with a side effect: every call creates an order."""

    def __init__(self) -> None:
        self.created: list[Any] = []

    def __call__(self, request: NextRequest) -> NextResponse:
        self.created.append(request.json())
        return NextResponse.json(
            {"order": len(self.created), **request.json()},
            status=201,
            headers={"Location": f"/orders/{len(self.created)}"},
        )


def body(response: Any) -> Any:
    if isinstance(response, dict):  # passed through as the handler returned it
        return response
    return json.loads(response.get_data())


# -- L1-L5 -----------------------------------------------------------------------


def test_missing_key_is_400(store: Store) -> None:
    """BAD_INPUTS L1."""
    orders = Orders()
    response = answer(with_idempotency(store=store)(orders), post(key=None))
    assert response.status_code == 400
    assert body(response)["error"] == "idempotency_key_missing"
    assert orders.created == []


def test_key_can_be_optional() -> None:
    orders = Orders()
    handler = with_idempotency(required=False)(orders)
    assert answer(handler, post(key=None)).status_code == 201
    assert answer(handler, post(key=None)).status_code == 201
    assert len(orders.created) == 2


def test_same_key_different_payload_is_422(store: Store) -> None:
    """BAD_INPUTS L2."""
    orders = Orders()
    handler = with_idempotency(store=store)(orders)
    assert answer(handler, post({"item": "book"})).status_code == 201
    response = answer(handler, post({"item": "lamp"}))
    assert response.status_code == 422
    assert body(response)["error"] == "idempotency_key_reused"
    assert len(orders.created) == 1
    # the path and query are part of the fingerprint too
    assert answer(handler, post({"item": "book"}, path="/orders?express=1")).status_code == 422


def test_same_key_while_in_flight_is_409(store: Store) -> None:
    """BAD_INPUTS L3: the second request arrives while the first is still running."""
    seen: list[Any] = []

    def slow(request: NextRequest, context: RouteContext) -> NextResponse:
        # A second, identical request arrives now, before this one answers.
        seen.append(answer(handler, post()))
        return NextResponse.json({"done": True}, status=201)

    handler = with_idempotency(store=store)(slow)
    first = answer(handler, post())
    assert first.status_code == 201
    (second,) = seen
    assert second.status_code == 409
    assert body(second)["error"] == "idempotency_key_in_flight"
    assert second.headers["Retry-After"] == "1"


def test_completed_key_replays_status_headers_and_body(store: Store) -> None:
    """BAD_INPUTS L4."""
    orders = Orders()
    handler = with_idempotency(store=store)(orders)
    first = answer(handler, post())
    replay = answer(handler, post())
    assert len(orders.created) == 1
    assert replay.status_code == first.status_code == 201
    assert replay.get_data() == first.get_data()
    assert body(replay) == {"order": 1, "item": "book"}
    assert replay.headers["Location"] == "/orders/1"
    assert replay.headers["Content-Type"] == "application/json"
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


@pytest.mark.parametrize(
    "key",
    [
        "k" * 10_000,
        "k" * 256,
        "",
        "   ",
        "a\r\nb",
        "a\nX-Injected: 1",
        "nul\x00",
        "tab\tkey",
        "ключ",
    ],
    ids=["10kB", "256", "empty", "blank", "crlf", "lf-header", "nul", "tab", "non-ascii"],
)
def test_malformed_keys_are_400_and_not_echoed(key: str, store: Store) -> None:
    """BAD_INPUTS L5."""
    orders = Orders()
    request = post()
    request.environ["HTTP_IDEMPOTENCY_KEY"] = key
    response = answer(with_idempotency(store=store)(orders), request)
    assert response.status_code == 400
    assert body(response)["error"] == "idempotency_key_invalid"
    if key.strip():
        assert key.strip() not in response.get_data(as_text=True)
    assert orders.created == []


def test_255_characters_is_the_longest_key() -> None:
    handler = with_idempotency(Orders())
    assert answer(handler, post(key="k" * 255)).status_code == 201


def test_quoted_structured_field_form_names_the_same_key() -> None:
    orders = Orders()
    handler = with_idempotency(orders)
    answer(handler, post(key=f'"{KEY}"'))
    assert answer(handler, post(key=KEY)).headers["Idempotent-Replayed"] == "true"
    assert len(orders.created) == 1


# -- scoping -----------------------------------------------------------------------


def test_keys_are_scoped_per_ip(store: Store) -> None:
    """BAD_INPUTS L5: the same key from another client is another operation."""
    orders = Orders()
    handler = with_idempotency(store=store)(orders)
    assert answer(handler, post(ip="10.0.0.1")).status_code == 201
    other = answer(handler, post({"item": "lamp"}, ip="10.0.0.2"))
    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other.headers
    assert len(orders.created) == 2


def test_keys_are_scoped_per_authenticated_user(store: Store) -> None:
    orders = Orders()
    handler = with_idempotency(store=store)(orders)
    alice = RouteContext(state={"user": {"sub": "alice"}})
    bob = RouteContext(state={"user": {"sub": "bob"}})
    assert answer(handler, post(ip="10.0.0.1"), alice).status_code == 201
    # alice from another IP: the same operation
    assert answer(handler, post(ip="10.9.9.9"), alice).headers["Idempotent-Replayed"] == "true"
    # bob from alice's IP: his own operation
    assert "Idempotent-Replayed" not in answer(handler, post(ip="10.0.0.1"), bob).headers
    assert len(orders.created) == 2


def test_default_scope() -> None:
    request = post(ip="10.1.2.3")
    assert default_scope(request, RouteContext()) == "ip:10.1.2.3"
    assert default_scope(request, RouteContext(state={"user": {"sub": "u1"}})) == "user:u1"
    assert default_scope(request, RouteContext(state={"user": {"id": 7}})) == "user:7"
    assert default_scope(request, RouteContext(state={"user": "carol"})) == "user:carol"
    hashed = default_scope(request, RouteContext(state={"user": {"roles": ["x"]}}))
    assert hashed.startswith("user#")


class _User:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def test_default_scope_of_an_object_user_uses_its_id_never_its_str() -> None:
    """Regression: str() of a User object embeds its address, so scopes drifted or collided."""
    request = post()
    for field in ("sub", "id", "user_id", "username"):
        one = default_scope(request, RouteContext(state={"user": _User(**{field: "alice"})}))
        other = default_scope(request, RouteContext(state={"user": _User(**{field: "alice"})}))
        assert one == other == "user:alice"
    assert default_scope(request, RouteContext(state={"user": 42})) == "user:42"
    with pytest.raises(TypeError, match="scope="):
        default_scope(request, RouteContext(state={"user": _User(name="alice")}))
    with pytest.raises(TypeError, match="scope="):
        default_scope(request, RouteContext(state={"user": True}))


def test_object_users_from_verify_are_scoped_by_id() -> None:
    from handlerkit import compose, with_auth

    charges: list[str] = []

    @compose(with_auth(verify=lambda token: _User(id=token)), with_idempotency())
    def pay(request: NextRequest, context: RouteContext) -> NextResponse:
        charges.append(context.state.user.id)
        return NextResponse.json({"charge": len(charges)}, status=201)

    def send(who: str) -> Any:
        request = post()
        request.environ["HTTP_AUTHORIZATION"] = "Bearer " + who
        return answer(pay, request)

    first = send("alice")
    # a retry by alice is replayed (a fresh User object each time)...
    for _ in range(3):
        again = send("alice")
        assert again.headers["Idempotent-Replayed"] == "true" and body(again) == body(first)
    # ...and bob with the same key and body never gets alice's answer
    bob = send("bob")
    assert "Idempotent-Replayed" not in bob.headers and body(bob) == {"charge": 2}
    assert charges == ["alice", "bob"]


def test_custom_scope() -> None:
    orders = Orders()
    handler = with_idempotency(scope=lambda request, context: request.headers.get("X-Tenant", ""))(
        orders
    )
    first = post()
    first.environ["HTTP_X_TENANT"] = "t1"
    second = post(ip="10.7.7.7")
    second.environ["HTTP_X_TENANT"] = "t1"
    answer(handler, first)
    assert answer(handler, second).headers["Idempotent-Replayed"] == "true"


# -- what is stored ------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_answers_are_not_stored_and_the_key_can_be_retried(status: int, store: Store) -> None:
    calls = itertools.count(1)

    def flaky(request: NextRequest) -> NextResponse:
        n = next(calls)
        return NextResponse.json({"n": n}, status=status if n == 1 else 201)

    handler = with_idempotency(store=store)(flaky)
    assert answer(handler, post()).status_code == status
    retry = answer(handler, post())
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry.headers
    assert answer(handler, post()).headers["Idempotent-Replayed"] == "true"


def test_unhandled_exception_releases_the_lock(store: Store) -> None:
    calls = itertools.count(1)

    def crashes_once(request: NextRequest) -> NextResponse:
        if next(calls) == 1:
            raise RuntimeError("boom")
        return NextResponse.json({"ok": True}, status=201)

    handler = with_idempotency(store=store)(crashes_once)
    with pytest.raises(RuntimeError):
        handler(post(), RouteContext())
    assert answer(handler, post()).status_code == 201


def test_4xx_api_errors_are_stored_and_replayed(store: Store) -> None:
    calls = itertools.count(1)

    def refuses(request: NextRequest) -> NextResponse:
        raise ApiError(404, "not_found", f"No such cart (call {next(calls)}).")

    handler = with_idempotency(store=store)(refuses)
    first = answer(handler, post())
    replay = answer(handler, post())
    assert first.status_code == replay.status_code == 404
    assert body(replay)["message"] == "No such cart (call 1)."
    assert replay.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("status", [408, 409, 425, 429])
def test_retryable_4xx_are_not_stored(status: int) -> None:
    calls = itertools.count(1)

    def busy(request: NextRequest) -> NextResponse:
        if next(calls) == 1:
            raise ApiError(status, "busy", "Try again.")
        return NextResponse.json({"ok": True}, status=201)

    handler = with_idempotency(busy)
    assert answer(handler, post()).status_code == status
    assert answer(handler, post()).status_code == 201


def test_set_cookie_is_not_replayed() -> None:
    def login(request: NextRequest) -> NextResponse:
        response = NextResponse.json({"ok": True})
        response.cookies.set("session", "s3cr3t")
        return response

    handler = with_idempotency(login)
    assert "Set-Cookie" in answer(handler, post()).headers
    replay = answer(handler, post())
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Set-Cookie" not in replay.headers


def test_streamed_answers_are_not_consumed_or_stored() -> None:
    calls = itertools.count(1)
    handler = with_idempotency(lambda: NextResponse(iter([b"n=", str(next(calls)).encode()])))
    first = answer(handler, post())
    assert first.is_streamed
    assert b"".join(first.response) == b"n=1"
    second = answer(handler, post())
    assert b"".join(second.response) == b"n=2"


def test_dict_results_are_stored() -> None:
    handler = with_idempotency(lambda: {"ok": 1})
    answer(handler, post())
    replay = answer(handler, post())
    assert body(replay) == {"ok": 1}
    assert replay.headers["Idempotent-Replayed"] == "true"


def test_other_methods_pass_through_without_a_key() -> None:
    calls = itertools.count(1)
    handler = with_idempotency(lambda: {"n": next(calls)})
    for method in ("GET", "PUT", "DELETE"):
        request = post(key=None, method=method)
        assert body(answer(handler, request))["n"] > 0
    put_too = with_idempotency(methods=["PUT"])(lambda: {"n": 0})
    assert answer(put_too, post(key=None, method="PUT")).status_code == 400
    assert answer(put_too, post(key=None, method="POST")).json() == {"n": 0}


def test_a_crashed_workers_lock_expires(monkeypatch: pytest.MonkeyPatch, store: Store) -> None:
    """A worker that dies mid-request never releases its lock; the lock's TTL frees the key."""
    orders = Orders()
    crash = [True]

    def dies(request: NextRequest) -> NextResponse:
        if crash[0]:
            raise SystemExit(1)  # stands in for the worker process dying
        return orders(request)

    handler = with_idempotency(store=store, lock_ttl=0.3)(dies)
    # a dead worker cleans nothing up
    monkeypatch.setattr(store, "delete", lambda key: None)
    monkeypatch.setattr(store, "delete_if", lambda key, expected: False)
    with pytest.raises(SystemExit):
        handler(post(), RouteContext())
    crash[0] = False
    assert answer(handler, post()).status_code == 409
    deadline = time.monotonic() + 5
    status = 409
    while status == 409 and time.monotonic() < deadline:
        time.sleep(0.05)
        status = answer(handler, post()).status_code
    assert status == 201
    assert len(orders.created) == 1


def test_store_failure_before_the_handler_is_503_and_nothing_runs() -> None:
    orders = Orders()
    handler = with_idempotency(store=f"redis://127.0.0.1:{free_port()}/0")(orders)
    response = answer(handler, post())
    assert response.status_code == 503
    assert body(response)["error"] == "store_unavailable"
    assert orders.created == []


@pytest.mark.parametrize(
    "options",
    [{"ttl": 0}, {"lock_ttl": -1}, {"ttl": True}, {"methods": "POST"}, {"scope": "ip"}],
)
def test_bad_configuration_fails_at_wrap_time(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="with_idempotency"):
        with_idempotency(**options)


def test_bare_form_and_request_only_call() -> None:
    orders = Orders()
    handler = with_idempotency(orders)
    assert handler.__wrapped__ is orders  # type: ignore[attr-defined]
    handler(post())  # type: ignore[call-arg]
    assert handler(post()).headers["Idempotent-Replayed"] == "true"  # type: ignore[call-arg, union-attr]


# -- through an App ------------------------------------------------------------------

ROUTE = """
from handlerkit import NextResponse, with_idempotency

ORDERS = []

@with_idempotency
def POST(request):
    ORDERS.append(request.json())
    return NextResponse.json({"order": len(ORDERS)}, status=201)
"""


def test_through_an_app(make_app: Callable[..., App]) -> None:
    client = Client(make_app({"orders/route.py": ROUTE}))
    headers = {"Idempotency-Key": KEY}
    first = client.post("/orders", json={"item": "book"}, headers=headers)
    replay = client.post("/orders", json={"item": "book"}, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert first.json() == replay.json() == {"order": 1}
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert client.post("/orders", json={"item": "lamp"}, headers=headers).status_code == 422
    missing = client.post("/orders", json={"item": "book"})
    assert missing.status_code == 400
    assert missing.json()["error"] == "idempotency_key_missing"
    crlf = client.post(
        "/orders",
        json={"item": "book"},
        environ_overrides={"HTTP_IDEMPOTENCY_KEY": "a\r\nSet-Cookie: x=1"},
    )
    assert crlf.status_code == 400
    assert "Set-Cookie" not in crlf.headers
    huge = client.post("/orders", json={"item": "book"}, headers={"Idempotency-Key": "k" * 10_000})
    assert huge.status_code == 400


def test_a_resent_multipart_form_with_a_new_boundary_is_the_same_payload(
    make_app: Callable[..., App],
) -> None:
    import io

    route = """
from handlerkit import NextResponse, with_idempotency

UPLOADS = []

@with_idempotency
def POST(request):
    form = request.form_data()
    UPLOADS.append(form.get("file").read())
    return NextResponse.json({"uploads": len(UPLOADS)}, status=201)
"""
    client = Client(make_app({"up/route.py": route}))
    headers = {"Idempotency-Key": KEY}

    def send(content: bytes) -> Any:
        form = {"name": "x", "file": (io.BytesIO(content), "a.txt")}
        return client.post("/up", data=form, headers=headers)

    first, again = send(b"hello"), send(b"hello")
    assert first.request.headers["Content-Type"] != again.request.headers["Content-Type"]
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() == {"uploads": 1}
    assert send(b"other file").status_code == 422


def test_json_key_order_and_spacing_are_not_part_of_the_payload() -> None:
    orders = Orders()
    handler = with_idempotency(orders)

    def raw(data: bytes) -> NextRequest:
        request = NextRequest(
            "http://localhost/orders",
            method="POST",
            data=data,
            headers={"Idempotency-Key": KEY, "Content-Type": "application/json"},
        )
        return request

    assert answer(handler, raw(b'{"item": "book", "qty": 1}')).status_code == 201
    replay = answer(handler, raw(b'{"qty":1,"item":"book"}'))
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert answer(handler, raw(b'{"qty":2,"item":"book"}')).status_code == 422
    assert len(orders.created) == 1


class FailingWrites(MemoryStore):
    """A store whose writes after the lock fail, as when Redis dies mid-request."""

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        raise StoreError()

    def delete(self, key: str) -> None:
        raise StoreError()

    def set_if(self, key: str, expected: bytes, value: bytes, ttl: float | None = None) -> bool:
        raise StoreError()

    def delete_if(self, key: str, expected: bytes) -> bool:
        raise StoreError()


def test_store_failing_after_the_handler_still_sends_the_real_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    orders = Orders()
    handler = with_idempotency(store=FailingWrites())(orders)
    response = answer(handler, post())
    assert response.status_code == 201
    assert len(orders.created) == 1
    assert "answer not recorded" in caplog.text

    crashing = with_idempotency(store=FailingWrites())(lambda: NextResponse(b"", 500))
    assert answer(crashing, post()).status_code == 500
    assert "lock expires by itself" in caplog.text


def test_malformed_json_is_fingerprinted_raw_and_its_400_replayed() -> None:
    calls = itertools.count(1)

    def parses(request: NextRequest) -> NextResponse:
        next(calls)
        return NextResponse.json(request.json(), status=201)

    handler = with_idempotency(parses)

    def raw(data: bytes) -> NextRequest:
        return NextRequest(
            "http://localhost/orders",
            method="POST",
            data=data,
            headers={"Idempotency-Key": KEY, "Content-Type": "application/json"},
        )

    first = answer(handler, raw(b'{"item": '))
    assert first.status_code == 400
    replay = answer(handler, raw(b'{"item": '))
    assert replay.status_code == 400
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert next(calls) == 2  # the handler ran once
    assert answer(handler, raw(b'{"item": 1')).status_code == 422


def test_a_corrupt_record_is_treated_as_in_flight() -> None:
    store = MemoryStore()
    handler = with_idempotency(store=store)(Orders())
    answer(handler, post())
    for key in list(store._data):
        store.set(key, b"garbage")
    assert answer(handler, post()).status_code == 409


def test_a_handler_returning_nothing_releases_the_key() -> None:
    results: list[Any] = [None, NextResponse.json({"ok": True}, status=201)]
    handler = with_idempotency(lambda: results.pop(0))
    assert answer(handler, post()) is None  # the App turns this into its 500
    assert answer(handler, post()).status_code == 201


# -- a stale run never touches a newer run's lock ------------------------------------


class _BareStore:
    """A custom store with only the four Protocol methods (no delete_if/set_if)."""

    def __init__(self) -> None:
        self.inner = MemoryStore()

    def get(self, key: str) -> bytes | None:
        return self.inner.get(key)

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self.inner.set(key, value, ttl)

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        return self.inner.add(key, value, ttl)

    def delete(self, key: str) -> None:
        self.inner.delete(key)


def _store_key(ip: str = "10.0.0.1", key: str = KEY) -> str:
    import hashlib

    return "idem:" + hashlib.sha256(f"ip:{ip}\n{key}".encode()).hexdigest()


@pytest.mark.parametrize("outcome", ["raises", "500", "201"])
@pytest.mark.parametrize("kind", ["memory", "redis", "bare"])
def test_a_stale_run_never_releases_or_overwrites_a_newer_runs_lock(
    kind: str, outcome: str, request: pytest.FixtureRequest
) -> None:
    """Regression: a run outliving lock_ttl deleted the next run's lock, so a third run started."""
    the_store: Any
    if kind == "memory":
        the_store = MemoryStore()
    elif kind == "redis":
        the_store = RedisStore(
            str(request.getfixturevalue("redis_url")) + "?socket_timeout=2&socket_connect_timeout=2"
        )
    else:
        the_store = _BareStore()
    newer = b"the lock of a newer run"
    runs: list[int] = []

    def slow(request: NextRequest) -> NextResponse:
        runs.append(len(runs))
        if len(runs) == 1:
            # This run's lock expired and a second run took the key meanwhile.
            the_store.delete(_store_key())
            assert the_store.add(_store_key(), newer, 30)
            if outcome == "raises":
                raise RuntimeError("boom")
            return NextResponse.json({"run": 1}, status=int(outcome))
        return NextResponse.json({"run": len(runs)}, status=201)

    handler = with_idempotency(store=the_store, lock_ttl=30)(slow)
    if outcome == "raises":
        with pytest.raises(RuntimeError):
            handler(post(), RouteContext())
    else:
        assert answer(handler, post()).status_code == int(outcome)
    # The newer run's lock is intact, so a third request waits instead of running.
    assert the_store.get(_store_key()) == newer
    assert answer(handler, post()).status_code == 409
    assert runs == [0]


def test_raw_query_escapes_are_different_requests() -> None:
    """Regression: ?q=%FF and ?q=%25FF looked alike in request.args, so one replayed the other."""
    orders = Orders()
    handler = with_idempotency()(orders)
    assert answer(handler, post(path="/orders?q=%FF")).status_code == 201
    assert answer(handler, post(path="/orders?q=%25FF")).status_code == 422
    # Field order is still not part of the request.
    again = Orders()
    reordered = with_idempotency()(again)
    assert answer(reordered, post(path="/orders?a=1&b=2")).status_code == 201
    replay = answer(reordered, post(path="/orders?b=2&a=1"))
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(orders.created) == 1 and len(again.created) == 1


def test_a_store_without_delete_if_or_set_if_still_works() -> None:
    """The optional compare-and-delete/set methods fall back to get, compare, delete/set."""
    the_store = _BareStore()
    orders = Orders()
    handler = with_idempotency(store=the_store)(orders)
    first = answer(handler, post())
    assert first.status_code == 201
    assert answer(handler, post()).headers["Idempotent-Replayed"] == "true"
    failing = with_idempotency(store=the_store)(lambda: NextResponse(b"", 500))
    assert answer(failing, post(key="other")).status_code == 500
    assert the_store.get(_store_key(key="other")) is None  # released: the client may retry
    assert len(orders.created) == 1


@pytest.mark.parametrize("fails", ["error_rendering", "reading_the_body"])
def test_the_lock_is_released_when_recording_the_answer_itself_fails(
    fails: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: an exception while turning the answer into a record left the key locked
    for lock_ttl, so every retry got 409 idempotency_key_in_flight."""
    calls = itertools.count(1)

    def flaky(request: NextRequest) -> NextResponse:
        if next(calls) == 1:
            if fails == "error_rendering":
                raise ApiError(400, "bad", "Bad.")
            response = NextResponse.json({"ok": False})
            monkeypatch.setattr(response, "get_data", lambda: (_ for _ in ()).throw(OSError("disk")))
            return response
        return NextResponse.json({"ok": True}, status=201)

    if fails == "error_rendering":

        def broken(error: ApiError) -> NextResponse:
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

        monkeypatch.setattr(NextResponse, "from_error", broken)
    handler = with_idempotency(store=store, lock_ttl=60)(flaky)
    with pytest.raises((UnicodeEncodeError, OSError)):
        handler(post(), RouteContext())
    monkeypatch.undo()
    retried = answer(handler, post())
    assert retried.status_code == 201 and body(retried) == {"ok": True}
