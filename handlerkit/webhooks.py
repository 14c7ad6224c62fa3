"""Webhook signatures: verifying Stripe, GitHub and generic HMAC signatures over the raw body.

The three ``verify_*`` functions work on the exact bytes received, compare
digests in constant time (``hmac.compare_digest`` on bytes) and raise one
exception, :class:`SignatureError`: 400 when the signature header is missing
or malformed, 401 when it does not match or is too old.

:func:`with_webhook_signature` applies them to a handler before anything parses
the body, and keeps a replay guard in a store::

    from handlerkit import with_webhook_signature

    @with_webhook_signature(scheme="github", secret=os.environ["GITHUB_WEBHOOK_SECRET"])
    def POST(request, context):
        event = request.json()   # only reached for a genuine, first delivery
        ...
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, overload

from .context import RouteContext
from .direct import respond
from .errors import ApiError
from .handlers import adapt_inner, mark_wrapper
from .response import NextResponse
from .stores import Store, resolve_store

__all__ = [
    "SignatureError",
    "sign_github",
    "sign_stripe",
    "verify_github",
    "verify_hmac",
    "verify_stripe",
    "with_webhook_signature",
]

Secret = str | bytes | Sequence[str | bytes]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_GITHUB = re.compile(r"sha256=([0-9a-fA-F]{64})")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_DELIVERY = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_MAX_HEADER = 4096
_ENV_SECRET = {"stripe": "STRIPE_WEBHOOK_SECRET", "github": "GITHUB_WEBHOOK_SECRET"}
_HEADER = {"stripe": "Stripe-Signature", "github": "X-Hub-Signature-256"}


class SignatureError(ApiError):
    """Raised when a webhook signature is missing or malformed (400), or wrong or expired (401).

    Args:
        status: 400 or 401.
        code: ``missing_signature``, ``malformed_signature``,
            ``invalid_signature`` or ``signature_expired``.
        message: A generic sentence; it never echoes the header or the secret.
    """

    def __init__(
        self,
        status: int = 401,
        code: str = "invalid_signature",
        message: str = "The webhook signature does not match.",
    ) -> None:
        super().__init__(status, code, message)


def _missing(header: str) -> SignatureError:
    return SignatureError(400, "missing_signature", f"The {header} header is missing.")


def _malformed(message: str) -> SignatureError:
    return SignatureError(400, "malformed_signature", message)


def _secret_keys(secret: Secret) -> list[bytes]:
    items = [secret] if isinstance(secret, (str, bytes)) else list(secret)
    keys = [item.encode("utf-8") if isinstance(item, str) else bytes(item) for item in items]
    if not keys or not all(keys):
        raise ValueError("a webhook secret must be a non-empty str or bytes (or a list of them)")
    return keys


def _raw(payload: Any) -> bytes:
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise TypeError(
        "webhook payloads are verified over the raw request body: pass bytes "
        "(request.bytes()), never re-serialised JSON"
    )


def _any_match(expected: list[bytes], given: list[bytes]) -> bool:
    # Every pair is compared, so the time taken does not depend on which matched.
    matched = False
    for left in expected:
        for right in given:
            matched |= hmac.compare_digest(left, right)
    return matched


def _hmac_hex(keys: list[bytes], message: bytes) -> list[bytes]:
    return [hmac.new(key, message, hashlib.sha256).hexdigest().encode("ascii") for key in keys]


def verify_stripe(
    payload: bytes,
    header: str | None,
    secret: Secret,
    tolerance: float | None = 300,
    *,
    now: float | None = None,
) -> int:
    """Verify a ``Stripe-Signature`` header (``t=<unix time>,v1=<hex>[,v1=<hex>...]``).

    The signed message is ``b"<t>." + payload``, HMAC-SHA256 with the
    endpoint secret. Several ``v1`` values are allowed (secret rotation): one
    matching is enough. Other schemes (``v0``) are ignored, so a header with
    only ``v0`` is refused.

    Args:
        payload: The raw request body.
        header: The ``Stripe-Signature`` value.
        secret: The endpoint secret (``whsec_...``), or a list of them.
        tolerance: The most seconds between the signed timestamp and now
            (either way); ``None`` skips the check.
        now: The current Unix time (tests).

    Returns:
        The signed timestamp.

    Raises:
        SignatureError: 400 for a missing or malformed header, 401 for no
            matching signature or a timestamp outside the tolerance.
    """
    body = _raw(payload)
    if not header:
        raise _missing("Stripe-Signature")
    if len(header) > _MAX_HEADER:
        raise _malformed("The Stripe-Signature header is too long.")
    timestamp: int | None = None
    signatures: list[bytes] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key:
            raise _malformed("The Stripe-Signature header must be key=value pairs.")
        if key == "t":
            if timestamp is not None or not (
                value.isascii() and value.isdigit() and len(value) <= 12
            ):
                raise _malformed("The Stripe-Signature timestamp is invalid.")
            timestamp = int(value)
        elif key == "v1":
            if not _HEX64.fullmatch(value):
                raise _malformed("A v1 signature must be 64 hex digits.")
            signatures.append(value.lower().encode("ascii"))
    if timestamp is None:
        raise _malformed("The Stripe-Signature header has no timestamp.")
    if not signatures:
        raise _malformed("The Stripe-Signature header has no v1 signature.")
    expected = _hmac_hex(_secret_keys(secret), str(timestamp).encode("ascii") + b"." + body)
    if not _any_match(expected, signatures):
        raise SignatureError()
    if tolerance is not None:
        current = time.time() if now is None else now
        if abs(current - timestamp) > tolerance:
            raise SignatureError(
                401, "signature_expired", "The webhook timestamp is outside the tolerance."
            )
    return timestamp


def verify_github(payload: bytes, header: str | None, secret: Secret) -> None:
    """Verify an ``X-Hub-Signature-256`` header (``sha256=<64 hex digits>``).

    Only ``sha256=`` is accepted: the legacy ``X-Hub-Signature`` (``sha1=``),
    other lengths and any whitespace are refused.

    Args:
        payload: The raw request body.
        header: The ``X-Hub-Signature-256`` value.
        secret: The webhook secret, or a list of them.

    Raises:
        SignatureError: 400 for a missing or malformed header, 401 for a
            signature that does not match.
    """
    body = _raw(payload)
    if not header:
        raise _missing("X-Hub-Signature-256")
    match = _GITHUB.fullmatch(header)
    if match is None:
        raise _malformed("The X-Hub-Signature-256 header must be sha256= and 64 hex digits.")
    given = [match.group(1).lower().encode("ascii")]
    if not _any_match(_hmac_hex(_secret_keys(secret), body), given):
        raise SignatureError()


def verify_hmac(
    payload: bytes,
    signature: str | None,
    secret: Secret,
    *,
    algorithm: str = "sha256",
    encoding: str = "hex",
    prefix: str = "",
) -> None:
    """Verify a plain HMAC of the body, as many providers send it.

    Args:
        payload: The raw request body.
        signature: The header value, for example ``"sha512=ab12..."``.
        secret: The shared secret, or a list of them.
        algorithm: A ``hashlib`` name (``"sha256"``, ``"sha512"``, ``"sha1"``).
        encoding: ``"hex"``, ``"base64"`` or ``"base64url"``.
        prefix: A literal prefix the header must start with (``"sha256="``).

    Raises:
        SignatureError: 400 when *signature* is missing, lacks *prefix*, or is
            not a well-formed digest of the right length; 401 when it does
            not match.
        ValueError: An unknown *algorithm* or *encoding* (a programming error).
    """
    body = _raw(payload)
    if algorithm not in hashlib.algorithms_available:
        raise ValueError(f"unknown hash algorithm {algorithm!r}")
    if encoding not in ("hex", "base64", "base64url"):
        raise ValueError("encoding must be 'hex', 'base64' or 'base64url'")
    if not signature:
        raise _missing("signature")
    if not signature.startswith(prefix):
        raise _malformed("The signature header has an unexpected format.")
    value = signature[len(prefix) :]
    size = hashlib.new(algorithm).digest_size
    try:
        if encoding == "hex":
            if not _HEX.fullmatch(value):
                raise ValueError
            given = bytes.fromhex(value)
        elif encoding == "base64":
            if not _BASE64.fullmatch(value):
                raise ValueError
            given = base64.b64decode(value, validate=True)
        else:
            if not _BASE64URL.fullmatch(value):
                raise ValueError
            # Strict: the unpadded form, or the padded form with exactly the right "=".
            bare = value.rstrip("=")
            if len(bare) % 4 == 1 or (value != bare and len(value) % 4):
                raise ValueError
            given = base64.b64decode(bare + "=" * (-len(bare) % 4), altchars=b"-_", validate=True)
    except (ValueError, binascii.Error):
        raise _malformed("The signature is not a valid digest.") from None
    if len(given) != size:
        raise _malformed("The signature has the wrong length.")
    expected = [hmac.new(key, body, algorithm).digest() for key in _secret_keys(secret)]
    if not _any_match(expected, [given]):
        raise SignatureError()


def sign_stripe(payload: bytes, secret: str | bytes, timestamp: int | None = None) -> str:
    """Return a ``Stripe-Signature`` value for *payload* (for tests and local tools)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = _hmac_hex(_secret_keys(secret), str(stamp).encode("ascii") + b"." + _raw(payload))[0]
    return f"t={stamp},v1={digest.decode('ascii')}"


def sign_github(payload: bytes, secret: str | bytes) -> str:
    """Return an ``X-Hub-Signature-256`` value for *payload* (for tests and local tools)."""
    return "sha256=" + _hmac_hex(_secret_keys(secret), _raw(payload))[0].decode("ascii")


# -- the wrapper ---------------------------------------------------------------

Verifier = Callable[[Any, bytes, Secret], "str | None"]


@overload
def with_webhook_signature(handler: Callable[..., Any], /) -> Callable[..., Any]: ...


@overload
def with_webhook_signature(
    handler: None = None,
    /,
    *,
    scheme: str | Verifier = "stripe",
    secret: Secret | Callable[[], Secret] | None = None,
    tolerance: float | None = 300,
    store: Store | str | None = None,
    dedupe: bool = True,
    ttl: float = 3 * 24 * 3600,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...


def with_webhook_signature(
    handler: Callable[..., Any] | None = None,
    /,
    *,
    scheme: str | Verifier = "stripe",
    secret: Secret | Callable[[], Secret] | None = None,
    tolerance: float | None = 300,
    store: Store | str | None = None,
    dedupe: bool = True,
    ttl: float = 3 * 24 * 3600,
) -> Any:
    """Verify a webhook's signature over the raw body before the handler runs, and drop replays.

    Refusals come before any JSON parsing, in the one error shape: 400 for a
    missing or malformed signature header, 401 for a wrong or expired
    signature, and 413 (from the route's ``max_body_size``) for a body over
    the limit, before any HMAC is computed.

    Replays: Stripe signatures older than *tolerance* are refused. With
    *dedupe*, a delivery already processed within *ttl* seconds is answered
    ``200 {"received": true, "duplicate": true}`` without calling the
    handler. A delivery is known by its Stripe event ``id``, or for GitHub by
    its ``X-GitHub-Delivery`` id and by its signature (so a captured request
    replayed under a new delivery id is still caught). If the handler raises
    or answers 5xx, the delivery is forgotten so the sender's retry is
    processed.

    Args:
        handler: The handler (when used bare).
        scheme: ``"stripe"``, ``"github"``, or a callable
            ``(request, payload, secret) -> id | None`` that raises
            :class:`SignatureError` and returns an id for de-duplication.
        secret: The secret, a rotation list, or a zero-argument callable
            returning either (read per request). ``None`` reads
            ``STRIPE_WEBHOOK_SECRET`` or ``GITHUB_WEBHOOK_SECRET``.
        tolerance: Stripe's timestamp tolerance in seconds.
        store: Where seen deliveries are kept: a :class:`~handlerkit.stores.Store`,
            a store URL, or ``None`` for a per-process ``MemoryStore``. Use
            Redis when several workers or hosts receive webhooks.
        dedupe: Whether to drop repeated deliveries.
        ttl: How long a delivery is remembered, in seconds.
    """
    if isinstance(scheme, str) and scheme not in _HEADER:
        raise ValueError(f"scheme must be 'stripe', 'github' or a callable, not {scheme!r}")
    if secret is None and not isinstance(scheme, str):
        raise ValueError("a custom webhook scheme needs an explicit secret")

    def decorate(inner: Callable[..., Any]) -> Callable[..., Any]:
        call = adapt_inner(inner)
        seen = resolve_store(store) if dedupe else None
        name = scheme if isinstance(scheme, str) else getattr(scheme, "__name__", "custom")

        @functools.wraps(inner)
        def wrapped(request: Any, context: RouteContext | None = None) -> Any:
            if context is None:  # called directly: answer as the App would
                return respond(wrapped, request)
            keys = _resolve_secret(secret, scheme)
            if scheme == "stripe":
                header = request.headers.get("Stripe-Signature")
                if not header:
                    raise _missing("Stripe-Signature")
                payload = request.bytes()  # 413 over the limit, before any HMAC work
                verify_stripe(payload, header, keys, tolerance)
                ids = [f"event:{event_id}"] if (event_id := _stripe_event_id(request)) else []
            elif scheme == "github":
                header = request.headers.get("X-Hub-Signature-256")
                if not header:
                    raise _missing("X-Hub-Signature-256")
                payload = request.bytes()
                verify_github(payload, header, keys)
                ids = [f"sig:{header[7:].lower()}"]
                delivery = request.headers.get("X-GitHub-Delivery")
                if delivery:
                    if not _DELIVERY.fullmatch(delivery):
                        raise ApiError(
                            400, "invalid_delivery", "The X-GitHub-Delivery header is malformed."
                        )
                    ids.insert(0, f"delivery:{delivery}")
            else:
                payload = request.bytes()
                found = scheme(request, payload, keys)  # type: ignore[operator]
                # The returned id may come from an unsigned header; the body hash
                # is covered by the signature, so a replay under a fresh id is caught.
                ids = [f"id:{found}"] if found else []
                ids.append("body:" + hashlib.sha256(payload).hexdigest())
            context.state.webhook_verified = True
            if seen is None or not ids:
                return call(request, context)
            claimed: list[str] = []
            try:
                for item in ids:
                    key = f"handlerkit:webhook:{name}:{item}"
                    if not seen.add(key, b"1", ttl):
                        _release(seen, claimed)
                        context.state.webhook_duplicate = True
                        return NextResponse.json({"received": True, "duplicate": True})
                    claimed.append(key)
            except BaseException:
                _release(seen, claimed)
                raise
            try:
                response = call(request, context)
            except BaseException:
                _release(seen, claimed)
                raise
            if getattr(response, "status_code", 200) >= 500:
                _release(seen, claimed)
            return response

        return mark_wrapper(wrapped, "with_webhook_signature", scheme=name, dedupe=seen is not None)

    if handler is not None:
        return decorate(handler)
    return decorate


def _release(store: Store, keys: list[str]) -> None:
    for key in keys:
        store.delete(key)


def _resolve_secret(secret: Any, scheme: Any) -> Secret:
    value = secret() if callable(secret) else secret
    if value is None:
        variable = _ENV_SECRET[scheme]
        value = os.environ.get(variable)
        if not value:
            raise RuntimeError(
                f"with_webhook_signature: no secret given and ${variable} is not set"
            )
    return value  # type: ignore[no-any-return]


def _stripe_event_id(request: Any) -> str | None:
    try:
        data = request.json()
    except ApiError:
        return None
    event_id = data.get("id") if isinstance(data, dict) else None
    if isinstance(event_id, str) and _DELIVERY.fullmatch(event_id):
        return event_id
    return None
