"""The realtime example's settings, read from the environment when the app is built.

- ``REALTIME_TICK``: seconds between ``tick`` events on a quiet feed (default ``1.0``).
- ``REALTIME_HEARTBEAT``: seconds of silence before a ``: ping`` comment (default ``15``).
"""

from __future__ import annotations

import os


def tick_seconds() -> float:
    """Return the interval between ``tick`` events, clamped to 0.05-60 seconds."""
    return min(max(float(os.environ.get("REALTIME_TICK", "1.0")), 0.05), 60.0)


def heartbeat_seconds() -> float:
    """Return the heartbeat interval in seconds."""
    return float(os.environ.get("REALTIME_HEARTBEAT", "15"))
