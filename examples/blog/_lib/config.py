"""The blog's settings, read from the environment when the app is built.

- ``BLOG_DB``: the SQLite file, created on first use
  (default ``handlerkit-blog.sqlite3`` in the system temp folder);
- ``BLOG_SECRET_KEY``: signs login tokens; comma-separated to rotate (default:
  a development key, with a warning);
- ``BLOG_CORS_ORIGIN``: the browser origin allowed to call the API
  (default ``http://localhost:3000``);
- ``BLOG_TOKEN_MAX_AGE``: seconds a login token stays valid (default 28800);
- ``BLOG_PBKDF2_ITERATIONS``: work factor for new password hashes (default 600000).

Route modules are imported once per ``App``, so each new ``App`` (each
gunicorn worker, each test) reads the environment afresh.
"""

from __future__ import annotations

import logging
import os
import tempfile

logger = logging.getLogger("blog")

#: Used when BLOG_SECRET_KEY is unset: fine on a laptop, forgeable anywhere else.
DEV_SECRET_KEY = "blog-dev-secret-change-me"

#: The login cookie; it carries the same signed token as the Bearer header.
COOKIE_NAME = "blog_token"

#: itsdangerous salt for login tokens, so no other signed value passes as one.
TOKEN_SALT = "blog.login"


def db_path() -> str:
    """Return the SQLite file path (``BLOG_DB``, or a file in the temp directory)."""
    return os.environ.get("BLOG_DB") or os.path.join(
        tempfile.gettempdir(), "handlerkit-blog.sqlite3"
    )


def secret_key() -> list[str]:
    """Return the signing keys, oldest first; warn when the development key is used."""
    raw = os.environ.get("BLOG_SECRET_KEY", "")
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    if not keys:
        logger.warning(
            "BLOG_SECRET_KEY is not set: login tokens are signed with a development key "
            "anyone can read in the source. Set BLOG_SECRET_KEY before exposing the blog."
        )
        keys = [DEV_SECRET_KEY]
    return keys


def cors_origin() -> str:
    """Return the one browser origin allowed to call the API cross-origin."""
    return os.environ.get("BLOG_CORS_ORIGIN", "http://localhost:3000")


def token_max_age() -> int:
    """Return how many seconds a login token is accepted."""
    return int(os.environ.get("BLOG_TOKEN_MAX_AGE", "28800"))


def pbkdf2_iterations() -> int:
    """Return the PBKDF2 work factor for hashes made now (stored hashes keep their own)."""
    return int(os.environ.get("BLOG_PBKDF2_ITERATIONS", "600000"))
