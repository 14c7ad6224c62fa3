"""An in-memory user table for the seed routes (per process; tests call reset())."""

from __future__ import annotations

import itertools
import threading

_lock = threading.Lock()
USERS: dict[str, dict[str, str]] = {}
_ids = itertools.count(1)


def reset() -> None:
    """Empty the table and add the two starting users."""
    global _ids
    with _lock:
        USERS.clear()
        _ids = itertools.count(1)
    insert("Ada Lovelace", "ada@example.com")
    insert("Alan Turing", "alan@example.com")


def insert(name: str, email: str, role: str = "user") -> dict[str, str]:
    """Add a user and return it."""
    with _lock:
        user = {"id": str(next(_ids)), "name": name, "email": email, "role": role}
        USERS[user["id"]] = user
    return user


def find_by_email(email: str) -> dict[str, str] | None:
    """Return the user with this e-mail address, or None."""
    return next((u for u in USERS.values() if u["email"] == email), None)


reset()
