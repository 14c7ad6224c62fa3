"""An in-process broadcast hub: every subscriber sees every published event, in order.

Events get increasing ids and the last :data:`BACKLOG` are kept, so a client
reconnecting with ``Last-Event-ID`` receives what it missed. The hub lives in
one process: under several gunicorn workers a message published through one
worker reaches only that worker's subscribers. Serve the example with one
``gthread`` worker (threads carry the concurrency), or put Redis pub/sub
behind the same two functions.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

#: How many past events a reconnecting client can catch up on.
BACKLOG = 100


@dataclass(frozen=True, slots=True)
class Event:
    """One published event."""

    id: int
    kind: str
    data: dict[str, Any]


_condition = threading.Condition()
_ids = itertools.count(1)
_events: deque[Event] = deque(maxlen=BACKLOG)


def publish(kind: str, data: dict[str, Any]) -> Event:
    """Record an event and wake every waiting subscriber; return it."""
    with _condition:
        event = Event(next(_ids), kind, data)
        _events.append(event)
        _condition.notify_all()
    return event


def last_id() -> int:
    """Return the id of the newest event, or 0 when nothing was published yet."""
    with _condition:
        return _events[-1].id if _events else 0


def wait_after(after: int, timeout: float) -> list[Event]:
    """Return the events with an id above *after*, waiting up to *timeout* seconds for one.

    Returns:
        The new events, oldest first; an empty list when none arrived in time.
    """
    deadline = time.monotonic() + timeout
    with _condition:
        while True:
            newer = [event for event in _events if event.id > after]
            remaining = deadline - time.monotonic()
            if newer or remaining <= 0:
                return newer
            _condition.wait(remaining)
