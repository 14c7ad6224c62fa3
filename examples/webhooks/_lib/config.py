"""The webhooks example's settings, read from the environment when the app is built.

- ``STRIPE_WEBHOOK_SECRET`` / ``GITHUB_WEBHOOK_SECRET``: the signing secrets
  (comma-separated to rotate). Unset, a development secret is used and a
  warning is logged: anyone reading this file could then forge deliveries.
- ``WEBHOOKS_DB``: the SQLite file recording deliveries and their effects
  (default ``handlerkit-webhooks.sqlite3`` in the system temp folder).
- ``WEBHOOKS_STORE``: where the signature wrapper remembers recent deliveries
  (``redis://...``); unset, each worker keeps its own memory. The database
  check below it makes processing exactly-once either way.
"""

from __future__ import annotations

import logging
import os
import tempfile

logger = logging.getLogger("webhooks")

DEV_SECRETS = {
    "STRIPE_WEBHOOK_SECRET": "whsec_development_only",
    "GITHUB_WEBHOOK_SECRET": "github-development-only",
}


def secret(variable: str) -> list[str]:
    """Return the secrets in *variable*, oldest first, or the development one with a warning."""
    values = [value.strip() for value in os.environ.get(variable, "").split(",") if value.strip()]
    if not values:
        logger.warning(
            "%s is not set: using a development secret anyone can read in the source", variable
        )
        values = [DEV_SECRETS[variable]]
    return values


def db_path() -> str:
    """Return the SQLite file path."""
    return os.environ.get("WEBHOOKS_DB") or os.path.join(
        tempfile.gettempdir(), "handlerkit-webhooks.sqlite3"
    )


def store_url() -> str | None:
    """Return the store URL for the wrapper's replay guard, or ``None`` for per-process memory."""
    return os.environ.get("WEBHOOKS_STORE") or None
