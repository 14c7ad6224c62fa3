"""Notes kept in memory: per process, so each gunicorn worker has its own (fine for an example)."""

from __future__ import annotations

import itertools
import threading
from typing import Any

_lock = threading.Lock()
_ids = itertools.count(3)
NOTES: dict[str, dict[str, Any]] = {
    "1": {"id": "1", "text": "Flask keeps serving the pages."},
    "2": {"id": "2", "text": "handlerkit serves /api."},
}


def add(text: str) -> dict[str, Any]:
    """Store a note and return it."""
    with _lock:
        note = {"id": str(next(_ids)), "text": text}
        NOTES[note["id"]] = note
    return note
