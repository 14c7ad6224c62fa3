"""Signed, expiring tokens on itsdangerous, shared by auth and signed cookies.

Secrets may be a single key or a list of keys, oldest first, as itsdangerous
orders them: the last key signs, every key verifies. Rotate by appending a new
key and dropping the oldest once its tokens have expired.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Union

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .errors import ApiError, HandlerKitError

__all__ = ["SecretKey", "TokenError", "issue_token", "make_serializer", "verify_token"]

#: A secret, or a list of secrets oldest first (the last one signs).
SecretKey = Union[str, bytes, Sequence[Union[str, bytes]]]

DEFAULT_SALT = "handlerkit.token"


class TokenError(ApiError):
    """Raised by :func:`verify_token` for a missing, tampered, expired or foreign token (401)."""

    def __init__(self, message: str = "The token is invalid or has expired.") -> None:
        super().__init__(
            401,
            "invalid_token",
            message,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


def _keys(secret_key: SecretKey | None) -> list[str | bytes]:
    if secret_key is None or (not isinstance(secret_key, (str, bytes)) and not secret_key):
        raise HandlerKitError("a secret_key is required; pass App(secret_key=...) or secret_key=")
    if isinstance(secret_key, (str, bytes)):
        return [secret_key]
    return list(secret_key)


def make_serializer(secret_key: SecretKey | None, salt: str = DEFAULT_SALT) -> URLSafeTimedSerializer:
    """Return an itsdangerous serializer for *secret_key* (a key or a rotation list) and *salt*.

    Serializers are immutable and thread-safe, so one is built per key set and
    salt and reused.
    """
    # PERF: building a serializer cost 14 µs of a 49 µs verify_token (endpoint E,
    # benchmarks/results/2026-11-21.md); the cache is keyed by the keys themselves.
    return _serializer(tuple(_keys(secret_key)), salt)


@functools.lru_cache(maxsize=64)
def _serializer(keys: tuple[str | bytes, ...], salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(list(keys), salt=salt)  # type: ignore[arg-type]  # itsdangerous accepts a list of str | bytes


def issue_token(payload: Any, *, secret_key: SecretKey, salt: str = DEFAULT_SALT) -> str:
    """Sign *payload* (anything JSON-serializable) into a URL-safe, timestamped token.

    Args:
        payload: The data to carry, for example ``{"sub": "42", "roles": ["admin"]}``.
        secret_key: A key or a rotation list; the last key signs.
        salt: Separates token purposes: a token issued for one salt never
            verifies under another.

    Returns:
        The token string.
    """
    token = make_serializer(secret_key, salt).dumps(payload)
    return token if isinstance(token, str) else token.decode("ascii")


def verify_token(
    token: str | bytes | None,
    *,
    secret_key: SecretKey,
    salt: str = DEFAULT_SALT,
    max_age: int | float | None = None,
) -> Any:
    """Return the payload of *token*, checking signature, salt and age.

    Args:
        token: The token to verify.
        secret_key: A key or a rotation list; every key is tried.
        salt: The purpose the token must have been issued for.
        max_age: Seconds after which the token is expired; ``None`` never expires.

    Returns:
        The payload given to :func:`issue_token`.

    Raises:
        TokenError: The token is empty, tampered with, truncated, expired or
            issued for another salt. The message never says which.
    """
    if not token:
        raise TokenError()
    try:
        return make_serializer(secret_key, salt).loads(token, max_age=max_age)  # type: ignore[arg-type]  # float ages work
    except SignatureExpired as exc:
        raise TokenError() from exc
    except (BadSignature, ValueError, TypeError, UnicodeError) as exc:
        raise TokenError() from exc
