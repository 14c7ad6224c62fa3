"""handlerkit.tokens: byte-compatible with itsdangerous, and a safe memory of verified tokens."""

from __future__ import annotations

import time
import zlib

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode

from handlerkit import tokens
from handlerkit.tokens import MAX_PAYLOAD_SIZE, TokenError, issue_token, make_serializer, verify_token

KEY = "tokens-test-key"


def test_tokens_are_interchangeable_with_the_stock_itsdangerous_serializer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stock = URLSafeTimedSerializer([KEY], salt="handlerkit.token")
    ours = make_serializer(KEY)
    assert verify_token(stock.dumps({"sub": "a"}), secret_key=KEY) == {"sub": "a"}
    assert stock.loads(issue_token({"sub": "b"}, secret_key=KEY)) == {"sub": "b"}
    # Same key, salt and second: the same bytes.
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_700_000_000)
    assert ours.dumps([1, "x"]) == stock.dumps([1, "x"])
    assert make_serializer(["old", KEY]).dumps({"a": 1}) == URLSafeTimedSerializer(
        ["old", KEY], salt="handlerkit.token"
    ).dumps({"a": 1})


def test_a_repeated_token_gets_a_fresh_payload_each_time() -> None:
    token = issue_token({"sub": "1", "roles": ["a"]}, secret_key=KEY)
    first = verify_token(token, secret_key=KEY)
    first["roles"].append("admin")  # a handler mutating its copy
    first["sub"] = "2"
    assert verify_token(token, secret_key=KEY) == {"sub": "1", "roles": ["a"]}


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = issue_token({"sub": "1"}, secret_key=KEY)
    assert verify_token(token, secret_key=KEY, max_age=60) == {"sub": "1"}
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 61)
    with pytest.raises(TokenError):
        verify_token(token, secret_key=KEY, max_age=60)
    monkeypatch.setattr(time, "time", lambda: real() - 3600)  # a clock stepped back
    with pytest.raises(TokenError):
        verify_token(token, secret_key=KEY, max_age=60)
    monkeypatch.undo()
    assert verify_token(token, secret_key=KEY, max_age=60) == {"sub": "1"}
    assert verify_token(token, secret_key=KEY) == {"sub": "1"}  # no max_age: never expires


def test_a_verdict_is_never_shared_across_keys_or_salts() -> None:
    token = issue_token({"sub": "1"}, secret_key=KEY)
    assert verify_token(token, secret_key=KEY) == {"sub": "1"}
    with pytest.raises(TokenError):
        verify_token(token, secret_key="another-key")
    with pytest.raises(TokenError):
        verify_token(token, secret_key=KEY, salt="password-reset")
    # Dropping the signing key from the rotation list revokes it at once.
    rotated = issue_token({"sub": "1"}, secret_key=["old", "new"])
    assert verify_token(rotated, secret_key=["old", "new"]) == {"sub": "1"}
    with pytest.raises(TokenError):
        verify_token(rotated, secret_key=["old"])


def test_tampered_tokens_are_refused_after_the_genuine_one_was_seen() -> None:
    token = issue_token({"sub": "1"}, secret_key=KEY)
    verify_token(token, secret_key=KEY)
    for bad in (token[:-1], token + "A", token[:-2] + ("AA" if token[-2:] != "AA" else "BB")):
        with pytest.raises(TokenError):
            verify_token(bad, secret_key=KEY)


def test_only_verified_tokens_are_remembered_and_the_memory_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_CACHE_SIZE", 3)
    key = "bounded-memory-key"
    verifier = tokens._verifier((key,), tokens.DEFAULT_SALT)
    for bad in ("x", "x.y.z", "a" * 500):
        with pytest.raises(TokenError):
            verify_token(bad, secret_key=key)
    assert verifier._seen == {}
    issued = [issue_token({"n": n}, secret_key=key) for n in range(5)]
    for n, token in enumerate(issued):
        assert verify_token(token, secret_key=key) == {"n": n}
    assert list(verifier._seen) == issued[-3:]  # the oldest went first
    assert verify_token(issued[0], secret_key=key) == {"n": 0}  # verified again, from scratch
    assert len(verifier._seen) == 3


def _signed_payload(payload: bytes, key: str = "k" * 32) -> str:
    serializer = make_serializer(key)
    return serializer.make_signer(serializer.salt).sign(payload).decode("ascii")


@pytest.mark.parametrize(
    "payload",
    [
        base64_encode(b"{not json"),
        b"." + base64_encode(b"not zlib data"),
        b"." + base64_encode(zlib.compress(b"[1,2]")[:-3]),  # truncated stream
        b"." + base64_encode(zlib.compress(b'"' + b"x" * (MAX_PAYLOAD_SIZE + 10) + b'"')),
        base64_encode(b'"' + b"x" * (MAX_PAYLOAD_SIZE + 10) + b'"'),
    ],
    ids=["not-json", "not-zlib", "truncated-zlib", "inflates-over-the-limit", "over-the-limit"],
)
def test_a_validly_signed_token_with_a_bad_payload_is_a_token_error(payload: bytes) -> None:
    """Regression: itsdangerous' BadPayload is not a BadSignature and escaped as a 500."""
    with pytest.raises(TokenError):
        verify_token(_signed_payload(payload), secret_key="k" * 32)


def test_a_compressed_payload_up_to_the_limit_still_verifies() -> None:
    value = "y" * (MAX_PAYLOAD_SIZE - 2)  # the JSON string with its quotes is exactly the limit
    token = issue_token(value, secret_key="k" * 32)
    assert token.startswith(".") and verify_token(token, secret_key="k" * 32) == value
