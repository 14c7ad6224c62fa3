"""Exactly-once processing of webhook deliveries, on SQLite.

Senders retry, and a replay guard in one worker's memory does not see the
other workers. So every delivery is recorded in the ``deliveries`` table in the
same transaction as its side effects: the first transaction to insert the id
applies them; every later copy finds the id taken and changes nothing. If
processing fails, the transaction rolls back and the sender's retry starts over.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, timezone

from . import config

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS deliveries (
        source TEXT NOT NULL,
        id TEXT NOT NULL,
        kind TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (source, id)
    )""",
    """CREATE TABLE IF NOT EXISTS orders (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        amount INTEGER,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS subscriptions (
        id TEXT PRIMARY KEY,
        customer TEXT,
        status TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS pushes (
        delivery TEXT PRIMARY KEY,
        repository TEXT NOT NULL,
        ref TEXT NOT NULL,
        commits INTEGER NOT NULL,
        received_at TEXT NOT NULL
    )""",
)

_ready: set[str] = set()
_lock = threading.Lock()


def now() -> str:
    """Return the current UTC time as ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _open(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=10, isolation_level=None)
    connection.row_factory = sqlite3.Row
    return connection


def _initialize(path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    connection = _open(path)
    try:
        with contextlib.suppress(sqlite3.OperationalError):
            connection.execute("PRAGMA journal_mode = WAL")
        for statement in SCHEMA:
            connection.execute(statement)
    finally:
        connection.close()


@contextlib.contextmanager
def connect() -> Iterator[sqlite3.Connection]:
    """Open the database for one write transaction (``BEGIN IMMEDIATE``), committed on success."""
    path = config.db_path()
    if path not in _ready:
        with _lock:
            if path not in _ready:
                _initialize(path)
                _ready.add(path)
    connection = _open(path)
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    finally:
        connection.close()


def first_time(connection: sqlite3.Connection, source: str, delivery_id: str, kind: str) -> bool:
    """Record the delivery; return ``False`` when it was already recorded (a replay)."""
    cursor = connection.execute(
        "INSERT OR IGNORE INTO deliveries (source, id, kind, received_at) VALUES (?, ?, ?, ?)",
        (source, delivery_id, kind, now()),
    )
    return cursor.rowcount == 1
