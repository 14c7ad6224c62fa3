"""The accepted image types, the names stored images get, and where they are stored.

The client's file name is never used as a path: the stored name is generated
here from random bytes and the type the file's first bytes show.

Settings: ``UPLOADS_DIR``, the folder images are written to (default
``handlerkit-uploads`` in the system temp folder), and ``UPLOADS_MAX_BYTES``,
the largest accepted image (default 5 MiB).
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile

#: Detected type -> file extension; the only types accepted.
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
CONTENT_TYPES = {extension: content_type for content_type, extension in EXTENSIONS.items()}

#: A stored name: 22 URL-safe random characters and a known extension, nothing else.
STORED_NAME = re.compile(r"\A[A-Za-z0-9_-]{22}\.(png|jpg|gif|webp)\Z")


def max_bytes() -> int:
    """Return the largest accepted image size in bytes."""
    return int(os.environ.get("UPLOADS_MAX_BYTES", str(5 * 1024 * 1024)))


def upload_dir() -> str:
    """Return the folder images are stored in, creating it if needed."""
    path = os.environ.get("UPLOADS_DIR") or os.path.join(
        tempfile.gettempdir(), "handlerkit-uploads"
    )
    os.makedirs(path, exist_ok=True)
    return path


def new_name(content_type: str) -> str:
    """Return a fresh, unguessable file name for an image of *content_type*."""
    return f"{secrets.token_urlsafe(16)}.{EXTENSIONS[content_type]}"


def stored_path(name: str) -> str | None:
    """Return the path of the stored image *name*; ``None`` when we could not have made *name*."""
    if not STORED_NAME.match(name):
        return None
    return os.path.join(upload_dir(), name)
