"""POST /api/webhooks/stripe: Stripe-style events, signed with ``Stripe-Signature``.

``with_webhook_signature(scheme="stripe")`` checks the ``t=...,v1=...`` HMAC
over the raw body (400 missing or malformed, 401 wrong or older than five
minutes) before the body is parsed, and answers a recently seen event id
itself. The ledger then applies each event id's side effects exactly once:

- ``payment_intent.succeeded`` marks the order in ``metadata.orderId`` paid;
- ``payment_intent.payment_failed`` marks it failed;
- ``customer.subscription.created|updated|deleted`` records the subscription;
- anything else is acknowledged and ignored, as Stripe expects (200).
"""

from typing import Any

from handlerkit import ApiError, NextRequest, NextResponse, with_webhook_signature

from ...._lib import config, ledger

SECRET = config.secret("STRIPE_WEBHOOK_SECRET")


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 255:
        raise ApiError(422, "invalid_event", f"The event's {name} is missing or not a string.")
    return value


def _order_status(status: str) -> Any:
    def apply(connection: Any, obj: dict[str, Any]) -> None:
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        order_id = _text(metadata.get("orderId"), "data.object.metadata.orderId")
        amount = obj.get("amount") if isinstance(obj.get("amount"), int) else None
        connection.execute(
            "INSERT INTO orders (id, status, amount, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
            " amount = COALESCE(excluded.amount, orders.amount), updated_at = excluded.updated_at",
            (order_id, status, amount, ledger.now()),
        )

    return apply


def _subscription(status: str | None) -> Any:
    def apply(connection: Any, obj: dict[str, Any]) -> None:
        subscription_id = _text(obj.get("id"), "data.object.id")
        customer = obj.get("customer") if isinstance(obj.get("customer"), str) else None
        state = status or _text(obj.get("status"), "data.object.status")
        connection.execute(
            "INSERT INTO subscriptions (id, customer, status, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
            " updated_at = excluded.updated_at",
            (subscription_id, customer, state, ledger.now()),
        )

    return apply


HANDLERS = {
    "payment_intent.succeeded": _order_status("paid"),
    "payment_intent.payment_failed": _order_status("payment_failed"),
    "customer.subscription.created": _subscription(None),
    "customer.subscription.updated": _subscription(None),
    "customer.subscription.deleted": _subscription("canceled"),
}


@with_webhook_signature(scheme="stripe", secret=SECRET, store=config.store_url())
def POST(request: NextRequest) -> NextResponse:
    event = request.json()
    if not isinstance(event, dict):
        raise ApiError(422, "invalid_event", "A Stripe event is a JSON object.")
    event_id, kind = _text(event.get("id"), "id"), _text(event.get("type"), "type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    apply = HANDLERS.get(kind)
    with ledger.connect() as connection:
        if not ledger.first_time(connection, "stripe", event_id, kind):
            return NextResponse.json({"received": True, "duplicate": True})
        if apply is None:
            return NextResponse.json({"received": True, "ignored": kind})
        if not isinstance(obj, dict):
            raise ApiError(422, "invalid_event", "The event has no data.object.")
        apply(connection, obj)  # raising rolls the delivery back, so a retry is processed
    return NextResponse.json({"received": True})
