"""An in-memory user store shared by the hello routes (per process)."""

from __future__ import annotations

import itertools
import threading

_lock = threading.Lock()
_ids = itertools.count(3)
USERS: dict[str, dict[str, str]] = {
    "1": {"id": "1", "name": "Ada Lovelace"},
    "2": {"id": "2", "name": "Alan Turing"},
}


def create(name: str) -> dict[str, str]:
    with _lock:
        user = {"id": str(next(_ids)), "name": name}
        USERS[user["id"]] = user
    return user
