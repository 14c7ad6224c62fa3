"""POST /api/webhooks/github: GitHub-style deliveries, signed with ``X-Hub-Signature-256``.

``with_webhook_signature(scheme="github")`` checks ``sha256=<64 hex>`` over the
raw body (400 missing or malformed, including ``sha1=`` alone; 401 wrong) and
answers a delivery it has seen, by ``X-GitHub-Delivery`` or by signature, with
``{"received": true, "duplicate": true}``. The ledger then records each
delivery id once:

- ``ping`` answers ``{"pong": true}``;
- ``push`` records the repository, ref and number of commits;
- other events are acknowledged and ignored.
"""

import hashlib
from typing import Any

from handlerkit import ApiError, NextRequest, NextResponse, with_webhook_signature

from ...._lib import config, ledger

SECRET = config.secret("GITHUB_WEBHOOK_SECRET")


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 255:
        raise ApiError(422, "invalid_event", f"The delivery's {name} is missing or not a string.")
    return value


@with_webhook_signature(scheme="github", secret=SECRET, store=config.store_url())
def POST(request: NextRequest) -> NextResponse:
    kind = request.headers.get("X-GitHub-Event", "")
    if kind == "ping":
        return NextResponse.json({"pong": True})
    payload = request.json()
    if not isinstance(payload, dict):
        raise ApiError(422, "invalid_event", "A GitHub delivery is a JSON object.")
    # The wrapper checked the header's format; without one, the body names the delivery.
    delivery = (
        request.headers.get("X-GitHub-Delivery")
        or "sha256:" + hashlib.sha256(request.bytes()).hexdigest()
    )
    with ledger.connect() as connection:
        if not ledger.first_time(connection, "github", delivery, kind or "unknown"):
            return NextResponse.json({"received": True, "duplicate": True})
        if kind != "push":
            return NextResponse.json({"received": True, "ignored": kind or "unknown"})
        repository = payload.get("repository")
        name = _text(
            repository.get("full_name") if isinstance(repository, dict) else None,
            "repository.full_name",
        )
        ref = _text(payload.get("ref"), "ref")
        commits = payload.get("commits")
        connection.execute(
            "INSERT INTO pushes (delivery, repository, ref, commits, received_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (delivery, name, ref, len(commits) if isinstance(commits, list) else 0, ledger.now()),
        )
    return NextResponse.json({"received": True})
