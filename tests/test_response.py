"""NextResponse: bodies, JSON factory and reader, safe redirects, middleware actions, cookies."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import uuid
from typing import Any

import pytest
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from handlerkit import HandlerKitError, NextRequest, NextResponse
from handlerkit.errors import error_body
from handlerkit.response import (
    CookieError,
    ResponseCookie,
    error_response,
    is_safe_redirect,
    json_dumps,
)


def _wsgi(response: Response, method: str = "GET") -> tuple[str, dict[str, str], list[bytes]]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        captured["status"], captured["headers"] = status, dict(headers)

    environ = EnvironBuilder(method=method).get_environ()
    chunks = list(response(environ, start_response))
    return captured["status"], captured["headers"], chunks


# -- bodies ----------------------------------------------------------------------------------


def test_a_none_body_has_no_content_type() -> None:
    response = NextResponse(None, 204)
    assert isinstance(response, Response)
    assert response.status_code == 204
    assert "Content-Type" not in response.headers
    assert response.get_data() == b""
    status, headers, chunks = _wsgi(response)
    assert status == "204 NO CONTENT" and "Content-Type" not in headers and b"".join(chunks) == b""


def test_default_is_an_empty_200() -> None:
    response = NextResponse()
    assert (response.status_code, response.get_data()) == (200, b"")
    assert "Content-Type" not in response.headers


def test_a_str_body_is_utf8_text_plain() -> None:
    response = NextResponse("héllo")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.get_data() == "héllo".encode()
    assert response.text == "héllo"


def test_a_str_body_keeps_an_explicit_content_type() -> None:
    response = NextResponse("<p/>", headers={"content-type": "text/html; charset=utf-8"})
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    response = NextResponse("<rss/>", headers=[("Content-Type", "application/xml")])
    assert response.headers["Content-Type"] == "application/xml"


def test_a_bytes_body_gets_no_guessed_content_type() -> None:
    response = NextResponse(b"\x00\x01", 201, {"X-Kind": "raw"})
    assert "Content-Type" not in response.headers
    assert response.headers["X-Kind"] == "raw"
    assert (response.status_code, response.get_data()) == (201, b"\x00\x01")


def test_a_generator_body_is_passed_through_lazily() -> None:
    produced: list[int] = []

    def chunks() -> Any:
        for index in range(3):
            produced.append(index)
            yield f"chunk{index};".encode()

    response = NextResponse(chunks(), headers={"Content-Type": "text/plain"})
    assert produced == []  # building the response reads nothing
    assert response.is_streamed
    assert "Content-Length" not in response.headers
    captured: dict[str, Any] = {}
    body = response(EnvironBuilder().get_environ(), lambda s, h, e=None: captured.update(status=s))
    iterator = iter(body)
    assert next(iterator) == b"chunk0;"
    assert produced == [0]  # one chunk out, one chunk produced: no buffering
    assert next(iterator) == b"chunk1;"
    assert produced == [0, 1]
    assert list(iterator) == [b"chunk2;"]


def test_an_iterable_of_str_chunks_is_encoded() -> None:
    response = NextResponse(iter(["a", "b"]))
    assert response.get_data() == b"ab"


def test_status_code_and_headers_are_werkzeugs() -> None:
    response = NextResponse("x", 202)
    response.status_code = 418
    response.headers["X-A"] = "1"
    assert response.status == "418 I'M A TEAPOT"
    assert response.headers.get("x-a") == "1"


# -- json ------------------------------------------------------------------------------------


def test_json_on_the_class_builds_a_response() -> None:
    response = NextResponse.json({"name": "Zoë", "n": [1, 2]}, 201, {"X-Id": "7"})
    assert isinstance(response, NextResponse)
    assert response.status_code == 201
    assert response.status == "201 CREATED"
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Id"] == "7"
    assert response.get_data() == '{"name":"Zoë","n":[1,2]}'.encode()
    assert int(response.headers["Content-Length"]) == len(response.get_data())


def test_json_on_an_instance_parses_the_body_like_fetch() -> None:
    assert NextResponse.json([1, {"a": None}]).json() == [1, {"a": None}]
    assert NextResponse('{"x": true}').json() == {"x": True}


def test_json_headers_may_be_pairs_and_may_override_the_content_type() -> None:
    response = NextResponse.json(
        {}, headers=[("Content-Type", "application/problem+json"), ("Vary", "A")]
    )
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers.getlist("Content-Type") == ["application/problem+json"]
    assert response.headers["Vary"] == "A"


def test_json_with_an_unusual_status_still_renders() -> None:
    status, headers, chunks = _wsgi(NextResponse.json({"ok": 1}, 299))
    assert status.startswith("299") and b"".join(chunks) == b'{"ok":1}'


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_json_encodes_common_python_types() -> None:
    value = {
        "when": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        "day": dt.date(2024, 1, 2),
        "id": uuid.UUID(int=1),
        "price": decimal.Decimal("1.10"),
        "colour": Colour.RED,
        "point": Point(1, 2),
        "tags": ("a",),
    }
    assert NextResponse.json(value).json() == {
        "when": "2024-01-02T03:04:05+00:00",
        "day": "2024-01-02",
        "id": "00000000-0000-0000-0000-000000000001",
        "price": "1.10",
        "colour": "red",
        "point": {"x": 1, "y": 2},
        "tags": ["a"],
    }
    assert json_dumps({1}) == b"[1]"
    with pytest.raises(TypeError):
        json_dumps(object())


# -- redirect --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_statuses(status: int) -> None:
    response = NextResponse.redirect("https://example.com/next", status)
    assert response.status_code == status
    assert response.headers["Location"] == "https://example.com/next"
    assert "Content-Type" not in response.headers


def test_redirect_defaults_to_307() -> None:
    assert NextResponse.redirect("/login").status_code == 307


@pytest.mark.parametrize("status", [200, 300, 304, 305, 400, 500])
def test_redirect_refuses_other_statuses(status: int) -> None:
    with pytest.raises(ValueError, match="status"):
        NextResponse.redirect("/x", status)


@pytest.mark.parametrize(
    "url", ["/login?next=%2Fhome", "../up", "page", "?q=1", "http://a.example/x"]
)
def test_redirect_accepts_relative_and_http_urls(url: str) -> None:
    assert NextResponse.redirect(url).headers["Location"] == url


def test_redirect_encodes_non_ascii() -> None:
    assert NextResponse.redirect("/café").headers["Location"] == "/caf%C3%A9"


@pytest.mark.parametrize(
    "url",
    [
        "/x\r\nSet-Cookie: a=b",
        "/x\nLocation: //evil",
        "/x\x00",
        "/\x7f",
        "/a\tb",
        "",
        "javascript:alert(1)",
        "data:text/html,x",
        "ftp://example.com/",
        "mailto:a@b.c",
        "JAVASCRIPT:x",
    ],
)
def test_redirect_refuses_control_characters_and_other_schemes(url: str) -> None:
    with pytest.raises(ValueError):
        NextResponse.redirect(url)


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/dashboard", True),
        ("/a?b=c#d", True),
        ("https://evil.example/", False),
        ("//evil.example", False),
        ("/\\evil.example", False),
        ("http:///evil.example", False),
        ("javascript:alert(1)", False),
        ("/x\r\nX: y", False),
        ("relative", False),
        ("", False),
        ("https://app.example/ok", True),
    ],
)
def test_is_safe_redirect(target: str, safe: bool) -> None:
    assert is_safe_redirect(target, allowed_hosts=["app.example"]) is safe


# -- next() and rewrite() --------------------------------------------------------------------


def test_next_marks_a_middleware_continue() -> None:
    response = NextResponse.next(
        request_headers={"X-User": "7", "Cookie": None}, headers={"X-Mw": "1"}
    )
    assert response.middleware_action == "next"
    assert response.request_headers == {"X-User": "7", "Cookie": None}
    assert response.headers["X-Mw"] == "1"


def test_rewrite_marks_an_internal_reroute() -> None:
    response = NextResponse.rewrite("/internal?x=1")
    assert (response.middleware_action, response.rewrite_url) == ("rewrite", "/internal?x=1")
    with pytest.raises(ValueError):
        NextResponse.rewrite("/x\r\n")


def test_ordinary_responses_are_not_middleware_actions() -> None:
    assert NextResponse.json({}).middleware_action is None
    assert NextResponse("x").middleware_action is None


# -- cookies ---------------------------------------------------------------------------------


def test_cookies_set_writes_every_attribute() -> None:
    response = NextResponse.json({})
    response.cookies.set(
        "session",
        "abc",
        max_age=3600,
        path="/app",
        domain="example.com",
        secure=True,
        http_only=True,
        same_site="strict",
        priority="high",
        partitioned=True,
    )
    header = response.headers["Set-Cookie"]
    for part in (
        "session=abc",
        "Max-Age=3600",
        "Path=/app",
        "Domain=example.com",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Priority=High",
        "Partitioned",
    ):
        assert part in header
    cookie = response.cookies.get("session")
    assert cookie == ResponseCookie(
        "session",
        "abc",
        path="/app",
        domain="example.com",
        max_age=3600,
        expires=cookie.expires,  # type: ignore[union-attr]
        secure=True,
        http_only=True,
        same_site="Strict",
        priority="High",
        partitioned=True,
    )


def test_cookies_set_with_expires_and_timedelta() -> None:
    response = NextResponse()
    response.cookies.set("a", "1", expires=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    response.cookies.set("b", "2", max_age=dt.timedelta(minutes=2))
    assert response.cookies.get("a").expires == "Tue, 01 Jan 2030 00:00:00 GMT"  # type: ignore[union-attr]
    assert response.cookies.get("b").max_age == 120  # type: ignore[union-attr]


def test_cookie_values_round_trip_through_quoting() -> None:
    response = NextResponse()
    for name, value in [("a", 'x, y; "z"'), ("b", "back\\slash"), ("c", "café"), ("d", "")]:
        response.cookies.set(name, value)
        assert response.cookies.get(name).value == value  # type: ignore[union-attr]


def test_cookies_are_keyed_by_name_path_and_domain() -> None:
    response = NextResponse()
    response.cookies.set("id", "1")
    response.cookies.set("id", "2", path="/admin")
    response.cookies.set("id", "3", domain="example.com")
    assert len(response.cookies) == 3
    response.cookies.set("id", "1b")  # same name, path and domain: replaces
    response.cookies.set("id", "2b", path="/admin")
    assert len(response.cookies) == 3
    assert sorted((c.value, c.path, c.domain) for c in response.cookies.get_all("id")) == [
        ("1b", "/", None),
        ("2b", "/admin", None),
        ("3", "/", "example.com"),
    ]
    assert len(response.headers.getlist("Set-Cookie")) == 3


def test_cookie_jar_get_get_all_has_iteration_and_delete() -> None:
    response = NextResponse()
    response.cookies.set("a", "1")
    response.cookies.set("b", "2")
    assert response.cookies.get("a").value == "1"  # type: ignore[union-attr]
    assert response.cookies.get("zz") is None
    assert [c.name for c in response.cookies.get_all()] == ["a", "b"]
    assert response.cookies.has("b") and not response.cookies.has("c")
    assert "a" in response.cookies
    assert [c.name for c in response.cookies] == ["a", "b"]
    response.cookies.delete("a")
    deleted = response.cookies.get("a")
    assert deleted is not None and deleted.value == "" and deleted.max_age == 0
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in response.headers.getlist("Set-Cookie")[-1]
    response.cookies.delete("scoped", path="/x", domain="example.com")
    scoped = response.cookies.get("scoped")
    assert scoped is not None and (scoped.path, scoped.domain) == ("/x", "example.com")


@pytest.mark.parametrize(
    ("name", "value", "options"),
    [
        ("a", "1\r\nSet-Cookie: evil=1", {}),
        ("a", "line\nbreak", {}),
        ("a", "nul\x00", {}),
        ("a", "1", {"path": "/x\r\n"}),
        ("a", "1", {"path": "/x; Domain=evil"}),
        ("a", "1", {"domain": "evil;x"}),
        ("bad name", "1", {}),
        ("semi;colon", "1", {}),
        ("", "1", {}),
        ("a", "1", {"same_site": "sometimes"}),
        ("a", "1", {"priority": "urgent"}),
    ],
)
def test_unsafe_cookies_are_refused_at_set_time(
    name: str, value: str, options: dict[str, Any]
) -> None:
    response = NextResponse()
    with pytest.raises(CookieError) as info:
        response.cookies.set(name, value, **options)
    assert isinstance(info.value, ValueError) and isinstance(info.value, HandlerKitError)
    assert response.headers.getlist("Set-Cookie") == []


def test_a_non_str_cookie_value_is_refused() -> None:
    with pytest.raises(CookieError, match="str"):
        NextResponse().cookies.set("a", 1)  # type: ignore[arg-type]


def test_set_signed_with_a_key_round_trips_through_get_signed() -> None:
    response = NextResponse()
    response.cookies.set_signed("s", {"uid": 1}, secret_key=["old", "new"], http_only=True)
    cookie = response.cookies.get("s")
    assert cookie is not None and cookie.http_only and cookie.value != '{"uid": 1}'
    request = NextRequest("/", cookies={"s": cookie.value}, secret_key="new")
    assert request.cookies.get_signed("s") == {"uid": 1}


def test_set_signed_without_a_key_defers_signing_until_the_app_signs() -> None:
    response = NextResponse()
    response.cookies.set_signed("s", "v", path="/p")
    assert response.cookies.get("s") is None  # nothing written yet
    response.cookies.sign_pending("k1")
    cookie = response.cookies.get("s")
    assert cookie is not None and cookie.path == "/p"
    assert (
        NextRequest("/", cookies={"s": cookie.value}, secret_key="k1").cookies.get_signed("s")
        == "v"
    )


def test_set_signed_checks_the_name_at_set_time_even_when_deferred() -> None:
    with pytest.raises(CookieError):
        NextResponse().cookies.set_signed("bad name", "v")


def test_sign_pending_without_a_key_is_a_clear_error() -> None:
    response = NextResponse()
    response.cookies.set_signed("s", "v")
    with pytest.raises(HandlerKitError, match="secret_key"):
        response.cookies.sign_pending(None)


# -- the error shape -------------------------------------------------------------------------


def test_error_response_is_the_one_json_shape() -> None:
    response = error_response(
        422,
        "validation_error",
        "Invalid input.",
        {"name": ["required"]},
        headers=[("X-A", "1"), ("Content-Type", "text/html")],
    )
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-A"] == "1"
    assert response.json() == {
        "error": "validation_error",
        "message": "Invalid input.",
        "details": {"name": ["required"]},
    }
    assert int(response.headers["Content-Length"]) == len(response.get_data())
    assert error_response(404, "not_found", "Nope.").json() == {
        "error": "not_found",
        "message": "Nope.",
    }
    assert error_body("c", "m") == b'{"error":"c","message":"m"}'


def test_cookies_are_replaced_by_the_key_the_header_will_carry() -> None:
    response = NextResponse(None)
    response.cookies.set("sid", "old", domain=".Example.com")
    response.cookies.set("sid", "new", domain=".Example.com")
    assert response.headers.getlist("Set-Cookie") == ["sid=new; Domain=Example.com; Path=/"]
    response.cookies.set("p", "1", path="/a b")
    response.cookies.set("p", "2", path="/a b")
    assert [c.value for c in response.cookies.get_all("p")] == ["2"]
    response.cookies.delete("sid", domain=".Example.com")
    assert [c.value for c in response.cookies.get_all("sid")] == [""]


# ------------------------------------------------------------------ header helpers for the wrappers


class _OtherHeaders(Headers):
    """Not exactly Headers: the helpers fall back to the public API."""


@pytest.mark.parametrize("kind", [Headers, _OtherHeaders])
def test_set_headers_replaces_like_item_assignment(kind: type[Headers]) -> None:
    from handlerkit.response import header_value, set_headers

    headers = kind([("Content-Type", "application/json"), ("vary", "Cookie"), ("X-A", "1"), ("X-a", "2")])
    set_headers(headers, [("X-A", "3"), ("X-RateLimit-Limit", "10")])
    assert headers.getlist("X-A") == ["3"] and headers["X-RateLimit-Limit"] == "10"
    assert headers.getlist("Content-Type") == ["application/json"]
    assert header_value(headers, "VARY") == "Cookie" and header_value(headers, "Missing") is None
    set_headers(headers, [])
    assert len(headers) == 4
    with pytest.raises(ValueError):
        set_headers(headers, [("X-B", "ok"), ("X-C", "a\r\nSet-Cookie: x=1")])
    assert "X-C" not in headers
    # One item (its own path): every spelling of the name is replaced, a new name appended.
    headers.add("x-a", "4")
    set_headers(headers, [("X-a", "5")])
    assert headers.getlist("X-A") == ["5"] and len(headers) == 4
    set_headers(headers, [("X-Request-ID", "abc")])
    assert list(headers)[-1] == ("X-Request-ID", "abc")
    with pytest.raises(ValueError):
        set_headers(headers, [("X-D", "a\nb")])
    assert "X-D" not in headers


def test_error_body_and_responses_share_one_encoder_with_its_fallbacks() -> None:
    # A lone surrogate in details (a handler may put client text there) is sent escaped.
    assert error_body("c", "m", {"x": "\ud800"}) == b'{"error":"c","message":"m","details":{"x":"\\ud800"}}'
    assert error_body("c", "m", {"at": dt.date(2026, 1, 2)}).endswith(b'"details":{"at":"2026-01-02"}}')
    # Details JSON cannot carry are dropped (and logged): the error itself still renders.
    assert error_body("c", "m", {"o": object()}) == b'{"error":"c","message":"m"}'


@pytest.mark.parametrize("location", ["http://a..b/x", "https://xn--a:8443/p?q=1"])
def test_a_location_with_a_host_idna_refuses_is_sent_as_given(location: str) -> None:
    """Regression: Werkzeug's iri_to_uri ran on Location after the handler and raised (a 500)."""
    for response in (NextResponse.redirect(location), NextResponse(None, 302, {"Content-Location": location})):
        _, _, headers = response.get_wsgi_response(EnvironBuilder("/").get_environ())
        assert location in dict(headers).values()
