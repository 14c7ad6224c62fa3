"""Properties of parsing and of every security check: query and cookie round-trips, signatures
(any single-byte change fails), tokens, rate-limit headers and CORS allowlists."""

from __future__ import annotations

import itertools
import string
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from handlerkit import NextRequest, NextResponse, with_cors, with_rate_limit
from handlerkit.request import RequestCookies, SearchParams
from handlerkit.response import CookieError
from handlerkit.tokens import TokenError, issue_token, verify_token
from handlerkit.webhooks import (
    SignatureError,
    sign_github,
    sign_stripe,
    verify_github,
    verify_hmac,
    verify_stripe,
)

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
SECRET = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=24)
_counter = itertools.count()


# ------------------------------------------------------------------ query strings


@given(st.text(max_size=60))
def test_search_params_round_trip_any_query(query: str) -> None:
    params = SearchParams(query)
    again = SearchParams(str(params))
    assert again.items() == params.items()
    assert str(again) == str(params)


@given(st.lists(st.tuples(TEXT.filter(bool), TEXT), max_size=6))
def test_search_params_parse_what_urlencode_writes(pairs: list[tuple[str, str]]) -> None:
    params = SearchParams(urlencode(pairs))
    assert params.items() == pairs
    assert SearchParams(str(params)).items() == pairs
    for name, _ in pairs:
        assert params.get(name) == next(v for k, v in pairs if k == name)  # the first wins


# ------------------------------------------------------------------ cookies

NAMES = st.text(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~", min_size=1, max_size=12)


@given(st.dictionaries(NAMES, TEXT, min_size=1, max_size=5))
def test_cookies_set_then_parsed_round_trip(cookies: dict[str, str]) -> None:
    response = NextResponse.json({})
    sent = {}
    for name, value in cookies.items():
        try:
            response.cookies.set(name, value)
        except CookieError:
            continue  # refused at set time (control characters ...), never sent
        sent[name] = value
    assume(sent)
    pairs = [h.split(";", 1)[0] for h in response.headers.getlist("Set-Cookie")]
    jar = RequestCookies("; ".join(pairs))
    assert {c.name: c.value for c in jar} == sent


@given(NAMES, TEXT, SECRET)
def test_signed_cookies_round_trip_and_reject_every_byte_flip(
    name: str, value: str, key: str
) -> None:
    response = NextResponse.json({})
    response.cookies.set_signed(name, value, secret_key=key)
    raw = response.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]
    assert RequestCookies(f"{name}={raw}", secret_key=key).get_signed(name) == value
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    for i in [*range(0, len(raw), max(1, len(raw) // 8)), len(raw) - 1]:
        # Toggle the top bit of the base64 digit: the low bits of a last digit may be padding.
        new = alphabet[alphabet.index(raw[i]) ^ 32] if raw[i] in alphabet else "A"
        flipped = raw[:i] + new + raw[i + 1 :]
        assert RequestCookies(f"{name}={flipped}", secret_key=key).get_signed(name) is None


# ------------------------------------------------------------------ signatures


def _flip(data: bytes, index: int, new: int) -> bytes:
    return data[:index] + bytes([new]) + data[index + 1 :]


@given(st.binary(max_size=200), SECRET, st.data())
def test_github_signature_any_single_byte_change_fails(
    payload: bytes, secret: str, data: st.DataObject
) -> None:
    header = sign_github(payload, secret)
    verify_github(payload, header, secret)
    if payload:
        i = data.draw(st.integers(0, len(payload) - 1))
        new = data.draw(st.integers(0, 255).filter(lambda b: b != payload[i]))
        with pytest.raises(SignatureError):
            verify_github(_flip(payload, i, new), header, secret)
    i = data.draw(st.integers(0, len(header) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != ord(header[i])))
    changed = _flip(header.encode(), i, new).decode("latin-1")
    assume(changed.lower() != header.lower() or not changed.startswith("sha256="))
    with pytest.raises(SignatureError):
        verify_github(payload, changed, secret)


@given(st.binary(max_size=200), SECRET, st.data())
def test_stripe_signature_any_single_byte_change_fails(
    payload: bytes, secret: str, data: st.DataObject
) -> None:
    now = 1_700_000_000
    header = sign_stripe(payload, secret, now)
    assert verify_stripe(payload, header, secret, now=now) == now
    if payload:
        i = data.draw(st.integers(0, len(payload) - 1))
        new = data.draw(st.integers(0, 255).filter(lambda b: b != payload[i]))
        with pytest.raises(SignatureError):
            verify_stripe(_flip(payload, i, new), header, secret, now=now)
    i = data.draw(st.integers(0, len(header) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != ord(header[i])))
    changed = _flip(header.encode(), i, new).decode("latin-1")
    assume(changed.lower() != header.lower())  # hex digits are case-insensitive
    with pytest.raises(SignatureError):
        verify_stripe(payload, changed, secret, now=now, tolerance=None)


@given(
    st.binary(max_size=200),
    SECRET,
    st.sampled_from(["hex", "base64", "base64url"]),
    st.sampled_from(["sha256", "sha512", "sha1"]),
    st.data(),
)
def test_plain_hmac_any_single_byte_change_fails(
    payload: bytes, secret: str, encoding: str, algorithm: str, data: st.DataObject
) -> None:
    import base64
    import hashlib
    import hmac

    digest = hmac.new(secret.encode(), payload, algorithm).digest()
    text = {
        "hex": digest.hex(),
        "base64": base64.b64encode(digest).decode(),
        "base64url": base64.urlsafe_b64encode(digest).decode().rstrip("="),
    }[encoding]
    verify_hmac(payload, "v=" + text, secret, algorithm=algorithm, encoding=encoding, prefix="v=")
    if payload:
        i = data.draw(st.integers(0, len(payload) - 1))
        new = data.draw(st.integers(0, 255).filter(lambda b: b != payload[i]))
        with pytest.raises(SignatureError):
            verify_hmac(
                _flip(payload, i, new),
                "v=" + text,
                secret,
                algorithm=algorithm,
                encoding=encoding,
                prefix="v=",
            )
    signature = ("v=" + text).encode()
    i = data.draw(st.integers(0, len(signature) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != signature[i]))
    changed = _flip(signature, i, new).decode("latin-1")
    if encoding == "hex":
        assume(changed.lower() != signature.decode().lower())
    try:
        decoded = None
        if changed.startswith("v=") and encoding != "hex":
            raw = changed[2:]
            decoded = (
                base64.b64decode(raw, validate=True)
                if encoding == "base64"
                else base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            )
        assume(decoded != digest)  # base64 padding bits: a different text of the same digest
    except (ValueError, TypeError):
        pass
    with pytest.raises(SignatureError):
        verify_hmac(payload, changed, secret, algorithm=algorithm, encoding=encoding, prefix="v=")
    assert hashlib.new(algorithm).digest_size == len(digest)


# ------------------------------------------------------------------ tokens

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**18), 10**18)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)


@given(JSON, SECRET, st.text(string.ascii_lowercase, min_size=1, max_size=10))
def test_verify_issue_is_identity(value: Any, key: str, salt: str) -> None:
    assert (
        verify_token(issue_token(value, secret_key=key, salt=salt), secret_key=key, salt=salt)
        == value
    )


@given(JSON, st.lists(SECRET, min_size=2, max_size=4, unique=True))
def test_rotation_newest_signs_every_listed_key_verifies(value: Any, keys: list[str]) -> None:
    token = issue_token(value, secret_key=keys)
    assert verify_token(token, secret_key=keys[-1]) == value
    assert verify_token(token, secret_key=["retired-and-new", *keys]) == value
    with pytest.raises(TokenError):
        verify_token(token, secret_key=keys[:-1])
    for old in keys[:-1]:
        legacy = issue_token(value, secret_key=old)
        assert verify_token(legacy, secret_key=keys) == value


# ------------------------------------------------------------------ rate limits


@given(
    st.integers(1, 6),
    st.lists(st.sampled_from(["a", "b", "c"]), max_size=20),
    st.sampled_from(["fixed-window", "moving-window", "sliding-window"]),
)
def test_rate_limit_headers_stay_in_range(limit: int, clients: list[str], strategy: str) -> None:
    handler = with_rate_limit(
        lambda: {"ok": True},
        limit=limit,
        window=60,
        strategy=strategy,
        key=lambda request, context: request.headers["X-C"],
    )
    seen: dict[str, int] = {}
    salt = str(next(_counter))
    for client in clients:
        request = NextRequest("/x", headers={"X-C": salt + client})
        response = handler(request)  # called directly: the 429 is a response too
        status, headers = response.status_code, response.headers
        seen[client] = seen.get(client, 0) + 1
        remaining = int(headers["X-RateLimit-Remaining"])
        assert headers["X-RateLimit-Limit"] == str(limit)
        assert 0 <= remaining <= limit
        assert 0 <= int(headers["X-RateLimit-Reset"]) <= 60
        assert (status == 200) == (seen[client] <= limit)
        if status == 200:
            assert remaining == limit - seen[client]
        else:
            assert remaining == 0 and int(headers["Retry-After"]) >= 1


# ------------------------------------------------------------------ CORS

POOL = [
    "https://a.example",
    "https://b.example",
    "http://a.example",
    "https://a.example:8443",
    "null",
    "https://A.example",
    "https://a.example.evil",
    "https://xa.example",
]
ORIGINS = st.sampled_from(POOL) | st.text(max_size=30)


@given(
    st.lists(st.sampled_from(POOL[:4]), min_size=1, max_size=3, unique=True),
    st.one_of(st.none(), ORIGINS),
    st.booleans(),
    st.sampled_from(["GET", "POST", "DELETE", "PATCH"]),
)
def test_allow_origin_is_set_exactly_when_the_origin_is_allowed(
    allowed: list[str], origin: str | None, credentials: bool, asked: str
) -> None:
    assume(origin is None or origin.isprintable() and "\r" not in origin and "\n" not in origin)
    handler = with_cors(
        lambda: {"ok": True}, origins=allowed, credentials=credentials, methods=["GET", "POST"]
    )
    headers = {"Origin": origin} if origin is not None else {}
    response = handler(NextRequest("/x", headers=headers))
    permitted = origin in allowed
    assert ("Access-Control-Allow-Origin" in response.headers) == permitted
    if permitted:
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert ("Access-Control-Allow-Credentials" in response.headers) == credentials
    preflight = handler(
        NextRequest(
            "/x", method="OPTIONS", headers={**headers, "Access-Control-Request-Method": asked}
        )
    )
    assert ("Access-Control-Allow-Origin" in preflight.headers) == (
        permitted and asked in ("GET", "POST")
    )
    if "Access-Control-Max-Age" in preflight.headers:
        assert 0 <= int(preflight.headers["Access-Control-Max-Age"]) <= 7200


@given(
    st.sampled_from(["fixed-window", "moving-window", "sliding-window"]),
    st.integers(1, 5),
    st.integers(1, 10),
    # Steps between hits in units of 1/7 s plus an odd offset, so no hit lands
    # exactly on a window edge (where limits' own checks disagree by one float).
    st.lists(st.tuples(st.integers(0, 40), st.sampled_from("ab")), min_size=1, max_size=40),
)
def test_memory_windows_answer_exactly_as_limits_memory_storage_does(
    strategy: str, limit: int, window: int, steps: list[tuple[int, str]]
) -> None:
    """handlerkit's memory:// counters agree with limits' MemoryStorage hit for hit."""
    import time
    from unittest import mock

    from limits import RateLimitItemPerSecond, strategies
    from limits.storage import MemoryStorage

    from handlerkit.middleware.rate_limit import _MEMORY, STRATEGIES

    clock = [1_700_000_000.0 + 1 / 3]
    with mock.patch.object(time, "time", lambda: clock[0]):
        theirs = getattr(strategies, STRATEGIES[strategy])(MemoryStorage())
        item = RateLimitItemPerSecond(limit, window)
        ours = _MEMORY[strategy](limit, window)
        for step, bucket in steps:
            clock[0] += step / 7 + 1e-4
            allowed = theirs.hit(item, bucket)
            stats = theirs.get_window_stats(item, bucket)
            assert ours.hit(bucket) == (allowed, stats.remaining, pytest.approx(stats.reset_time))
