"""Password hashing with PBKDF2-HMAC-SHA256 from the standard library.

A stored hash reads ``pbkdf2_sha256$<iterations>$<salt hex>$<digest hex>``, so
raising the work factor later never breaks existing accounts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from . import config

_ALGORITHM = "pbkdf2_sha256"


def hash_password(password: str, *, iterations: int | None = None) -> str:
    """Return a salted hash of *password* in the stored format."""
    rounds = iterations or config.pbkdf2_iterations()
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, rounds)
    return f"{_ALGORITHM}${rounds}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Return whether *password* matches *stored*, in constant time.

    With no stored hash (an unknown account) a throwaway hash is still
    computed, so the answer takes as long as for a real account and does not
    reveal which usernames exist.
    """
    if stored is None:
        hash_password(password)
        return False
    try:
        algorithm, rounds, salt_hex, digest_hex = stored.split("$")
        salt, expected, iterations = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex), int(rounds)
    except ValueError:
        return False
    if algorithm != _ALGORITHM:
        return False
    actual = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(actual, expected)
