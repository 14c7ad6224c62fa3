"""The blog's storage: one SQLite file through the standard library's ``sqlite3``.

The schema is created, and demo accounts and posts are seeded, the first time
a process opens a database file that has none; every gunicorn worker may race
to do it, so it runs inside one ``BEGIN IMMEDIATE`` transaction. Each request
opens its own short-lived connection (cheap for SQLite, and safe with threads).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from . import config
from .passwords import hash_password

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('author', 'admin')),
        password_hash TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS posts (
        id INTEGER PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        content TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        published INTEGER NOT NULL DEFAULT 0,
        author_id INTEGER NOT NULL REFERENCES users(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        published_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS post_tags (
        post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (post_id, tag)
    )""",
    "CREATE INDEX IF NOT EXISTS posts_listing ON posts (published, created_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS post_tags_tag ON post_tags (tag, post_id)",
)

#: Demo accounts: (username, display name, role, password). The README lists them.
SEED_USERS = (
    ("alice", "Alice Liddell", "author", "alice-wonderland"),
    ("bob", "Bob Builder", "author", "bob-can-fix-it"),
    ("admin", "Site Admin", "admin", "admin-change-me"),
)

SEED_POSTS = (
    (
        "alice",
        "Hello from handlerkit",
        "A first post, served by a tree of route.py files.",
        ["intro", "python"],
        True,
    ),
    (
        "bob",
        "Wrappers all the way down",
        "compose(with_cors, with_auth, with_validation) reads outside in.",
        ["python"],
        True,
    ),
    (
        "alice",
        "Draft: SQLite notes",
        "Unpublished thoughts on the stdlib sqlite3 module.",
        ["sqlite"],
        False,
    ),
)

_ready: set[str] = set()
_ready_lock = threading.Lock()


class SlugTakenError(Exception):
    """Raised by :func:`create_post` when another post already has the slug."""


def now() -> str:
    """Return the current UTC time as an ISO 8601 string."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _open(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=10, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def initialize(path: str) -> None:
    """Create the schema and seed data in the file at *path* unless it already has them."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    connection = _open(path)
    try:
        with contextlib.suppress(sqlite3.OperationalError):
            connection.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in SCHEMA:
                connection.execute(statement)
            if connection.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0:
                _seed(connection)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()


def _seed(connection: sqlite3.Connection) -> None:
    ids = {}
    for username, name, role, password in SEED_USERS:
        cursor = connection.execute(
            "INSERT INTO users (username, name, role, password_hash) VALUES (?, ?, ?, ?)",
            (username, name, role, hash_password(password)),
        )
        ids[username] = cursor.lastrowid
    for username, title, content, tags, published in SEED_POSTS:
        _insert_post(connection, ids[username], slugify(title), title, content, tags, published)


@contextlib.contextmanager
def connect() -> Iterator[sqlite3.Connection]:
    """Open the configured database (initialising it once per process) for one unit of work.

    The block runs in a transaction that commits when it ends normally and
    rolls back when it raises.
    """
    path = config.db_path()
    if path not in _ready:
        with _ready_lock:
            if path not in _ready:
                initialize(path)
                _ready.add(path)
    connection = _open(path)
    try:
        connection.execute("BEGIN")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    finally:
        connection.close()


# -- slugs -----------------------------------------------------------------


def slugify(title: str) -> str:
    """Return the URL slug for *title*: lower-case ASCII letters and digits joined by ``-``.

    Accents are folded (``"Café"`` gives ``"cafe"``); a title with no letter or
    digit at all gives ``""``.
    """
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:120].rstrip("-")


# -- users -----------------------------------------------------------------


def find_user(connection: sqlite3.Connection, username: str) -> sqlite3.Row | None:
    """Return the user row called *username*, or ``None``."""
    return connection.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()


# -- posts -----------------------------------------------------------------

_POST_COLUMNS = """
    SELECT p.*, u.username AS author_username, u.name AS author_name
    FROM posts p JOIN users u ON u.id = p.author_id
"""


def post_json(row: sqlite3.Row) -> dict[str, Any]:
    """Return the public JSON shape of a post row."""
    return {
        "id": row["id"],
        "slug": row["slug"],
        "title": row["title"],
        "content": row["content"],
        "tags": json.loads(row["tags"]),
        "published": bool(row["published"]),
        "author": {
            "id": row["author_id"],
            "username": row["author_username"],
            "name": row["author_name"],
        },
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "publishedAt": row["published_at"],
    }


def list_posts(
    connection: sqlite3.Connection,
    *,
    page: int,
    limit: int,
    published: bool = True,
    tag: str | None = None,
    author_id: int | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Return one page of posts, newest first, and the pagination meta.

    Args:
        connection: An open connection.
        page: 1-based page number.
        limit: Posts per page.
        published: List published posts, or drafts.
        tag: Only posts carrying this tag.
        author_id: Only posts by this author (``None``: everyone's).

    Returns:
        ``(posts, {"page", "limit", "total", "totalPages"})``.
    """
    where = ["p.published = ?"]
    args: list[Any] = [int(published)]
    if tag is not None:
        where.append("EXISTS (SELECT 1 FROM post_tags t WHERE t.post_id = p.id AND t.tag = ?)")
        args.append(tag)
    if author_id is not None:
        where.append("p.author_id = ?")
        args.append(author_id)
    clause = " WHERE " + " AND ".join(where)
    total = connection.execute("SELECT COUNT(*) FROM posts p" + clause, args).fetchone()[0]
    rows = connection.execute(
        _POST_COLUMNS + clause + " ORDER BY p.created_at DESC, p.id DESC LIMIT ? OFFSET ?",
        [*args, limit, (page - 1) * limit],
    ).fetchall()
    meta = {"page": page, "limit": limit, "total": total, "totalPages": math.ceil(total / limit)}
    return [post_json(row) for row in rows], meta


def get_post(connection: sqlite3.Connection, slug: str) -> sqlite3.Row | None:
    """Return the post row with *slug* (and its author's name), or ``None``."""
    return connection.execute(_POST_COLUMNS + " WHERE p.slug = ?", (slug,)).fetchone()


def _insert_post(
    connection: sqlite3.Connection,
    author_id: int,
    slug: str,
    title: str,
    content: str,
    tags: list[str],
    published: bool,
) -> int:
    stamp = now()
    cursor = connection.execute(
        "INSERT INTO posts (slug, title, content, tags, published, author_id,"
        " created_at, updated_at, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            slug,
            title,
            content,
            json.dumps(tags),
            int(published),
            author_id,
            stamp,
            stamp,
            stamp if published else None,
        ),
    )
    post_id = cursor.lastrowid
    assert post_id is not None
    connection.executemany(
        "INSERT OR IGNORE INTO post_tags (post_id, tag) VALUES (?, ?)",
        [(post_id, tag) for tag in tags],
    )
    return post_id


def create_post(
    connection: sqlite3.Connection, author_id: int, slug: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Insert a post and return its JSON shape.

    Raises:
        SlugTakenError: another post has *slug*; the UNIQUE constraint decides, so
            two concurrent creates cannot both win.
    """
    try:
        _insert_post(
            connection,
            author_id,
            slug,
            data["title"],
            data["content"],
            data.get("tags", []),
            data.get("published", False),
        )
    except sqlite3.IntegrityError as exc:
        raise SlugTakenError(slug) from exc
    row = get_post(connection, slug)
    assert row is not None
    return post_json(row)


def update_post(
    connection: sqlite3.Connection, row: sqlite3.Row, changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply *changes* (title, content, tags, published) to the post *row* and return it.

    The slug never changes, so links to the post keep working after a retitle.
    ``publishedAt`` is set the first time a post becomes published.
    """
    if not changes:
        return post_json(row)
    fields: dict[str, Any] = {}
    for key in ("title", "content"):
        if key in changes:
            fields[key] = changes[key]
    if "tags" in changes:
        fields["tags"] = json.dumps(changes["tags"])
        connection.execute("DELETE FROM post_tags WHERE post_id = ?", (row["id"],))
        connection.executemany(
            "INSERT OR IGNORE INTO post_tags (post_id, tag) VALUES (?, ?)",
            [(row["id"], tag) for tag in changes["tags"]],
        )
    stamp = now()
    if "published" in changes:
        fields["published"] = int(changes["published"])
        if changes["published"] and row["published_at"] is None:
            fields["published_at"] = stamp
    fields["updated_at"] = stamp
    assignments = ", ".join(
        f"{column} = ?" for column in fields
    )  # column names are ours, not input
    connection.execute(
        f"UPDATE posts SET {assignments} WHERE id = ?", [*fields.values(), row["id"]]
    )
    updated = get_post(connection, row["slug"])
    assert updated is not None
    return post_json(updated)


def delete_post(connection: sqlite3.Connection, row: sqlite3.Row) -> None:
    """Delete the post *row* and its tags."""
    connection.execute("DELETE FROM posts WHERE id = ?", (row["id"],))
