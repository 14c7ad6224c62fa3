"""examples/webhooks: Stripe- and GitHub-style receivers, signed here, processed exactly once."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from handlerkit import App
from handlerkit.testing import Client
from tests.support.servers import ROOT, gunicorn

EXAMPLE = ROOT / "examples" / "webhooks"
STRIPE_SECRET = "whsec_test_secret"
GITHUB_SECRET = "It's a Secret to Everybody"


def stripe_headers(
    body: bytes, secret: str = STRIPE_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={stamp},v1={signature}", "Content-Type": "application/json"}


def github_headers(
    body: bytes, event: str = "push", delivery: str | None = None, secret: str = GITHUB_SECRET
) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": f"sha256={signature}",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }


def stripe_event(
    kind: str = "payment_intent.succeeded", event_id: str = "evt_1", order: str = "order-7"
) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": kind,
            "data": {"object": {"id": "pi_1", "amount": 1999, "metadata": {"orderId": order}}},
        }
    ).encode()


PUSH = json.dumps(
    {"ref": "refs/heads/main", "repository": {"full_name": "acme/site"}, "commits": [{}, {}]}
).encode()


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "webhooks.sqlite3"
    monkeypatch.setenv("WEBHOOKS_DB", str(path))
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)
    monkeypatch.delenv("WEBHOOKS_STORE", raising=False)
    return path


@pytest.fixture
def client(db_path: Path) -> Client:
    return Client(App(EXAMPLE))


def rows(db_path: Path, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db_path) as connection:
        return connection.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - test-owned names


# -- Stripe --------------------------------------------------------------------


def test_a_signed_payment_event_marks_the_order_paid(client: Client, db_path: Path) -> None:
    body = stripe_event()
    response = client.post("/api/webhooks/stripe", data=body, headers=stripe_headers(body))
    assert response.status_code == 200
    assert response.json() == {"received": True}
    order = client.get("/api/orders/order-7").json()
    assert order["status"] == "paid" and order["amount"] == 1999
    assert len(rows(db_path, "deliveries")) == 1


def test_a_replayed_stripe_event_has_one_side_effect(client: Client, db_path: Path) -> None:
    body = stripe_event()
    headers = stripe_headers(body)
    first = client.post("/api/webhooks/stripe", data=body, headers=headers)
    replay = client.post("/api/webhooks/stripe", data=body, headers=headers)
    resigned = client.post(
        "/api/webhooks/stripe",
        data=body,
        headers=stripe_headers(body, timestamp=int(time.time()) - 5),
    )
    assert first.json() == {"received": True}
    assert replay.status_code == resigned.status_code == 200
    assert replay.json()["duplicate"] is True and resigned.json()["duplicate"] is True
    assert len(rows(db_path, "deliveries")) == 1


def test_the_ledger_catches_a_replay_the_wrappers_memory_never_saw(db_path: Path) -> None:
    body = stripe_event(kind="payment_intent.payment_failed", event_id="evt_fail")
    worker_one, worker_two = (
        Client(App(EXAMPLE)),
        Client(App(EXAMPLE)),
    )  # two processes' worth of memory
    assert worker_one.post(
        "/api/webhooks/stripe", data=body, headers=stripe_headers(body)
    ).json() == {"received": True}
    later = json.loads(body)
    body_again = json.dumps(later).encode()
    second = worker_two.post(
        "/api/webhooks/stripe", data=body_again, headers=stripe_headers(body_again)
    )
    assert second.json() == {"received": True, "duplicate": True}
    assert rows(db_path, "orders")[0][1] == "payment_failed"
    assert len(rows(db_path, "deliveries")) == 1


def test_subscription_events_are_recorded_and_unknown_types_acknowledged(
    client: Client, db_path: Path
) -> None:
    created = json.dumps(
        {
            "id": "evt_s1",
            "type": "customer.subscription.created",
            "data": {"object": {"id": "sub_1", "customer": "cus_1", "status": "active"}},
        }
    ).encode()
    deleted = json.dumps(
        {
            "id": "evt_s2",
            "type": "customer.subscription.deleted",
            "data": {"object": {"id": "sub_1", "customer": "cus_1", "status": "active"}},
        }
    ).encode()
    other = json.dumps({"id": "evt_x", "type": "invoice.created", "data": {"object": {}}}).encode()
    for body in (created, deleted):
        assert client.post(
            "/api/webhooks/stripe", data=body, headers=stripe_headers(body)
        ).json() == {"received": True}
    assert [row[2] for row in rows(db_path, "subscriptions")] == ["canceled"]
    ignored = client.post("/api/webhooks/stripe", data=other, headers=stripe_headers(other))
    assert ignored.status_code == 200 and ignored.json() == {
        "received": True,
        "ignored": "invoice.created",
    }


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 400),
        ({"Stripe-Signature": "t=abc"}, 400),
        ({"Stripe-Signature": "v1=" + "0" * 64}, 400),
        ({"Stripe-Signature": "t=1,v1"}, 400),
    ],
)
def test_missing_or_malformed_stripe_signatures_get_400(
    client: Client, db_path: Path, headers: dict[str, str], status: int
) -> None:
    response = client.post(
        "/api/webhooks/stripe",
        data=stripe_event(),
        headers={"Content-Type": "application/json", **headers},
    )
    assert response.status_code == status
    assert not db_path.exists() or rows(db_path, "deliveries") == []


def test_wrong_secret_tampered_body_or_stale_timestamp_get_401(
    client: Client, db_path: Path
) -> None:
    body = stripe_event()
    wrong = client.post(
        "/api/webhooks/stripe", data=body, headers=stripe_headers(body, secret="whsec_other")
    )
    tampered = client.post(
        "/api/webhooks/stripe", data=body.replace(b"1999", b"1"), headers=stripe_headers(body)
    )
    stale = client.post(
        "/api/webhooks/stripe",
        data=body,
        headers=stripe_headers(body, timestamp=int(time.time()) - 3600),
    )
    assert [wrong.status_code, tampered.status_code, stale.status_code] == [401, 401, 401]
    assert not db_path.exists() or rows(db_path, "deliveries") == []


def test_a_signed_event_missing_its_order_gets_422_and_is_not_recorded(
    client: Client, db_path: Path
) -> None:
    body = json.dumps(
        {"id": "evt_bad", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi"}}}
    ).encode()
    response = client.post("/api/webhooks/stripe", data=body, headers=stripe_headers(body))
    assert response.status_code == 422
    assert rows(db_path, "deliveries") == []  # rolled back: a corrected retry will be processed


def test_an_unknown_order_is_404(client: Client) -> None:
    assert client.get("/api/orders/nope").status_code == 404


# -- GitHub --------------------------------------------------------------------


def test_a_signed_push_is_recorded_once_per_delivery(client: Client, db_path: Path) -> None:
    headers = github_headers(PUSH, delivery="d-1")
    first = client.post("/api/webhooks/github", data=PUSH, headers=headers)
    again = client.post("/api/webhooks/github", data=PUSH, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == {"received": True}
    assert again.json()["duplicate"] is True
    assert [(row[1], row[2], row[3]) for row in rows(db_path, "pushes")] == [
        ("acme/site", "refs/heads/main", 2)
    ]


def test_a_captured_push_replayed_under_a_new_delivery_id_has_no_effect(
    client: Client, db_path: Path
) -> None:
    client.post("/api/webhooks/github", data=PUSH, headers=github_headers(PUSH, delivery="d-1"))
    replay = client.post(
        "/api/webhooks/github", data=PUSH, headers=github_headers(PUSH, delivery="d-2")
    )
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    assert len(rows(db_path, "pushes")) == 1


def test_ping_gets_pong_and_other_events_are_acknowledged(client: Client) -> None:
    ping = json.dumps({"zen": "Keep it logically awesome."}).encode()
    assert client.post(
        "/api/webhooks/github", data=ping, headers=github_headers(ping, event="ping")
    ).json() == {"pong": True}
    issue = json.dumps({"action": "opened"}).encode()
    answer = client.post(
        "/api/webhooks/github", data=issue, headers=github_headers(issue, event="issues")
    )
    assert answer.json() == {"received": True, "ignored": "issues"}


@pytest.mark.parametrize(
    "header",
    [
        None,
        "sha1=" + hmac.new(GITHUB_SECRET.encode(), PUSH, hashlib.sha1).hexdigest(),
        "sha256=abc",
    ],
)
def test_missing_sha1_only_or_short_github_signatures_are_refused(
    client: Client, db_path: Path, header: str | None
) -> None:
    headers = github_headers(PUSH)
    del headers["X-Hub-Signature-256"]
    if header is not None:
        headers["X-Hub-Signature-256"] = header
    response = client.post("/api/webhooks/github", data=PUSH, headers=headers)
    assert response.status_code == 400
    assert not db_path.exists() or rows(db_path, "pushes") == []


def test_a_github_signature_with_the_wrong_secret_gets_401(client: Client) -> None:
    response = client.post(
        "/api/webhooks/github", data=PUSH, headers=github_headers(PUSH, secret="guess")
    )
    assert response.status_code == 401


# -- under gunicorn --------------------------------------------------------------


def test_concurrent_copies_of_one_delivery_across_workers_have_one_effect(tmp_path: Path) -> None:
    db = tmp_path / "served.sqlite3"
    env = {
        "WEBHOOKS_DB": str(db),
        "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
        "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
    }
    with gunicorn(f"handlerkit:create_app({str(EXAMPLE)!r})", workers=3, env=env) as server:
        body = stripe_event(event_id="evt_concurrent", order="order-c")
        headers = stripe_headers(body)

        def send(_: int) -> dict[str, object]:
            response = requests.post(
                f"{server.url}/api/webhooks/stripe", data=body, headers=headers, timeout=10
            )
            assert response.status_code == 200
            return response.json()  # type: ignore[no-any-return]

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(send, range(12)))
        assert sum(1 for answer in answers if not answer.get("duplicate")) == 1
        assert (
            requests.get(f"{server.url}/api/orders/order-c", timeout=10).json()["status"] == "paid"
        )
    assert len(rows(db, "deliveries")) == 1
