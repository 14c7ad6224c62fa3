"""Signed, expiring tokens on itsdangerous, shared by auth and signed cookies.

Secrets may be a single key or a list of keys, oldest first, as itsdangerous
orders them: the last key signs, every key verifies. Rotate by appending a new
key and dropping the oldest once its tokens have expired.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import threading
import time
import zlib
from collections.abc import Sequence
from typing import Any, Union

from itsdangerous import (
    BadData,
    BadPayload,
    SignatureExpired,
    TimestampSigner,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_decode, base64_encode
from itsdangerous.signer import HMACAlgorithm

from .errors import ApiError, HandlerKitError

__all__ = [
    "MAX_PAYLOAD_SIZE",
    "SecretKey",
    "TokenError",
    "issue_token",
    "make_serializer",
    "verify_token",
]

#: A secret, or a list of secrets oldest first (the last one signs).
SecretKey = Union[str, bytes, Sequence[Union[str, bytes]]]

DEFAULT_SALT = "handlerkit.token"

#: The most bytes of JSON a token's payload may hold, compressed or not. A token
#: travels in a header or a cookie (8 KiB at most under gunicorn), but zlib can
#: expand that a thousandfold; a payload is refused before it grows past this.
MAX_PAYLOAD_SIZE = 64 * 1024


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


class _SHA1(HMACAlgorithm):
    """HMAC-SHA1 in one C call (``hmac.digest``); the same bytes as itsdangerous' default."""

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, "sha1")


class _Signer(TimestampSigner):
    """itsdangerous' ``TimestampSigner`` with the derived keys computed once, not per call.

    Signatures are byte-identical to the stock signer's (the same HMAC-SHA1 key
    derivation and MAC), so tokens move freely between the two.
    """

    # PERF: the stock signer derives its key with a pure-Python HMAC on every
    # sign and verify; caching the derived keys and using the C HMAC took
    # URLSafeTimedSerializer.loads from 44.6 to 29.3 µs (endpoint E's token,
    # timeit on 2026-11-21); with the memory of verified tokens, with_auth went
    # from 58.7 to 7.6 µs (benchmarks/wrappers.py, benchmarks/results/2026-11-21.md).
    default_digest_method = staticmethod(hashlib.sha1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.algorithm = _SHA1(hashlib.sha1)
        self._derived: dict[bytes | str | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        derived = self._derived.get(secret_key)
        if derived is None:
            derived = self._derived[secret_key] = super().derive_key(secret_key)
        return derived


class _Serializer(URLSafeTimedSerializer):
    """A ``URLSafeTimedSerializer`` that builds its signer once per salt instead of per call."""

    default_signer = _Signer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signers: dict[str | bytes | None, Any] = {}

    def make_signer(self, salt: str | bytes | None = None) -> Any:
        signer = self._signers.get(salt)
        if signer is None:
            signer = self._signers[salt] = super().make_signer(salt)
        return signer

    def load_payload(self, payload: bytes, *args: Any, **kwargs: Any) -> Any:
        """Decode a verified payload, refusing one over :data:`MAX_PAYLOAD_SIZE` (``BadPayload``).

        A compressed payload (``.`` + base64 of zlib) is inflated here, at most
        one byte past the limit, instead of by itsdangerous' unbounded
        ``zlib.decompress``; the JSON then goes through the stock decoder.
        """
        if len(payload) > MAX_PAYLOAD_SIZE * 4 // 3 + 4:
            raise BadPayload("the payload is too large")
        if payload.startswith(b"."):
            try:
                inflater = zlib.decompressobj()
                data = inflater.decompress(base64_decode(payload[1:]), MAX_PAYLOAD_SIZE + 1)
            except Exception as exc:  # noqa: BLE001 - any failure to inflate is a bad payload
                message = "the payload could not be decompressed"
                raise BadPayload(message, original_error=exc) from exc
            if len(data) > MAX_PAYLOAD_SIZE or not inflater.eof:
                raise BadPayload("the payload is too large or truncated")
            payload = base64_encode(data)
        return super().load_payload(payload, *args, **kwargs)


def make_serializer(secret_key: SecretKey | None, salt: str = DEFAULT_SALT) -> URLSafeTimedSerializer:
    """Return an itsdangerous serializer for *secret_key* (a key or a rotation list) and *salt*.

    Serializers are immutable and thread-safe, so one is built per key set and
    salt and reused. Its tokens are the stock ``URLSafeTimedSerializer``'s,
    byte for byte.
    """
    # PERF: building a serializer cost 14 µs of a 49 µs verify_token (endpoint E,
    # benchmarks/results/2026-11-21.md); the cache is keyed by the keys themselves.
    return verifier_for(secret_key, salt).serializer


#: How many verified tokens each key set and salt remembers.
VERIFIED_CACHE_SIZE = 1024


class _Verifier:
    """A serializer plus a bounded memory of tokens it has already verified.

    Only tokens whose signature checked out are remembered, keyed by the exact
    token, with their signing time and payload JSON. A repeat costs a dict
    lookup, the age check against the current time and a fresh ``json.loads``
    (so no caller can change another's payload). A changed key set or salt is
    another ``_Verifier``, so rotation never reuses an old verdict.
    """

    def __init__(self, keys: tuple[str | bytes, ...], salt: str) -> None:
        # itsdangerous accepts a list of str | bytes keys, oldest first.
        self.serializer = _Serializer(list(keys), salt=salt)
        self._seen: dict[str | bytes, tuple[int, str]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str | bytes, max_age: int | float | None) -> Any:
        seen = self._seen.get(token)
        if seen is None:
            payload, signed_at = self.serializer.loads(
                token,
                max_age=max_age,  # type: ignore[arg-type]  # float ages work
                return_timestamp=True,
            )
            timestamp = int(signed_at.timestamp())
            with self._lock:
                if len(self._seen) >= VERIFIED_CACHE_SIZE:
                    self._seen.pop(next(iter(self._seen)))  # the oldest entry
                self._seen[token] = (timestamp, json.dumps(payload))
            return payload
        timestamp, text = seen
        if max_age is not None:
            age = int(time.time()) - timestamp  # whole seconds, as itsdangerous counts
            if age > max_age or age < 0:
                raise SignatureExpired("token expired")
        return json.loads(text)


@functools.lru_cache(maxsize=64)
def _verifier(keys: tuple[str | bytes, ...], salt: str) -> _Verifier:
    return _Verifier(keys, salt)


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
    return verify_with(verifier_for(secret_key, salt), token, max_age)


def verifier_for(secret_key: SecretKey | None, salt: str = DEFAULT_SALT) -> _Verifier:
    """Return the verifier of *secret_key* and *salt*, for :func:`verify_with` (built once, shared)."""
    return _verifier(tuple(_keys(secret_key)), salt)


def verify_with(verifier: _Verifier, token: str | bytes, max_age: int | float | None) -> Any:
    """:func:`verify_token` with the verifier looked up beforehand (``with_auth`` does it once)."""
    try:
        # PERF: a repeat of an already verified token skips the HMAC and the
        # base64/JSON decoding of itsdangerous: verify_token 43 -> 5 µs for endpoint E's
        # token (timeit, 2026-11-21).
        return verifier.verify(token, max_age)
    except (BadData, ValueError, TypeError, UnicodeError) as exc:
        # BadData: a bad or expired signature, and a validly signed payload
        # that is not JSON or is too large (BadPayload).
        raise TokenError() from exc
