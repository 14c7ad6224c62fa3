"""NextRequest: URL views, query params, cookies, and the bounded, re-readable body."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import TimestampSigner
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from handlerkit import ApiError, HandlerKitError, NextRequest
from handlerkit.request import (
    DEFAULT_MAX_BODY_SIZE,
    FormData,
    NextURL,
    RequestCookie,
    RequestCookies,
    SearchParams,
    UploadedFile,
)
from handlerkit.response import NextResponse


class ExplodingInput(io.RawIOBase):
    """A wsgi.input that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def read(self, *args: Any) -> bytes:
        raise AssertionError("the body was read")

    readinto = readline = read  # type: ignore[assignment]


def _api_error(call: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        call()
    return info.value


# -- construction ----------------------------------------------------------------------------


def test_a_request_is_a_werkzeug_request_built_from_a_url() -> None:
    request = NextRequest(
        "http://localhost/api/users?page=2",
        method="POST",
        json={"name": "Ada"},
        headers={"X-Trace": "abc"},
        cookies={"session": "s1"},
    )
    assert isinstance(request, Request)
    assert request.method == "POST"
    assert request.path == "/api/users"
    assert request.headers["X-Trace"] == "abc"
    assert request.mimetype == "application/json"
    assert request.json() == {"name": "Ada"}
    assert request.cookies.get("session").value == "s1"  # type: ignore[union-attr]
    assert request.max_content_length == DEFAULT_MAX_BODY_SIZE == 1024 * 1024


def test_a_request_is_built_from_an_environ_too() -> None:
    environ = EnvironBuilder(path="/x", query_string="a=1").get_environ()
    request = NextRequest(environ)
    assert request.environ is environ
    assert request.next_url.search_params.get("a") == "1"


def test_a_relative_url_defaults_to_localhost() -> None:
    assert NextRequest("/x").next_url.origin == "http://localhost"


# -- next_url --------------------------------------------------------------------------------


def test_next_url_fields() -> None:
    url = NextRequest("https://example.com:8443/api/items?a=1&b=two&a=3").next_url
    assert isinstance(url, NextURL)
    assert url.pathname == "/api/items"
    assert url.search == "?a=1&b=two&a=3"
    assert url.origin == "https://example.com:8443"
    assert url.href == "https://example.com:8443/api/items?a=1&b=two&a=3"
    assert url.host == "example.com:8443"
    assert url.hostname == "example.com"
    assert url.port == "8443"
    assert url.protocol == "https:"
    assert url.base_path == ""
    assert str(url) == url.href
    assert url.search_params.get_all("a") == ["1", "3"]


def test_next_url_defaults_when_parts_are_absent() -> None:
    url = NextRequest("http://example.com/").next_url
    assert (url.pathname, url.search, url.port, url.host) == ("/", "", "", "example.com")
    assert len(url.search_params) == 0


def test_next_url_ipv6_host() -> None:
    url = NextRequest("http://[::1]:8080/p").next_url
    assert (url.hostname, url.port, url.host) == ("[::1]", "8080", "[::1]:8080")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("a..b", ("a..b", "a..b", "")),  # IDNA refuses an empty label; the URL does not care
        ("xn--a", ("xn--a", "xn--a", "")),  # not valid punycode
        ("x" * 64 + ".example:81", ("x" * 64 + ".example:81", "x" * 64 + ".example", "81")),
        ("API.Example.com:80", ("api.example.com", "api.example.com", "")),  # default port dropped
        ("[::1]:443", ("[::1]:443", "[::1]", "443")),
        ("svc_1.internal", ("svc_1.internal", "svc_1.internal", "")),
    ],
)
def test_next_url_of_any_well_formed_host_never_raises(host: str, expected: tuple[str, str, str]) -> None:
    url = NextRequest("/p?q=a%20b", headers={"Host": host}).next_url
    assert (url.host, url.hostname, url.port) == expected
    assert url.href == str(url) == f"http://{expected[0]}/p?q=a%20b"
    assert url.origin == f"http://{expected[0]}"


@pytest.mark.parametrize("host", ["ex\xe4mple.com", "a b", "h:0", "h:65536", "h:x", "[::1", "a/b"])
def test_a_host_header_that_is_no_host_is_400_invalid_host(host: str) -> None:
    request = NextRequest("/p", headers={"Host": host})
    for read in (lambda: request.host, lambda: request.next_url.href, lambda: request.next_url.origin):
        with pytest.raises(ApiError) as caught:
            read()
        assert (caught.value.status, caught.value.code) == (400, "invalid_host")


def test_without_a_host_header_the_server_name_and_port_are_used() -> None:
    environ = NextRequest("/p").environ
    del environ["HTTP_HOST"]
    environ.update(SERVER_NAME="::1", SERVER_PORT="8000")
    assert NextRequest(environ).next_url.host == "[::1]:8000"
    environ.update(SERVER_NAME="example.org", SERVER_PORT="80", HTTP_HOST="")  # empty: RFC 9112
    assert NextRequest(environ).next_url.href == "http://example.org/p"


def test_href_keeps_the_querys_escapes_as_sent_like_search() -> None:
    url = NextRequest("/p?x=%41&y=%2F").next_url
    assert url.search == "?x=%41&y=%2F"
    assert url.href == "http://localhost/p?x=%41&y=%2F"


def test_pathname_is_decoded_and_href_is_percent_encoded() -> None:
    url = NextRequest("/p/caf%C3%A9?x=%C3%A9").next_url
    assert url.pathname == "/p/café"
    assert url.href == "http://localhost/p/caf%C3%A9?x=%C3%A9"
    assert url.search == "?x=%C3%A9"
    assert url.search_params.get("x") == "é"


def test_base_path_is_excluded_from_pathname_and_kept_in_href() -> None:
    url = NextRequest("/api/users", base_path="/api").next_url
    assert url.base_path == "/api"
    assert url.pathname == "/users"
    assert url.href == "http://localhost/api/users"
    assert NextRequest("/api", base_path="/api").next_url.pathname == "/"


def test_camel_case_next_url_alias_is_the_same_object() -> None:
    request = NextRequest("/x?q=1")
    assert request.nextUrl is request.next_url
    assert request.nextUrl.pathname == "/x"


def test_camel_case_search_params_alias_is_the_same_object() -> None:
    url = NextRequest("/x?q=1").next_url
    assert url.searchParams is url.search_params
    assert url.searchParams.get("q") == "1"


# -- SearchParams ----------------------------------------------------------------------------


def test_search_params_api() -> None:
    params = SearchParams("a=1&b=&a=2&c=x%20y&d=%E2%82%AC")
    assert params.get("a") == "1"
    assert params.get("b") == ""
    assert params.get("missing") is None
    assert params.get_all("a") == ["1", "2"]
    assert params.get_all("missing") == []
    assert params.has("b") and not params.has("z")
    assert "c" in params and "z" not in params
    assert params.keys() == ["a", "b", "a", "c", "d"]
    assert params.values() == ["1", "", "2", "x y", "€"]
    assert params.items() == [("a", "1"), ("b", ""), ("a", "2"), ("c", "x y"), ("d", "€")]
    assert list(params) == params.items()
    assert len(params) == 5
    assert params.to_dict() == {"a": "1", "b": "", "c": "x y", "d": "€"}
    assert str(params) == "a=1&b=&a=2&c=x+y&d=%E2%82%AC"
    assert SearchParams(str(params)).items() == params.items()


def test_search_params_survive_invalid_utf8() -> None:
    params = NextRequest("/x?q=%FF").next_url.search_params
    assert params.get("q") == "\ufffd"


# -- cookies ---------------------------------------------------------------------------------


def test_request_cookies_api_and_first_wins_for_duplicates() -> None:
    cookies = RequestCookies("a=1; b=two; a=2")
    first = cookies.get("a")
    assert isinstance(first, RequestCookie)
    assert (first.name, first.value) == ("a", "1")
    assert cookies.get("missing") is None
    assert [c.value for c in cookies.get_all("a")] == ["1", "2"]
    assert sorted((c.name, c.value) for c in cookies.get_all()) == [
        ("a", "1"),
        ("a", "2"),
        ("b", "two"),
    ]
    assert cookies.has("b") and not cookies.has("c")
    assert "b" in cookies
    assert len(cookies) == 3
    assert sorted(c.name for c in cookies) == ["a", "a", "b"]


def test_request_without_cookie_header_has_an_empty_jar() -> None:
    cookies = NextRequest("/x").cookies
    assert len(cookies) == 0 and cookies.get("a") is None and cookies.get_all() == []


@pytest.mark.parametrize(
    "header",
    [
        "=__Host-x=bad; ok=1",
        'a="unterminated; ok=1',
        "a=\x01\x02; ok=1",
        "big=" + "x" * 8192 + "; ok=1",
        "caf\xc3\xa9=1; ok=1",
    ],
)
def test_hostile_cookie_headers_parse_leniently(header: str) -> None:
    cookies = RequestCookies(header)
    ok = cookies.get("ok")
    assert ok is not None and ok.value == "1"
    assert not any(c.name.startswith("__Host") for c in cookies)  # a nameless pair is dropped


def _signed(
    value: Any, key: Any, monkeypatch: pytest.MonkeyPatch | None = None, age: int = 0
) -> str:
    response = NextResponse(None)
    if monkeypatch is not None and age:
        now = int(time.time())
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now - age)
    response.cookies.set_signed("s", value, secret_key=key)
    if monkeypatch is not None:
        monkeypatch.undo()
    cookie = response.cookies.get("s")
    assert cookie is not None
    return cookie.value


def test_get_signed_returns_the_payload_of_a_signed_cookie() -> None:
    token = _signed({"uid": 7}, "k1")
    request = NextRequest("/x", cookies={"s": token}, secret_key="k1")
    assert request.cookies.get_signed("s") == {"uid": 7}
    assert request.cookies.get("s").value == token  # type: ignore[union-attr]


def test_get_signed_rejects_tampering() -> None:
    token = _signed({"uid": 7}, "k1")
    payload, _, rest = token.partition(".")
    forged_payload = json.dumps({"uid": 1}).encode()
    import base64

    forged = base64.urlsafe_b64encode(forged_payload).decode().rstrip("=") + "." + rest
    # Tamper inside the signature, not its last character: that one's low bits
    # are base64 padding, so some replacements decode to the same bytes.
    cut = len(token) - 5
    tampered = token[:cut] + ("A" if token[cut] != "A" else "B") + token[cut + 1 :]
    for bad in (forged, tampered, token[:10], "", "garbage"):
        request = NextRequest("/x", cookies={"s": bad}, secret_key="k1")
        assert request.cookies.get_signed("s") is None, bad
    assert NextRequest("/x", secret_key="k1").cookies.get_signed("s") is None


def test_get_signed_rejects_another_key() -> None:
    token = _signed("v", "attacker")
    assert NextRequest("/x", cookies={"s": token}, secret_key="k1").cookies.get_signed("s") is None


def test_get_signed_accepts_rotated_keys_oldest_first_last_signs() -> None:
    old_token = _signed("old", "k-old")
    new_token = _signed("new", ["k-old", "k-new"])
    rotated = ["k-old", "k-new"]
    assert (
        NextRequest("/x", cookies={"s": old_token}, secret_key=rotated).cookies.get_signed("s")
        == "old"
    )
    assert (
        NextRequest("/x", cookies={"s": new_token}, secret_key=rotated).cookies.get_signed("s")
        == "new"
    )
    # the last key signed the new token: the new key alone verifies it, the old one alone does not
    assert (
        NextRequest("/x", cookies={"s": new_token}, secret_key="k-new").cookies.get_signed("s")
        == "new"
    )
    assert (
        NextRequest("/x", cookies={"s": new_token}, secret_key="k-old").cookies.get_signed("s")
        is None
    )
    # once the old key is dropped, its cookies stop verifying
    assert (
        NextRequest("/x", cookies={"s": old_token}, secret_key=["k-new"]).cookies.get_signed("s")
        is None
    )


def test_get_signed_honours_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _signed("v", "k1", monkeypatch, age=100)
    request = NextRequest("/x", cookies={"s": token}, secret_key="k1")
    assert request.cookies.get_signed("s", max_age=10) is None
    assert request.cookies.get_signed("s", max_age=1000) == "v"
    assert request.cookies.get_signed("s") == "v"


def test_get_signed_without_a_secret_key_is_a_clear_error() -> None:
    token = _signed("v", "k1")
    with pytest.raises(HandlerKitError, match="secret_key"):
        NextRequest("/x", cookies={"s": token}).cookies.get_signed("s")


# -- json() ----------------------------------------------------------------------------------


def _post(data: bytes, content_type: str = "application/json", **options: Any) -> NextRequest:
    return NextRequest("/x", method="POST", data=data, content_type=content_type, **options)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{bad", "not valid JSON"),
        (b"", "empty"),
        (b"   \n", "empty"),
        (b'{"a": "\xff\xfe"}', "UTF-8"),
        (b"[" * 129 + b"]" * 129, "nested too deeply"),
        (b'{"a":' * 200 + b"1" + b"}" * 200, "nested too deeply"),
        (b"1" * 5000, "not valid JSON"),
        (b'{"n": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b"NaN", "not valid JSON"),
        (b'{"x": Infinity}', "not valid JSON"),
        (b"[-Infinity]", "not valid JSON"),
        (b'{"a": 1} trailing', "not valid JSON"),
    ],
)
def test_json_gives_400_invalid_json_without_echoing_the_parser(body: bytes, message: str) -> None:
    error = _api_error(_post(body).json)
    assert (error.status, error.code) == (400, "invalid_json")
    assert message in error.message
    rendered = NextResponse.from_error(error).get_data(as_text=True)
    assert set(json.loads(rendered)) == {"error", "message"}
    for leak in (
        "Expecting",
        "line 1",
        "column",
        "Traceback",
        "JSONDecodeError",
        "bad",
        "trailing",
    ):
        assert leak not in rendered


def test_json_accepts_nesting_up_to_the_limit_and_brackets_inside_strings() -> None:
    deep = b"[" * 128 + b"]" * 128
    assert _post(deep).json() is not None
    brackets = json.dumps({"s": "[" * 1000}).encode()
    assert _post(brackets).json() == {"s": "[" * 1000}


def test_json_duplicate_keys_keep_the_last_value() -> None:
    assert _post(b'{"a": 1, "a": 2}').json() == {"a": 2}


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "application/merge-patch+json", "text/plain"],
)
def test_json_parses_whatever_the_content_type(content_type: str) -> None:
    assert _post(b'{"ok": true}', content_type).json() == {"ok": True}


def test_json_accepts_a_utf8_bom_and_non_ascii() -> None:
    assert _post('\ufeff{"name": "Zoë"}'.encode()).json() == {"name": "Zoë"}


def test_json_is_cached_and_the_body_is_readable_twice() -> None:
    request = _post(b'{"a": [1, 2]}')
    assert request.bytes() == b'{"a": [1, 2]}'
    first = request.json()
    assert first == {"a": [1, 2]}
    assert request.json() is first
    assert request.bytes() == b'{"a": [1, 2]}'
    assert request.text() == '{"a": [1, 2]}'
    assert b"".join(request.body) == b'{"a": [1, 2]}'


def test_json_then_bytes_reads_the_same_body() -> None:
    request = _post(b"[1]")
    assert request.json() == [1]
    assert request.bytes() == b"[1]"


# -- text(), bytes(), body -------------------------------------------------------------------


def test_text_decodes_with_the_declared_charset_and_replaces_bad_bytes() -> None:
    assert _post("café".encode("latin-1"), "text/plain; charset=latin-1").text() == "café"
    assert _post(b"ok \xff", "text/plain").text() == "ok \ufffd"
    assert _post(b"ok", "text/plain; charset=no-such-codec").text() == "ok"


def test_body_streams_chunks_without_buffering() -> None:
    payload = bytes(range(256)) * 1024  # 256 kB: several 64 kB chunks
    request = _post(payload, "application/octet-stream")
    chunks = list(request.body)
    assert len(chunks) > 1
    assert b"".join(chunks) == payload
    assert "_cached_data" not in request.__dict__
    with pytest.raises(HandlerKitError, match="already consumed"):
        request.bytes()


def test_empty_body_reads_as_empty() -> None:
    request = NextRequest("/x")
    assert request.bytes() == b""
    assert request.text() == ""
    assert list(NextRequest("/x").body) == []


def _exploding_environ(length: int, **extra: Any) -> dict[str, Any]:
    environ = EnvironBuilder(
        path="/x", method="POST", content_type="application/json"
    ).get_environ()
    environ["CONTENT_LENGTH"] = str(length)
    environ["wsgi.input"] = ExplodingInput()
    environ.update(extra)
    return environ


def test_over_the_limit_is_413_before_reading_the_body() -> None:
    request = NextRequest(_exploding_environ(101), max_body_size=100)
    for reader in (request.bytes, request.json, request.text, lambda: list(request.body)):
        error = _api_error(reader)
        assert (error.status, error.code) == (413, "payload_too_large")


def test_the_default_limit_is_one_mebibyte() -> None:
    error = _api_error(NextRequest(_exploding_environ(DEFAULT_MAX_BODY_SIZE + 1)).bytes)
    assert error.status == 413
    assert len(_post(b"x" * DEFAULT_MAX_BODY_SIZE, "text/plain").bytes()) == DEFAULT_MAX_BODY_SIZE


def _chunked(body: bytes, limit: int) -> NextRequest:
    """A request as gunicorn passes a chunked body: no Content-Length, input terminated."""
    environ = EnvironBuilder(path="/x", method="POST", data=body).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    return NextRequest(environ, max_body_size=limit)


def test_a_chunked_body_growing_past_the_limit_is_413_not_truncated() -> None:
    request = _chunked(b"x" * 500, 100)
    for _ in range(2):  # and stays 413: the truncated bytes are never handed out
        error = _api_error(request.bytes)
        assert error.status == 413
    assert _api_error(_chunked(b"x" * 101, 100).json).status == 413
    assert _api_error(lambda: list(_chunked(b"x" * 500, 100).body)).status == 413


def test_a_chunked_body_of_exactly_the_limit_is_accepted() -> None:
    assert _chunked(b"x" * 100, 100).bytes() == b"x" * 100
    assert b"".join(_chunked(b"y" * 100, 100).body) == b"y" * 100
    assert _chunked(b"[1]", 100).json() == [1]


def test_no_limit_when_max_body_size_is_none() -> None:
    assert len(
        _post(b"x" * (DEFAULT_MAX_BODY_SIZE + 10), "text/plain", max_body_size=None).bytes()
    ) == (DEFAULT_MAX_BODY_SIZE + 10)


def test_a_truncated_body_is_400_incomplete_body() -> None:
    environ = EnvironBuilder(path="/x", method="POST", data=b"short").get_environ()
    environ["CONTENT_LENGTH"] = "50"
    request = NextRequest(environ)
    error = _api_error(request.bytes)
    assert (error.status, error.code) == (400, "incomplete_body")


class _Trickle(io.RawIOBase):
    """A server's input stream that hands the body over a few bytes per read."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step = data, step

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        size = self.step if size < 0 else min(size, self.step)
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


class _Broken(io.RawIOBase):
    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        raise OSError("connection reset by peer")


def _declared(stream: Any, length: str, **options: Any) -> NextRequest:
    environ = EnvironBuilder(path="/x", method="POST", content_type="application/json").get_environ()
    environ.update({"wsgi.input": stream, "CONTENT_LENGTH": length})
    return NextRequest(environ, **options)


def test_a_body_handed_over_in_parts_is_read_whole() -> None:
    body = json.dumps({"items": list(range(50))}).encode()
    request = _declared(_Trickle(body, 7), str(len(body)))
    assert request.bytes() == body
    assert request.json() == {"items": list(range(50))}
    assert request.get_data() == body  # Werkzeug's own accessors see the same bytes


def test_a_declared_length_is_read_exactly_and_no_further() -> None:
    stream = io.BytesIO(b'{"a": 1}GARBAGE-OF-THE-NEXT-REQUEST')
    assert _declared(stream, "8").json() == {"a": 1}
    assert stream.read() == b"GARBAGE-OF-THE-NEXT-REQUEST"


def test_a_declared_length_over_the_limit_is_413_before_reading() -> None:
    stream = io.BytesIO(b"x" * 20)
    error = _api_error(_declared(stream, "20", max_body_size=10).bytes)
    assert error.status == 413 and stream.tell() == 0


def test_a_body_ending_early_in_parts_is_400_and_a_failing_read_is_400() -> None:
    error = _api_error(_declared(_Trickle(b"x" * 10, 3), "50").bytes)
    assert (error.status, error.code) == (400, "incomplete_body")
    error = _api_error(_declared(_Broken(), "5").bytes)
    assert error.status == 400 and "reset" not in error.message


def test_a_malformed_content_length_takes_werkzeugs_path() -> None:
    for length in ("+5", "5 ", "\u0665", "-1"):
        request = _declared(io.BytesIO(b"12345"), length)
        assert request.bytes() in (b"", b"12345")  # never an error, never more than sent


# -- form_data() -----------------------------------------------------------------------------


def test_form_data_fields_and_files(tmp_path: Path) -> None:
    request = NextRequest(
        "/upload",
        method="POST",
        form={"title": "Report", "tag": ["a", "b"]},
        files={
            "doc": (b"hello world", "../../etc/passwd", "text/plain"),
            "pic": (b"\x89PNG...", "C:\\Users\\me\\photo.png", "image/png"),
        },
    )
    form = request.form_data()
    assert isinstance(form, FormData)
    assert form.get("title") == "Report"
    assert form.get_all("tag") == ["a", "b"]
    assert form.get("missing") is None
    assert form.has("doc") and "title" in form and not form.has("nope")
    assert form.keys() == ["title", "tag", "doc", "pic"]
    assert len(form) == 5
    doc = form.get("doc")
    assert isinstance(doc, UploadedFile)
    assert doc.name == "passwd"
    assert doc.raw_filename == "../../etc/passwd"
    assert doc.field == "doc"
    assert doc.content_type == "text/plain"
    assert doc.size == 11
    assert doc.read() == b"hello world"
    assert doc.read() == b"hello world"  # readable again
    target = tmp_path / "saved.txt"
    doc.save(target)
    assert target.read_bytes() == b"hello world"
    buffer = io.BytesIO()
    doc.save(buffer)
    assert buffer.getvalue() == b"hello world"
    pic = form.get("pic")
    assert isinstance(pic, UploadedFile) and pic.name == "photo.png"
    assert [f.name for f in form.files] == ["passwd", "photo.png"]
    assert request.form_data() is form


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\x", "x"),
        ("a\x00b.txt", "ab.txt"),
        (".bashrc", "bashrc"),
        ("", ""),
    ],
)
def test_uploaded_file_names_are_sanitised(raw: str, clean: str) -> None:
    request = NextRequest("/u", method="POST", files={"f": (b"x", raw or None, "text/plain")})
    upload = request.form_data().get("f")
    if isinstance(upload, UploadedFile):
        assert upload.name == clean
    else:  # no filename at all: Werkzeug treats it as a plain field
        assert clean == ""


def test_a_very_long_file_name_is_shortened_keeping_the_extension() -> None:
    request = NextRequest(
        "/u", method="POST", files={"f": (b"x", "a" * 5000 + ".pdf", "application/pdf")}
    )
    upload = request.form_data().get("f")
    assert isinstance(upload, UploadedFile)
    assert len(upload.name) <= 255 and upload.name.endswith(".pdf")


def test_form_data_reads_urlencoded_bodies() -> None:
    request = _post(b"a=1&b=x+y&a=2", "application/x-www-form-urlencoded")
    form = request.form_data()
    assert form.get("a") == "1" and form.get_all("a") == ["1", "2"] and form.get("b") == "x y"


def test_form_data_on_a_json_body_is_415() -> None:
    error = _api_error(_post(b"{}").form_data)
    assert (error.status, error.code) == (415, "unsupported_media_type")


def test_form_data_without_a_boundary_is_400() -> None:
    error = _api_error(_post(b"--x\r\n", "multipart/form-data").form_data)
    assert (error.status, error.code) == (400, "invalid_form")


def test_form_data_with_a_broken_multipart_body_is_400() -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue-without-end'
    error = _api_error(_post(body, "multipart/form-data; boundary=b").form_data)
    assert error.status == 400


def test_form_data_over_the_limit_is_413() -> None:
    request = NextRequest(
        "/u",
        method="POST",
        files={"f": (b"x" * 5000, "big.bin", "application/octet-stream")},
        max_body_size=1000,
    )
    assert _api_error(request.form_data).status == 413


# -- ip --------------------------------------------------------------------------------------


def test_ip_is_remote_addr_and_ignores_forwarded_for_by_itself() -> None:
    environ = EnvironBuilder(
        path="/x", headers={"X-Forwarded-For": "6.6.6.6"}, environ_base={"REMOTE_ADDR": "10.0.0.5"}
    ).get_environ()
    assert NextRequest(environ).ip == "10.0.0.5"


def test_ip_is_none_when_unknown() -> None:
    environ = EnvironBuilder(path="/x").get_environ()
    environ.pop("REMOTE_ADDR", None)
    assert NextRequest(environ).ip is None


def test_geo_is_not_offered() -> None:
    assert not hasattr(NextRequest("/x"), "geo")


def test_werkzeug_attributes_are_unchanged() -> None:
    request = NextRequest("/x?a=1", headers={"User-Agent": "t"})
    assert request.args["a"] == "1"
    assert request.user_agent.string == "t"
    assert request.headers.get("user-agent") == "t"


# -- review fixes ------------------------------------------------------------------------


@pytest.mark.parametrize("charset", ["idna", "punycode", "bogus", "utf-16"])
def test_text_never_fails_on_a_client_chosen_charset(charset: str) -> None:
    request = NextRequest(
        "/", method="POST", data=b"\xff\xfeabc", content_type=f"text/plain; charset={charset}"
    )
    assert isinstance(request.text(), str)


def test_werkzeug_form_stays_lenient_while_form_data_is_strict() -> None:
    broken = b'--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\nhello'
    ctype = "multipart/form-data; boundary=XX"
    assert NextRequest("/", method="POST", data=broken, content_type=ctype).form.get("a") is None
    with pytest.raises(ApiError) as caught:
        NextRequest("/", method="POST", data=broken, content_type=ctype).form_data()
    assert caught.value.status == 400


def _chunked_form_request(body: bytes, limit: int) -> NextRequest:
    environ = EnvironBuilder(
        method="POST", content_type="application/x-www-form-urlencoded"
    ).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True
    return NextRequest(environ, max_body_size=limit)


def test_a_chunked_form_over_the_limit_is_413_not_a_truncated_form() -> None:
    with pytest.raises(ApiError) as caught:
        _chunked_form_request(b"a=" + b"x" * 5000, 1000).form_data()
    assert caught.value.status == 413
    assert _chunked_form_request(b"a=" + b"x" * 500, 1000).form_data().get("a") == "x" * 500


def test_the_body_is_readable_again_after_form_data() -> None:
    request = NextRequest("/", method="POST", form={"a": "1", "b": "2"})
    assert request.form_data().get("a") == "1"
    assert request.bytes() == b"a=1&b=2"
    assert b"".join(request.body) == b"a=1&b=2"
