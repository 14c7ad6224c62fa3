"""handlerkit.webhooks: Stripe, GitHub and HMAC verification, the wrapper's 400/401/413 answers, replay protection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from handlerkit import NextRequest, NextResponse, RouteContext, with_webhook_signature
from handlerkit.errors import ApiError
from handlerkit.stores import MemoryStore
from handlerkit.testing import write_app
from handlerkit.webhooks import (
    SignatureError,
    sign_github,
    sign_stripe,
    verify_github,
    verify_hmac,
    verify_stripe,
)
from tests.support.servers import Server, gunicorn

STRIPE_SECRET = "whsec_test_0123456789"
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_VECTOR = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
EVENT = json.dumps({"id": "evt_1", "type": "invoice.paid", "data": {"amount": 100}}).encode()


def stripe_v1(payload: bytes, timestamp: int, secret: str = STRIPE_SECRET) -> str:
    """An independent implementation of Stripe's scheme, so the test does not trust sign_stripe."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


# -- verify_stripe ---------------------------------------------------------------


def test_a_stripe_signature_built_in_the_test_verifies() -> None:
    now = int(time.time())
    header = f"t={now},v1={stripe_v1(EVENT, now)}"
    assert verify_stripe(EVENT, header, STRIPE_SECRET) == now
    assert sign_stripe(EVENT, STRIPE_SECRET, now) == header


@pytest.mark.parametrize(
    "header",
    [
        "t=abc,v1=" + "a" * 64,
        "v1=" + "a" * 64,  # no t
        "t=1700000000",  # no v1
        "t=1700000000,v1",  # no value
        "t=1700000000,v1=",  # empty value
        "t=1700000000,v1=xyz",  # not hex
        "t=1700000000,v1=" + "a" * 63,  # wrong length
        "t=1700000000,t=1700000001,v1=" + "a" * 64,  # two timestamps
        "t=-1700000000,v1=" + "a" * 64,
        "t=1.7e9,v1=" + "a" * 64,
        "t=\u0661\u0662\u0663,v1=" + "a" * 64,  # non-ASCII digits
        "garbage",
        ",,,",
        "=,=",
        "t=1," + "v1=" + "a" * 64 + ",x" * 3000,  # absurdly long
    ],
)
def test_malformed_stripe_headers_are_400(header: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_stripe(EVENT, header, STRIPE_SECRET)
    assert caught.value.status == 400


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_stripe_header_is_400(header: str | None) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_stripe(EVENT, header, STRIPE_SECRET)
    assert (caught.value.status, caught.value.code) == (400, "missing_signature")


def test_a_stripe_timestamp_outside_the_tolerance_is_401() -> None:
    now = int(time.time())
    for stamp in (now - 301, now + 301):
        header = f"t={stamp},v1={stripe_v1(EVENT, stamp)}"
        with pytest.raises(SignatureError) as caught:
            verify_stripe(EVENT, header, STRIPE_SECRET)
        assert (caught.value.status, caught.value.code) == (401, "signature_expired")
    old = now - 10_000
    assert (
        verify_stripe(EVENT, f"t={old},v1={stripe_v1(EVENT, old)}", STRIPE_SECRET, tolerance=None)
        == old
    )
    assert (
        verify_stripe(EVENT, f"t={old},v1={stripe_v1(EVENT, old)}", STRIPE_SECRET, now=old + 5)
        == old
    )


def test_one_valid_v1_among_several_is_accepted_and_v0_alone_is_refused() -> None:
    now = int(time.time())
    good = stripe_v1(EVENT, now)
    assert (
        verify_stripe(
            EVENT, f"t={now},v1={'0' * 64},v1={good.upper()},v0={'1' * 64}", STRIPE_SECRET
        )
        == now
    )
    with pytest.raises(SignatureError) as caught:
        verify_stripe(EVENT, f"t={now},v0={good}", STRIPE_SECRET)
    assert caught.value.status == 400


def test_wrong_secret_tampered_or_reserialised_bodies_are_401() -> None:
    now = int(time.time())
    header = f"t={now},v1={stripe_v1(EVENT, now)}"
    reserialised = json.dumps(json.loads(EVENT), separators=(",", ":")).encode()
    assert reserialised != EVENT
    for payload, secret in (
        (EVENT, "whsec_other"),
        (EVENT + b" ", STRIPE_SECRET),
        (reserialised, STRIPE_SECRET),
    ):
        with pytest.raises(SignatureError) as caught:
            verify_stripe(payload, header, secret)
        assert (caught.value.status, caught.value.code) == (401, "invalid_signature")


def test_a_rotation_list_of_secrets_verifies_with_any() -> None:
    now = int(time.time())
    header = f"t={now},v1={stripe_v1(EVENT, now, 'whsec_new')}"
    assert verify_stripe(EVENT, header, ["whsec_old", "whsec_new"]) == now


def test_payloads_must_be_raw_bytes() -> None:
    with pytest.raises(TypeError, match="raw request body"):
        verify_stripe(EVENT.decode(), "t=1,v1=" + "a" * 64, STRIPE_SECRET)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_github(json.loads(EVENT), GITHUB_VECTOR, GITHUB_SECRET)  # type: ignore[arg-type]


def test_an_empty_secret_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        verify_github(b"x", "sha256=" + "a" * 64, "")


# -- verify_github -------------------------------------------------------------------


def test_githubs_published_test_vector_verifies() -> None:
    verify_github(b"Hello, World!", GITHUB_VECTOR, GITHUB_SECRET)
    assert sign_github(b"Hello, World!", GITHUB_SECRET) == GITHUB_VECTOR
    verify_github(
        b"Hello, World!", GITHUB_VECTOR.upper().replace("SHA256=", "sha256="), GITHUB_SECRET
    )


@pytest.mark.parametrize(
    "header",
    [
        "sha1=" + hmac.new(GITHUB_SECRET.encode(), b"Hello, World!", hashlib.sha1).hexdigest(),
        GITHUB_VECTOR[:-1],
        GITHUB_VECTOR + "0",
        " " + GITHUB_VECTOR,
        GITHUB_VECTOR + " ",
        GITHUB_VECTOR + "\n",
        "sha256= " + GITHUB_VECTOR[7:],
        "SHA256=" + GITHUB_VECTOR[7:],
        GITHUB_VECTOR[7:],
        "sha256=" + "g" * 64,
    ],
)
def test_anything_but_sha256_and_64_hex_digits_is_400(header: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_github(b"Hello, World!", header, GITHUB_SECRET)
    assert (caught.value.status, caught.value.code) == (400, "malformed_signature")


def test_a_wrong_github_signature_is_401() -> None:
    with pytest.raises(SignatureError) as caught:
        verify_github(b"Hello, World?", GITHUB_VECTOR, GITHUB_SECRET)
    assert caught.value.status == 401


# -- verify_hmac -------------------------------------------------------------------


def test_generic_hmac_in_hex_base64_and_base64url_with_a_prefix() -> None:
    digest = hmac.new(b"k", b"body", hashlib.sha512).digest()
    verify_hmac(b"body", "sha512=" + digest.hex(), "k", algorithm="sha512", prefix="sha512=")
    verify_hmac(
        b"body", base64.b64encode(digest).decode(), "k", algorithm="sha512", encoding="base64"
    )
    verify_hmac(
        b"body",
        base64.urlsafe_b64encode(digest).decode().rstrip("="),
        "k",
        algorithm="sha512",
        encoding="base64url",
    )
    sha1 = base64.b64encode(hmac.new(b"k", b"body", hashlib.sha1).digest()).decode()
    verify_hmac(b"body", sha1, "k", algorithm="sha1", encoding="base64")


@pytest.mark.parametrize(
    ("signature", "options", "status"),
    [
        (None, {}, 400),
        ("abc", {"prefix": "sha256="}, 400),
        ("zz" * 32, {}, 400),
        ("ab" * 31, {}, 400),  # wrong length
        ("ab " * 32, {}, 400),  # bytes.fromhex would accept spaces; we do not
        ("ab" * 32, {}, 401),
        ("not base64!", {"encoding": "base64"}, 400),
        (base64.b64encode(b"x" * 32).decode(), {"encoding": "base64"}, 401),
    ],
)
def test_generic_hmac_refusals(signature: str | None, options: dict[str, str], status: int) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_hmac(b"body", signature, "k", **options)  # type: ignore[arg-type]
    assert caught.value.status == status


def test_base64url_padding_is_strict() -> None:
    digest = hmac.new(b"k", b"body", hashlib.sha256).digest()  # 32 bytes: one "=" when padded
    padded = base64.urlsafe_b64encode(digest).decode()
    bare = padded.rstrip("=")
    assert padded.endswith("=") and not padded.endswith("==")
    verify_hmac(b"body", bare, "k", encoding="base64url")
    verify_hmac(b"body", padded, "k", encoding="base64url")
    for wrong in (bare + "==", padded + "=", bare + "A", bare[:-2] + "=" + bare[-2:]):
        with pytest.raises(SignatureError) as caught:
            verify_hmac(b"body", wrong, "k", encoding="base64url")
        assert caught.value.status == 400, wrong


def test_generic_hmac_rejects_unknown_algorithms_and_encodings() -> None:
    with pytest.raises(ValueError):
        verify_hmac(b"x", "00", "k", algorithm="nope")
    with pytest.raises(ValueError):
        verify_hmac(b"x", "00", "k", encoding="base32")


def test_signatures_are_only_compared_in_constant_time() -> None:
    # F6: no == / != on digests or signatures anywhere in the module.
    source = Path(__import__("handlerkit.webhooks", fromlist=["x"]).__file__).read_text()
    for line in source.splitlines():
        code = line.split("#", 1)[0]
        # An operand naming a signature, digest or secret next to == or != (lengths are not secret).
        operand = r"(?<!len\()\b\w*(?:sig|digest|expected|given|secret)\w*\b(?!\))"
        assert not re.search(operand + r"\s*[!=]=|[!=]=\s*" + operand, code, re.I), line
    assert "hmac.compare_digest" in source


# -- the wrapper, in process ---------------------------------------------------------


def stripe_request(
    payload: bytes = EVENT, *, header: str | None = "auto", stamp: int | None = None
) -> NextRequest:
    stamp = int(time.time()) if stamp is None else stamp
    headers = {"Content-Type": "application/json"}
    if header == "auto":
        headers["Stripe-Signature"] = f"t={stamp},v1={stripe_v1(payload, stamp)}"
    elif header is not None:
        headers["Stripe-Signature"] = header
    return NextRequest("/hooks/stripe", method="POST", data=payload, headers=headers)


def github_request(
    payload: bytes = b"Hello, World!", delivery: str | None = "d-1", signature: str | None = None
) -> NextRequest:
    headers = {"X-Hub-Signature-256": signature or sign_github(payload, GITHUB_SECRET)}
    if delivery is not None:
        headers["X-GitHub-Delivery"] = delivery
    return NextRequest("/hooks/github", method="POST", data=payload, headers=headers)


def recording_handler(calls: list[object]):  # type: ignore[no-untyped-def]
    def handler(request: NextRequest, context: RouteContext) -> NextResponse:
        calls.append(request.json() if request.headers.get("Stripe-Signature") else request.bytes())
        return NextResponse.json({"received": True})

    return handler


def status_of(call) -> int:  # type: ignore[no-untyped-def]
    try:
        return call().status_code  # type: ignore[no-any-return]
    except ApiError as exc:
        return exc.status


def test_the_wrapper_refuses_before_reading_or_parsing_the_body() -> None:
    calls: list[object] = []
    handler = with_webhook_signature(scheme="stripe", secret=STRIPE_SECRET)(
        recording_handler(calls)
    )
    request = stripe_request(b"{bad json", header=None)
    assert status_of(lambda: handler(request)) == 400
    assert "_cached_data" not in request.__dict__ and "_hk_json" not in request.__dict__
    bad = stripe_request(b"{bad json", header="t=1,v1=" + "0" * 64)
    assert status_of(lambda: handler(bad)) == 401
    assert "_hk_json" not in bad.__dict__
    assert calls == []
    assert status_of(lambda: handler(stripe_request())) == 200
    assert calls == [json.loads(EVENT)]


def test_the_wrapper_works_bare_with_the_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[object] = []
    handler = with_webhook_signature(recording_handler(calls))
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    assert handler(stripe_request(), RouteContext()).status_code == 200
    assert len(calls) == 1


def test_a_missing_environment_secret_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_WEBHOOK_SECRET", raising=False)
    handler = with_webhook_signature(scheme="github")(lambda: {"ok": True})
    with pytest.raises(RuntimeError, match="GITHUB_WEBHOOK_SECRET"):
        handler(github_request())


def test_the_wrapper_validates_its_options() -> None:
    with pytest.raises(ValueError):
        with_webhook_signature(scheme="gitlab")
    with pytest.raises(ValueError):
        with_webhook_signature(scheme=lambda request, payload, secret: None)


def test_a_custom_scheme_and_a_secret_callable() -> None:
    def verify(request: NextRequest, payload: bytes, secret: object) -> str | None:
        verify_hmac(payload, request.headers.get("X-Signature"), secret, prefix="sha256=")  # type: ignore[arg-type]
        return request.headers.get("X-Event-Id")

    calls: list[int] = []
    handler = with_webhook_signature(scheme=verify, secret=lambda: "k")(
        lambda: calls.append(1) or {"ok": True}
    )
    signature = "sha256=" + hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()
    make = lambda: NextRequest(
        "/", method="POST", data=b"{}", headers={"X-Signature": signature, "X-Event-Id": "e1"}
    )  # noqa: E731
    # A dict return is made a response innermost, before any wrapper sees it.
    assert handler(make()).json() == {"ok": True}
    assert handler(make()).json() == {"received": True, "duplicate": True}
    assert status_of(lambda: handler(NextRequest("/", method="POST", data=b"{}"))) == 400
    assert calls == [1]


def test_a_custom_scheme_replay_under_a_fresh_unsigned_id_is_a_duplicate() -> None:
    # The documented Shopify shape: the id comes from a header the HMAC does not cover.
    def shopify(request: NextRequest, payload: bytes, secret: object) -> str | None:
        header = request.headers.get("X-Shopify-Hmac-Sha256")
        verify_hmac(payload, header, secret, encoding="base64")  # type: ignore[arg-type]
        return request.headers.get("X-Shopify-Webhook-Id")

    calls: list[int] = []
    handler = with_webhook_signature(scheme=shopify, secret="shh")(
        lambda: calls.append(1) or NextResponse.json({"charged": len(calls)})
    )
    body = b'{"order": 1, "amount": 100}'
    signature = base64.b64encode(hmac.new(b"shh", body, hashlib.sha256).digest()).decode()

    def send(webhook_id: str | None, data: bytes = body, sig: str = signature) -> dict[str, object]:
        headers = {"X-Shopify-Hmac-Sha256": sig}
        if webhook_id is not None:
            headers["X-Shopify-Webhook-Id"] = webhook_id
        return handler(NextRequest("/", method="POST", data=data, headers=headers)).json()

    assert send("w-1") == {"charged": 1}
    for forged in ("w-1", "w-2-forged", "w-3-forged", None):
        assert send(forged) == {"received": True, "duplicate": True}
    assert calls == [1]
    # A different signed body is a new delivery.
    other = b'{"order": 2, "amount": 100}'
    other_sig = base64.b64encode(hmac.new(b"shh", other, hashlib.sha256).digest()).decode()
    assert send("w-4", other, other_sig) == {"charged": 2}


def test_github_replays_are_processed_once_even_under_a_new_delivery_id() -> None:
    calls: list[object] = []
    store = MemoryStore()
    handler = with_webhook_signature(scheme="github", secret=GITHUB_SECRET, store=store)(
        recording_handler(calls)
    )
    context = RouteContext()
    assert handler(github_request(), context).json() == {"received": True}
    assert context.state.webhook_verified is True
    for replay in (github_request(), github_request(delivery="d-2"), github_request(delivery=None)):
        context = RouteContext()
        response = handler(replay, context)
        assert response.status_code == 200 and response.json() == {
            "received": True,
            "duplicate": True,
        }
        assert context.state.webhook_duplicate is True
    assert calls == [b"Hello, World!"]
    # A new delivery with a new body is processed.
    assert handler(github_request(b"other", delivery="d-3")).json() == {"received": True}
    assert len(calls) == 2


def test_a_malformed_delivery_id_is_400() -> None:
    handler = with_webhook_signature(scheme="github", secret=GITHUB_SECRET)(lambda: {"ok": True})
    assert status_of(lambda: handler(github_request(delivery="a\x01b"))) == 400
    assert status_of(lambda: handler(github_request(delivery="x" * 500))) == 400


def test_stripe_events_are_deduplicated_by_event_id() -> None:
    calls: list[object] = []
    handler = with_webhook_signature(scheme="stripe", secret=STRIPE_SECRET)(
        recording_handler(calls)
    )
    assert handler(stripe_request()).json() == {"received": True}
    # The same event re-signed later (Stripe's retry) is still a duplicate.
    assert handler(stripe_request(stamp=int(time.time()) + 5)).json()["duplicate"] is True
    assert len(calls) == 1


def test_a_failed_delivery_is_forgotten_so_the_retry_is_processed() -> None:
    attempts: list[int] = []

    def flaky(request: NextRequest) -> NextResponse:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database down")
        if len(attempts) == 2:
            return NextResponse.json({"error": "unavailable"}, status=503)
        return NextResponse.json({"ok": True})

    handler = with_webhook_signature(scheme="github", secret=GITHUB_SECRET)(flaky)
    with pytest.raises(RuntimeError):
        handler(github_request())
    assert handler(github_request()).status_code == 503
    assert handler(github_request()).json() == {"ok": True}
    assert handler(github_request()).json()["duplicate"] is True
    assert len(attempts) == 3


def test_dedupe_can_be_turned_off() -> None:
    calls: list[object] = []
    handler = with_webhook_signature(scheme="github", secret=GITHUB_SECRET, dedupe=False)(
        recording_handler(calls)
    )
    handler(github_request())
    handler(github_request())
    assert len(calls) == 2


# -- over gunicorn (BAD_INPUTS G1-G9), two workers sharing Redis ------------------------

ROUTES = {
    "hooks/stripe/route.py": """
        import json, os
        from handlerkit import NextResponse, with_webhook_signature

        @with_webhook_signature(scheme="stripe", secret="whsec_test_0123456789", store=os.environ["HOOK_STORE"])
        def POST(request):
            event = request.json()
            with open(os.environ["SIDE_EFFECTS"], "a") as log:
                log.write(f"stripe {event['id']}\\n")
            return {"received": True}
    """,
    "hooks/github/route.py": """
        import os
        from handlerkit import NextResponse, with_webhook_signature

        @with_webhook_signature(scheme="github", secret="It's a Secret to Everybody", store=os.environ["HOOK_STORE"])
        def POST(request):
            with open(os.environ["SIDE_EFFECTS"], "a") as log:
                log.write(f"github {request.headers.get('X-GitHub-Delivery')}\\n")
            return {"received": True}
    """,
}


@pytest.fixture
def served(tmp_path: Path, redis_url: str) -> Iterator[tuple[Server, Path]]:
    app_dir = write_app(tmp_path / "app", ROUTES)
    effects = tmp_path / "effects.log"
    effects.touch()
    env = {"HOOK_STORE": redis_url, "SIDE_EFFECTS": str(effects)}
    with gunicorn(
        f"handlerkit:create_app({str(app_dir)!r})", workers=2, threads=4, env=env
    ) as running:
        yield running, effects


def post(server: Server, path: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{server.url}{path}", data=body, headers=headers, timeout=10)


def raw_status(server: Server, request: bytes, body_chunks: list[bytes] = ()) -> int:  # type: ignore[assignment]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed before taking everything
        reply = sock.recv(65536)
    return int(reply.split(b" ", 2)[1])


def test_bad_inputs_g1_to_g9_over_gunicorn(served: tuple[Server, Path]) -> None:
    server, effects = served
    now = int(time.time())
    good = f"t={now},v1={stripe_v1(EVENT, now)}"
    results: dict[str, int] = {}

    # G1: no signature header: 400 and the (malformed) body is never parsed.
    results["G1 stripe"] = post(server, "/hooks/stripe", b"{bad", {}).status_code
    results["G1 github"] = post(server, "/hooks/github", b"{bad", {}).status_code
    assert post(server, "/hooks/stripe", b"{bad", {}).json()["error"] == "missing_signature"
    # G2: malformed Stripe headers.
    for name, header in (
        ("t=abc", "t=abc"),
        ("no t", "v1=" + "a" * 64),
        ("no v1", f"t={now}"),
        ("t=1,v1", f"t={now},v1"),
    ):
        results[f"G2 {name}"] = post(
            server, "/hooks/stripe", EVENT, {"Stripe-Signature": header}
        ).status_code
    # G3: a genuine signature, too old.
    old = now - 301
    results["G3"] = post(
        server, "/hooks/stripe", EVENT, {"Stripe-Signature": f"t={old},v1={stripe_v1(EVENT, old)}"}
    ).status_code
    # G4: several v1, one valid -> accepted; only v0 -> refused.
    several = f"t={now},v1={'0' * 64},v1={stripe_v1(EVENT, now)}"
    results["G4 several"] = post(
        server, "/hooks/stripe", EVENT, {"Stripe-Signature": several}
    ).status_code
    results["G4 v0"] = post(
        server, "/hooks/stripe", EVENT, {"Stripe-Signature": f"t={now},v0={stripe_v1(EVENT, now)}"}
    ).status_code
    # G5: the body re-serialised after signing.
    reserialised = json.dumps(json.loads(EVENT), indent=2).encode()
    results["G5"] = post(
        server, "/hooks/stripe", reserialised, {"Stripe-Signature": good}
    ).status_code
    # G6: GitHub sha1, wrong length, whitespace.
    sha1 = "sha1=" + hmac.new(GITHUB_SECRET.encode(), b"Hello, World!", hashlib.sha1).hexdigest()
    for name, header in (
        ("sha1", sha1),
        ("short", GITHUB_VECTOR[:-2]),
        ("space", GITHUB_VECTOR + " x"),
    ):
        results[f"G6 {name}"] = post(
            server, "/hooks/github", b"Hello, World!", {"X-Hub-Signature-256": header}
        ).status_code
    # G9: GitHub's published vector, as a real delivery.
    results["G9"] = post(
        server,
        "/hooks/github",
        b"Hello, World!",
        {"X-Hub-Signature-256": GITHUB_VECTOR, "X-GitHub-Delivery": "vector-1"},
    ).status_code
    # G8: 50 MB declared: 413 from the Content-Length, before any body is read or hashed.
    results["G8 length"] = raw_status(
        server,
        b"POST /hooks/github HTTP/1.1\r\nHost: t\r\n"
        b"X-Hub-Signature-256: " + GITHUB_VECTOR.encode() + b"\r\n"
        b"Content-Length: 52428800\r\n\r\n",
    )
    # ... and a chunked body growing past the 1 MiB limit.
    frame = b"10000\r\n" + b"z" * 0x10000 + b"\r\n"
    results["G8 chunked"] = raw_status(
        server,
        b"POST /hooks/github HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        b"X-Hub-Signature-256: " + GITHUB_VECTOR.encode() + b"\r\n\r\n",
        [frame] * 20 + [b"0\r\n\r\n"],
    )

    assert results == {
        "G1 stripe": 400,
        "G1 github": 400,
        "G2 t=abc": 400,
        "G2 no t": 400,
        "G2 no v1": 400,
        "G2 t=1,v1": 400,
        "G3": 401,
        "G4 several": 200,
        "G4 v0": 400,
        "G5": 401,
        "G6 sha1": 400,
        "G6 short": 400,
        "G6 space": 400,
        "G9": 200,
        "G8 length": 413,
        "G8 chunked": 413,
    }
    assert all(status < 500 for status in results.values())
    assert effects.read_text().splitlines() == ["stripe evt_1", "github vector-1"]


def test_a_replayed_delivery_causes_one_side_effect_across_workers(
    served: tuple[Server, Path],
) -> None:
    # G7: five copies of one delivery at once, spread over two workers sharing Redis.
    server, effects = served
    body = json.dumps({"action": "opened", "number": 7}).encode()
    headers = {
        "X-Hub-Signature-256": sign_github(body, GITHUB_SECRET),
        "X-GitHub-Delivery": "72d3162e-cc78",
    }
    with ThreadPoolExecutor(5) as pool:
        responses = list(pool.map(lambda _: post(server, "/hooks/github", body, headers), range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert sorted(r.json().get("duplicate", False) for r in responses) == [
        False,
        True,
        True,
        True,
        True,
    ]
    later = post(
        server, "/hooks/github", body, {**headers, "X-GitHub-Delivery": "replayed-under-new-id"}
    )
    assert later.json() == {"received": True, "duplicate": True}
    assert effects.read_text().splitlines() == ["github 72d3162e-cc78"]
