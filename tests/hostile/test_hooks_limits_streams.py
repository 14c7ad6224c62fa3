"""BAD_INPUTS.md rows G (webhooks), H2-H5 (rate limits), K (streaming and failures) and L (idempotency, caching), in-process.

H1 (a burst over several gunicorn workers with Redis) and the raw-socket rows are in
test_over_gunicorn.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from handlerkit import App
from handlerkit.testing import Client
from handlerkit.webhooks import sign_github, sign_stripe, verify_github, verify_hmac, verify_stripe
from tests.hostile.app_files import GITHUB_SECRET, STRIPE_SECRET
from tests.hostile.conftest import Exploding, call, check
from tests.support.leaks import assert_no_leak

EVENT = json.dumps({"id": "evt_1", "type": "charge.succeeded", "data": {"amount": 1}}).encode()


def route_module(app: App, pattern: str) -> Any:
    """The loaded route module of *pattern* (to look at its side effects)."""
    route = next(r for r in app.routes if r.pattern == pattern)
    import inspect

    return inspect.unwrap(route.exports[next(iter(route.exports))]).__globals__


def stripe(client: Client, body: bytes, header: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return client.post("/hooks/stripe", data=body, headers=headers)


def github(client: Client, body: bytes, header: str | None, delivery: str = "d-1") -> Any:
    headers = {"Content-Type": "application/json", "X-GitHub-Delivery": delivery}
    if header is not None:
        headers["X-Hub-Signature-256"] = header
    return client.post("/hooks/github", data=body, headers=headers)


# ----------------------------------------------------------------------------- G


def test_G1_missing_signature_header_is_400_and_the_body_is_not_parsed(
    client: Client, app: App
) -> None:
    check(stripe(client, b"{not json", None), 400, "missing_signature")
    check(github(client, b"{not json", None), 400, "missing_signature")
    check(stripe(client, EVENT, ""), 400)
    assert (
        route_module(app, "/hooks/stripe")["SEEN"] == []
        and route_module(app, "/hooks/github")["SEEN"] == []
    )


@pytest.mark.parametrize(
    "header",
    [
        "t=abc",
        "v1=" + "a" * 64,
        "t=1",
        "t=1,v1",
        "t=1,v1=",
        "t=,v1=" + "a" * 64,
        "garbage",
        ",,,",
        "=",
        "t=1,=x",
        "t=1,v1=zz",
        "t=1,v1=" + "a" * 63,
        "t=1,v1=" + "a" * 65,
        "t=1,t=2,v1=" + "a" * 64,
        "t=-1,v1=" + "a" * 64,
        "t=1e9,v1=" + "a" * 64,
        "t=\u0661\u0662,v1=" + "a" * 64,
        "t=" + "9" * 40 + ",v1=" + "a" * 64,
        "x" * 10000,
        "t=1;v1=" + "a" * 64,
    ],
)
def test_G2_malformed_stripe_headers_are_400(client: Client, header: str) -> None:
    response = stripe(client, EVENT, header)
    check(response, 400)
    assert header not in response.get_data(as_text=True) or len(header) < 4


def test_G3_stale_stripe_timestamps_are_rejected(client: Client, app: App) -> None:
    now = int(time.time())
    for stamp in (now - 301, now - 86400, now + 301, 0):
        check(
            stripe(client, EVENT, sign_stripe(EVENT, STRIPE_SECRET, stamp)),
            401,
            "signature_expired",
        )
    check(stripe(client, EVENT, sign_stripe(EVENT, STRIPE_SECRET, now - 200)), 200)
    assert len(route_module(app, "/hooks/stripe")["SEEN"]) == 1


def test_G4_several_v1_one_valid_accepted_only_v0_rejected(client: Client) -> None:
    now = int(time.time())
    good = sign_stripe(EVENT, STRIPE_SECRET, now).split("v1=")[1]
    assert check(stripe(client, EVENT, f"t={now},v1={'0' * 64},v1={good}"), 200) == {
        "received": True
    }
    check(stripe(client, EVENT, f"t={now},v0={good}"), 400)
    check(stripe(client, EVENT, f"t={now},v1={'0' * 64},v0={good}"), 401, "invalid_signature")
    check(stripe(client, EVENT, f"t={now},v1={good.upper()}"), 200)  # hex case is not significant


def test_G5_verification_is_over_the_raw_bytes(client: Client, app: App) -> None:
    now = int(time.time())
    header = sign_stripe(EVENT, STRIPE_SECRET, now)
    reserialised = json.dumps(json.loads(EVENT), indent=1).encode()
    check(stripe(client, reserialised, header), 401, "invalid_signature")
    check(stripe(client, EVENT + b" ", header), 401)
    check(stripe(client, EVENT.replace(b'"amount": 1', b'"amount":1'), header), 401)
    with pytest.raises(TypeError):
        verify_stripe(json.loads(EVENT), header, STRIPE_SECRET)  # type: ignore[arg-type]
    assert route_module(app, "/hooks/stripe")["SEEN"] == []


@pytest.mark.parametrize(
    "header",
    [
        "sha1=" + "a" * 40,
        "sha256=" + "a" * 63,
        "sha256=" + "a" * 65,
        " sha256=" + "a" * 64,
        "sha256=" + "a" * 64 + " ",
        "sha256= " + "a" * 64,
        "SHA256=" + "a" * 64,
        "sha256=" + "g" * 64,
        "sha256:" + "a" * 64,
        "sha512=" + "a" * 128,
        "sha256=" + "a" * 64 + ",sha256=" + "b" * 64,
    ],
)
def test_G6_only_sha256_and_64_hex_digits(client: Client, header: str) -> None:
    check(github(client, EVENT, header), 400)


def test_G6_sha1_header_alone_is_missing(client: Client) -> None:
    sha1 = "sha1=" + hmac.new(GITHUB_SECRET.encode(), EVENT, hashlib.sha1).hexdigest()
    response = client.post(
        "/hooks/github", data=EVENT, headers={"X-Hub-Signature": sha1, "X-GitHub-Delivery": "x"}
    )
    check(response, 400, "missing_signature")


def test_G7_a_replayed_delivery_is_processed_once(client: Client, app: App) -> None:
    header = sign_github(EVENT, GITHUB_SECRET)
    first = check(github(client, EVENT, header, "d-42"), 200)
    assert first == {"received": True}
    for delivery in (
        "d-42",
        "d-42",
        "d-43",
    ):  # same delivery, and the same signed body under a new id
        assert check(github(client, EVENT, header, delivery), 200) == {
            "received": True,
            "duplicate": True,
        }
    assert route_module(app, "/hooks/github")["SEEN"] == ["d-42"]
    response = client.post(
        "/hooks/github",
        data=EVENT,
        headers={"X-Hub-Signature-256": header},
        environ_overrides={"HTTP_X_GITHUB_DELIVERY": "d\r\n44"},
    )
    check(response, 400)


def test_G8_huge_webhook_bodies_are_413_before_any_hmac(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_hmac(*args: object, **kwargs: object) -> None:
        raise AssertionError("HMAC computed for an oversized body")

    monkeypatch.setattr(hmac, "new", no_hmac)
    for path, header in (
        ("/hooks/stripe", "HTTP_STRIPE_SIGNATURE"),
        ("/hooks/github", "HTTP_X_HUB_SIGNATURE_256"),
    ):
        status, _, body = call(
            app,
            "POST",
            path,
            CONTENT_LENGTH=str(50 * 1024 * 1024),
            CONTENT_TYPE="application/json",
            **{header: "t=1,v1=" + "a" * 64, "wsgi.input": Exploding()},
        )
        assert status == 413 and json.loads(body)["error"] == "payload_too_large"


def test_G9_githubs_published_vector_verifies() -> None:
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    verify_github(b"Hello, World!", expected, GITHUB_SECRET)
    assert sign_github(b"Hello, World!", GITHUB_SECRET) == expected
    verify_hmac(b"Hello, World!", expected, GITHUB_SECRET, prefix="sha256=")
    from handlerkit.webhooks import SignatureError

    for payload in (b"Hello, World", b"Hello, World!!", b"hello, World!"):
        with pytest.raises(SignatureError):
            verify_github(payload, expected, GITHUB_SECRET)


def test_G9_over_the_app(client: Client) -> None:
    body = b"Hello, World!"
    good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    # The route parses JSON only after verification; a non-JSON body that verifies reaches the handler.
    assert check(github(client, body, good, "vec"), 200) == {"received": True}
    check(github(client, b"Hello, World?", good, "vec2"), 401, "invalid_signature")


# ----------------------------------------------------------------------------- H


def test_H2_memory_store_is_per_process(hostile_dir: Path) -> None:
    # Two Apps stand for two gunicorn workers: each keeps its own memory:// counters.
    workers = [Client(App(hostile_dir)) for _ in range(2)]
    allowed = sum(
        w.get("/burst", headers={"X-Bucket": "h2"}).status_code == 200
        for w in workers
        for _ in range(8)
    )
    assert allowed == 2 * 5


def test_H3_rate_limit_headers_on_2xx_and_429(client: Client) -> None:
    remaining = []
    for _ in range(5):
        response = client.get("/burst", headers={"X-Bucket": "h3b"})
        assert response.headers["X-RateLimit-Limit"] == "5"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert 0 <= int(response.headers["X-RateLimit-Reset"]) <= 60
    assert remaining == [4, 3, 2, 1, 0]
    for _ in range(3):
        response = client.get("/burst", headers={"X-Bucket": "h3b"})
        check(response, 429, "rate_limited", X_RateLimit_Limit="5", X_RateLimit_Remaining="0")
        assert (
            response.headers["Retry-After"].isdigit() and int(response.headers["Retry-After"]) >= 1
        )


def _silent_port() -> tuple[socket.socket, int]:
    """A socket that accepts connections (backlog) but never answers: a hung Redis."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    return listener, listener.getsockname()[1]


@pytest.mark.parametrize("policy", ["open", "closed"])
def test_H4_refused_or_hung_redis_applies_the_policy(make_app, policy: str) -> None:  # type: ignore[no-untyped-def]
    from tests.support.servers import free_port

    listener, hung = _silent_port()
    try:
        for port in (free_port(), hung):
            app = make_app(
                {
                    "r/route.py": f"""
                from handlerkit import with_rate_limit

                @with_rate_limit(limit=5, storage="redis://127.0.0.1:{port}/0", on_storage_error="{policy}",
                                 socket_timeout=0.1)
                def GET():
                    return {{"ok": True}}
            """
                }
            )
            client = Client(app)
            for _ in range(3):
                response = client.get("/r")
                if policy == "open":
                    check(response, 200, X_RateLimit_Status="unavailable")
                else:
                    check(response, 503, "rate_limit_unavailable", Retry_After="1")
                assert "127.0.0.1" not in response.get_data(as_text=True)
    finally:
        listener.close()


def test_H5_flooded_keys_expire_and_memory_stores_are_bounded(redis_url: str, make_app) -> None:  # type: ignore[no-untyped-def]
    import redis

    from handlerkit.stores import MemoryStore

    app = make_app(
        {
            "r/route.py": f"""
        from handlerkit import with_rate_limit

        @with_rate_limit(limit=5, window=30, storage="{redis_url}", key=lambda r, c: r.headers["X-Key"],
                         socket_timeout=2.0)
        def GET():
            return {{"ok": True}}
    """
        }
    )
    client = Client(app)
    for i in range(200):
        check(client.get("/r", headers={"X-Key": f"flood-{i}-" + "z" * (i % 300)}), 200)
    db = redis.Redis.from_url(redis_url)
    try:
        keys = db.keys("*")
        assert len(keys) == 200
        assert all(0 < db.ttl(k) <= 30 for k in keys)  # every key expires (within the window)
        assert max(len(k) for k in keys) < 300  # long keys are hashed
    finally:
        db.close()
    store = MemoryStore(max_entries=100)
    for i in range(5000):
        store.set(f"k{i}", b"v", ttl=60)
    assert len(store) == 100


# ----------------------------------------------------------------------------- K


def test_K1_client_disconnect_runs_the_generators_cleanup(app: App, hostile_dir: Path) -> None:
    marks = hostile_dir.parent / "marks"
    import io

    env_status: list[str] = []
    environ = {"QUERY_STRING": "tag=k1&hb=0.05"}
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/events",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1",
        "SCRIPT_NAME": "",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        **environ,
    }
    body = app(env, lambda status, headers, exc=None: env_status.append(status))
    iterator = iter(body)
    first = b""
    while b"event: greeting" not in first:
        first += next(iterator)
    assert env_status[0].startswith("200")
    body.close()  # what gunicorn does when the client goes away
    deadline = time.monotonic() + 5
    while not (marks / "closed-k1").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (marks / "closed-k1").exists()


def test_K2_idle_streams_send_heartbeats_and_no_cache_headers(client: Client) -> None:
    response = client.get("/events", query_string={"hb": "0.05", "tag": "k2"}, buffered=False)
    try:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Accel-Buffering"] == "no"
        seen = b""
        for chunk in response.response:
            seen += chunk
            if seen.count(b": ping") >= 2:
                break
        assert seen.count(b": ping") >= 2
    finally:
        response.close()


def test_K3_serve_defaults_to_gthread() -> None:
    import inspect

    from handlerkit.serve import serve

    assert inspect.signature(serve).parameters["worker_class"].default == "gthread"


def test_K4_an_sse_generator_failure_is_a_generic_error_event(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = client.get(
            "/events",
            query_string={"mode": "fail", "tag": "k4"},
            environ_overrides={"HTTP_X_REQUEST_ID": "k4-request-id"},
        )
        data = response.get_data()
    assert response.status_code == 200
    assert data.endswith(
        b'event: error\ndata: {"error":"internal_error","message":"An internal error occurred."}\n\n'
    )
    assert_no_leak(data, secrets=["hostile-app-key-7f3a9c"])
    assert "RuntimeError" in caplog.text  # the traceback is in the logs only


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_K5_an_arbitrary_exception_is_a_generic_500_with_request_id(
    client: Client, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = client.open("/boom", method=method)
    document = check(response, 500, "internal_error")
    request_id = document["details"]["request_id"]
    assert response.headers["X-Request-ID"] == request_id
    assert document == {
        "error": "internal_error",
        "message": "An internal error occurred.",
        "details": {"request_id": request_id},
    }
    assert request_id in caplog.text and "Traceback" in caplog.text


def test_K6_an_api_error_is_answered_exactly(client: Client) -> None:
    document = check(client.get("/apierror"), 400, "bad_thing")
    assert document == {
        "error": "bad_thing",
        "message": "Exactly this message.",
        "details": {"field": "x"},
    }


def test_K7_a_failing_error_path_sends_a_static_500(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import handlerkit.boundary as boundary_module

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the error path broke too")

    # The one 500 is built in handlerkit.boundary; break it there.
    monkeypatch.setattr(boundary_module, "internal_error_response", broken)
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom")
    assert response.status_code == 500
    assert json.loads(response.get_data()) == {
        "error": "internal_error",
        "message": "An internal error occurred.",
    }
    assert_no_leak(response.get_data())


def test_K8_no_debugger_or_traceback_pages_by_default(hostile_dir: Path) -> None:
    app = App(hostile_dir)
    assert app.debug is False
    client = Client(app)
    for path in (
        "/boom",
        "/console",
        "/?__debugger__=yes&cmd=resource&f=style.css",
        "/boom?__debugger__=yes",
    ):
        response = client.get(path)
        assert response.status_code in (404, 500)
        assert response.headers["Content-Type"].startswith("application/json")
        text = response.get_data(as_text=True)
        assert (
            "Traceback" not in text
            and "<html" not in text.lower()
            and "console" not in text.lower()
        )
        assert_no_leak(text)


# ----------------------------------------------------------------------------- L


def order(client: Client, key: str | None, body: dict[str, Any], **environ: str) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post("/orders", json=body, headers=headers, environ_overrides=environ)


def test_L1_missing_idempotency_key_is_400(client: Client, app: App) -> None:
    check(order(client, None, {"a": 1}), 400, "idempotency_key_missing")
    assert route_module(app, "/orders")["CREATED"] == []


def test_L2_same_key_different_payload_is_422(client: Client, app: App) -> None:
    check(order(client, "k-l2", {"a": 1}), 201)
    check(order(client, "k-l2", {"a": 2}), 422, "idempotency_key_reused")
    check(order(client, "k-l2", {"a": 1, "b": 0}), 422)
    assert len(route_module(app, "/orders")["CREATED"]) == 1


def test_L3_same_key_in_flight_is_409_one_side_effect(client: Client, app: App) -> None:
    module = route_module(app, "/orders")
    module["GATE"].clear()
    first: list[Any] = []
    worker = threading.Thread(target=lambda: first.append(order(Client(app), "k-l3", {"a": 1})))
    worker.start()
    try:
        assert module["ENTERED"].wait(10)  # the first request holds the key and runs
        for _ in range(3):
            check(
                order(client, "k-l3", {"a": 1}), 409, "idempotency_key_in_flight", Retry_After="1"
            )
    finally:
        module["GATE"].set()
        worker.join(10)
    assert first[0].status_code == 201 and len(module["CREATED"]) == 1


def test_L4_same_key_after_completion_replays(client: Client, app: App) -> None:
    original = order(client, "k-l4", {"a": 1})
    check(original, 201)
    for _ in range(3):
        replay = order(client, "k-l4", {"a": 1})
        assert replay.status_code == 201 and replay.get_data() == original.get_data()
        assert replay.headers["X-Order"] == original.headers["X-Order"]
    assert len(route_module(app, "/orders")["CREATED"]) == 1


def test_L5_hostile_keys_are_400_and_scoped_per_client(client: Client, app: App) -> None:
    for key in ("k" * 10_000, "a\r\nb", "a\x00b", "é", "", " \t"):
        response = client.post(
            "/orders", json={"a": 1}, environ_overrides={"HTTP_IDEMPOTENCY_KEY": key}
        )
        check(response, 400)
        assert ("k" * 50) not in response.get_data(as_text=True)
    check(order(client, "shared", {"a": 1}), 201)
    # Another client (IP) with the same key runs its own request.
    check(order(client, "shared", {"a": 1}, REMOTE_ADDR="10.9.9.9"), 201)
    assert len(route_module(app, "/orders")["CREATED"]) == 2


def test_L6_unkeyed_headers_cannot_poison_the_cache(client: Client, app: App) -> None:
    poisoned = client.get(
        "/cached?b=1&a=2",
        headers={
            "X-Forwarded-Host": "evil.example",
            "Host": "localhost",
            "X-Forwarded-Proto": "javascript",
            "Forwarded": "host=evil",
        },
    )
    assert poisoned.headers["X-Cache"] == "MISS" and "evil" not in poisoned.get_data(as_text=True)
    again = client.get("/cached?a=2&b=1")  # canonical query: same entry
    assert again.headers["X-Cache"] == "HIT" and "evil" not in again.get_data(as_text=True)
    other = client.get(
        "/cached?a=2&b=1", headers={"Accept": "text/plain"}
    )  # declared Vary: its own entry
    assert other.headers["X-Cache"] == "MISS"
    assert (
        client.get("/cached?a=2&b=1", headers={"Accept": "text/plain"}).headers["X-Cache"] == "HIT"
    )
    assert len(route_module(app, "/cached")["CALLS"]) == 2
    # Credentials bypass the shared cache.
    assert (
        client.get("/cached?a=2&b=1", headers={"Authorization": "Bearer x"}).headers.get("X-Cache")
        != "HIT"
    )
