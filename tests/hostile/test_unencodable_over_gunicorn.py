"""Inputs that are valid on the wire but that UTF-8, IDNA or JSON cannot carry, over a real gunicorn.

Each row used to reach a 500: a lone surrogate escape in JSON (in a schema field, in an
unknown key, under ``with_idempotency``), a ``Host`` that IDNA refuses, a validly signed
token whose payload is not JSON or inflates without bound, and a Redis URL with an option
redis-py refuses only on first use. Every answer is a 4xx in the one JSON shape with
nothing leaked; the idempotency key is usable again straight after; the bad Redis URL
stops the app at startup with a message naming the option.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from itsdangerous.encoding import base64_encode

from handlerkit.testing import write_app
from handlerkit.tokens import DEFAULT_SALT, make_serializer
from tests.hostile.test_over_gunicorn import body_of, exchange, status_of
from tests.support.leaks import assert_no_leak
from tests.support.servers import ROOT, Server, gunicorn

pytestmark = pytest.mark.slow

SECRET = "unencodable-secret-4d2b"

FILES = {
    "strict/route.py": """
        from marshmallow import RAISE, Schema, fields
        from handlerkit import NextResponse, with_validation

        class Note(Schema):
            class Meta:
                unknown = RAISE
            title = fields.String(required=True)

        @with_validation(body=Note)
        def POST(request, context):
            # What the blog does with a string: store it as UTF-8.
            return NextResponse.json({"bytes": len(context.state.body["title"].encode())}, status=201)
    """,
    "orders/route.py": """
        from marshmallow import Schema, fields
        from handlerkit import NextResponse, compose, with_idempotency, with_validation

        class Order(Schema):
            item = fields.String(required=True)

        RUNS = []

        @compose(with_idempotency, with_validation(body=Order))
        def POST(request, context):
            RUNS.append(context.state.body["item"])
            return NextResponse.json({"runs": len(RUNS), "item": RUNS[-1]}, status=201)
    """,
    "url/route.py": """
        from handlerkit import NextResponse

        def GET(request):
            url = request.next_url
            return {"href": url.href, "str": str(url), "origin": url.origin, "hostname": url.hostname}

        def POST(request):
            return NextResponse.redirect(request.next_url.origin + "/url", 303)
    """,
    "me/route.py": """
        from handlerkit import with_auth

        @with_auth
        def GET(request, context):
            return {"user": context.state.user}
    """,
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("unencodable")
    app_dir = write_app(base / "app", FILES)
    env = {"HANDLERKIT_SECRET_KEY": SECRET}
    # One worker: the idempotency test's repeat must reach the in-memory store that kept the
    # first answer (with two, it landed on the other worker once and was not replayed).
    with gunicorn(f"handlerkit:create_app({str(app_dir)!r})", workers=1, env=env, log_dir=base) as server:
        yield server


def raw(server: Server, method: str, path: str, body: bytes = b"", headers: str = "") -> tuple[int, bytes]:
    head = f"{method} {path} HTTP/1.1\r\nConnection: close\r\n{headers}"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    response = exchange(server, head.encode("latin-1") + b"\r\n" + body)
    return status_of(response), body_of(response)


def error_code(status: int, body: bytes) -> str:
    assert 400 <= status < 500, (status, body[:300])
    assert_no_leak(body, secrets=[SECRET])
    document = json.loads(body)
    assert set(document) <= {"error", "message", "details"}
    return str(document["error"])


@pytest.mark.parametrize(
    "body",
    [b'{"title":"\\ud800"}', b'{"title":"ok","\\udfff":1}', b'{"title":"a\\uDC00b"}'],
    ids=["in-a-string-field", "in-an-unknown-key", "low-surrogate"],
)
def test_a_lone_surrogate_escape_is_400_before_any_schema_or_handler(served: Server, body: bytes) -> None:
    status, answer = raw(served, "POST", "/strict", body, "Host: localhost\r\n")
    assert (status, error_code(status, answer)) == (400, "invalid_json")
    assert "Traceback" not in served.output()


def test_a_surrogate_pair_is_one_character_and_is_accepted(served: Server) -> None:
    status, answer = raw(served, "POST", "/strict", b'{"title":"\\ud83d\\ude00"}', "Host: localhost\r\n")
    assert (status, json.loads(answer)) == (201, {"bytes": 4})


def test_the_idempotency_key_of_a_refused_body_is_not_left_locked(served: Server) -> None:
    key = "Idempotency-Key: order-surrogate-1\r\nHost: localhost\r\n"
    bad = b'{"item":"\\ud800"}'
    first = raw(served, "POST", "/orders", bad, key)
    assert error_code(*first) == "invalid_json"
    # The same request again: the stored 400, never 409 idempotency_key_in_flight.
    again = exchange(
        served,
        b"POST /orders HTTP/1.1\r\nConnection: close\r\n" + key.encode()
        + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(bad) + bad,
    )
    assert status_of(again) == 400 and b"Idempotent-Replayed: true" in again
    # A fresh key runs the handler once, and its replay comes from the store.
    fresh = "Idempotency-Key: order-surrogate-2\r\nHost: localhost\r\n"
    good = b'{"item":"tea"}'
    status, answer = raw(served, "POST", "/orders", good, fresh)
    assert status == 201 and json.loads(answer)["item"] == "tea"
    assert raw(served, "POST", "/orders", good, fresh) == (status, answer)


@pytest.mark.parametrize("host", ["a..b", "xn--a", "x" * 64 + ".example", "a_b.internal:8080"])
def test_a_host_idna_refuses_still_gives_an_href(served: Server, host: str) -> None:
    status, answer = raw(served, "GET", "/url?q=a%20b", headers=f"Host: {host}\r\n")
    assert status == 200, answer
    document = json.loads(answer)
    assert document["href"] == document["str"] == f"http://{host}/url?q=a%20b"
    assert document["origin"] == f"http://{host}"
    redirected = exchange(
        served, f"POST /url HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
    )
    assert status_of(redirected) == 303
    assert f"\r\nLocation: http://{host}/url\r\n".encode() in redirected


@pytest.mark.parametrize("host", ["ex\xe4mple.com", "a b", "h:99999", "h:0", "[zz]"])
def test_a_host_header_that_is_no_host_is_400_invalid_host(served: Server, host: str) -> None:
    status, answer = raw(served, "GET", "/url", headers=f"Host: {host}\r\n")
    assert (status, error_code(status, answer)) == (400, "invalid_host")


def _signed(payload: bytes) -> str:
    serializer = make_serializer(SECRET, DEFAULT_SALT)
    return str(serializer.make_signer(serializer.salt).sign(payload).decode("ascii"))


@pytest.mark.parametrize(
    "token",
    [
        _signed(base64_encode(b"not json at all")),
        _signed(b"." + base64_encode(b"not zlib")),
        # 10 MB of JSON in a 13 kB token: refused before it is inflated, never cached.
        _signed(b"." + base64_encode(zlib.compress(b'"' + b"x" * 5_000_000 + b'"'))),
    ],
    ids=["payload-not-json", "not-zlib", "zlib-bomb"],
)
def test_a_validly_signed_token_with_a_bad_payload_is_401(served: Server, token: str) -> None:
    response = requests.get(
        f"{served.url}/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 401
    assert error_code(response.status_code, response.content) == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_redis_url_with_a_bad_option_stops_gunicorn_at_startup(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "app",
        {
            "limited/route.py": """
                from handlerkit import with_rate_limit

                @with_rate_limit(storage="rediss://:pw-in-url@127.0.0.1:1/0?ssl_cert_reqs=bogus")
                def GET():
                    return {"ok": True}
            """
        },
    )
    completed = subprocess.run(
        [sys.executable, "-m", "gunicorn", f"handlerkit:create_app({str(app_dir)!r})",
         "--bind", "127.0.0.1:0", "--workers", "1"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    log = completed.stdout + completed.stderr
    assert completed.returncode != 0, log[-2000:]
    assert "option 'ssl_cert_reqs' is not valid" in log, log[-2000:]
    assert "Redis URL 'rediss://***@127.0.0.1:1/0?ssl_cert_reqs=bogus'" in log
