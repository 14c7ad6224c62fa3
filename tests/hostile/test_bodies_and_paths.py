"""BAD_INPUTS.md rows A (bodies and JSON), B1-B3 (sizes), C (multipart) and D (paths), in-process.

Each test is named by its catalogue row and also tries the row's neighbours.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote

import pytest

from handlerkit import App
from handlerkit.testing import Client
from tests.hostile.conftest import Exploding, call, check

USER = {"name": "ada", "age": 36, "tags": ["x"]}


def post_json(client: Client, path: str, body: bytes | str, ctype: str | None = "application/json"):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": ctype} if ctype is not None else {}
    return client.post(path, data=body, headers=headers)


# ----------------------------------------------------------------------------- A


@pytest.mark.parametrize(
    "body",
    [
        b"{bad",
        b'{"a":',
        b'{"a":1}x',
        b'{"a":1}{"b":2}',
        b"{'a': 1}",
        b'{"a":01}',
        b"[1,]",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"1e400",
        b"[" * 200_000,
        b'{"a":' * 5000,
    ],
    ids=[
        "bad",
        "truncated",
        "trailing-garbage",
        "two-documents",
        "single-quotes",
        "leading-zero",
        "trailing-comma",
        "NaN",
        "Infinity",
        "-Infinity",
        "overflow-float",
        "deep-array",
        "deep-object",
    ],
)
def test_A1_malformed_json_is_400_invalid_json(client: Client, body: bytes) -> None:
    for path in ("/json", "/users"):
        document = check(post_json(client, path, body), 400, "invalid_json")
        # Never the decoder's own words ("Expecting value: line 1 column 2").
        assert "Expecting" not in document["message"] and "line 1" not in document["message"]


def test_A1_neighbours_that_are_valid_json_are_accepted(client: Client) -> None:
    nested_in_string = '{"s": "' + "[" * 5000 + '"}'
    assert check(post_json(client, "/json", nested_in_string), 200)["data"]["s"] == "[" * 5000
    # A UTF-8 byte-order mark is tolerated (RFC 8259 lets parsers ignore it).
    assert check(post_json(client, "/json", b'\xef\xbb\xbf{"a":1}'), 200)["data"] == {"a": 1}
    assert check(post_json(client, "/json", b'"\\u0000"'), 200)["data"] == "\x00"
    # Brackets behind escaped quotes are still inside the string, whatever their number.
    tricky = '{"s": "\\"' + "[" * 300 + '\\\\", "t": ' + "[" * 20 + "]" * 20 + "}"
    assert check(post_json(client, "/json", tricky), 200)["data"]["t"] == json.loads(
        "[" * 20 + "]" * 20
    )
    deep_after_string = '{"s": "\\\\", "t": ' + "[" * 200 + "]" * 200 + "}"
    check(post_json(client, "/json", deep_after_string), 400, "invalid_json")


@pytest.mark.parametrize(
    "ctype",
    [
        "text/plain",
        None,
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "multipart/form-data; boundary=x",
        "json",
    ],
)
def test_A2_json_with_the_wrong_content_type_is_415(client: Client, ctype: str | None) -> None:
    check(post_json(client, "/users", json.dumps(USER), ctype), 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "ctype",
    [
        "application/json; charset=utf-8",
        "application/merge-patch+json",
        "application/vnd.api+json",
        "APPLICATION/JSON",
        "application/json;charset=UTF-8",
    ],
)
def test_A3_json_media_types_are_accepted(client: Client, ctype: str) -> None:
    assert check(post_json(client, "/users", json.dumps(USER), ctype), 201) == USER


@pytest.mark.parametrize(
    "body",
    [
        b'{"name":"\xff"}',
        b'{"name":"\xc0\xae"}',
        b'{"name":"\xed\xa0\x80"}',
        '{"name":"x"}'.encode("utf-16"),
        b'{"name":"\xe2\x82"}',
    ],
    ids=["ff", "overlong", "encoded-surrogate", "utf16", "truncated-sequence"],
)
def test_A4_invalid_utf8_in_json_is_400(client: Client, body: bytes) -> None:
    for path in ("/json", "/users"):
        check(post_json(client, path, body), 400, "invalid_json")


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":"\\ud800","b":"\\udfff \xc3\xa9"}',
        b'{"name":"\\ud800"}',
        b'{"name":"x","\\udc00":1}',  # in an unknown key: 400 before the 422 could be built
        b'[1,{"deep":["\\uDBFF"]}]',
    ],
    ids=["values", "schema-field", "unknown-key", "nested"],
)
def test_A4_lone_surrogate_escapes_are_400(client: Client, body: bytes) -> None:
    # Valid JSON text, but "\ud800" is no Unicode string (no UTF-8 form, I-JSON forbids
    # it): refused at parse time, so no handler, schema or encoder ever sees one.
    for path in ("/json", "/users"):
        check(post_json(client, path, body), 400, "invalid_json")


def test_A4_surrogate_pairs_and_escaped_backslashes_are_ordinary_text(client: Client) -> None:
    document = check(post_json(client, "/json", b'{"a":"\\ud83d\\ude00","b":"\\\\ud800"}'), 200)
    assert document["data"] == {"a": "\U0001f600", "b": "\\ud800"}


def test_A5_huge_integers_are_400_or_422_never_500(client: Client) -> None:
    digits = "1" * 5000
    check(post_json(client, "/json", digits), 400, "invalid_json")
    check(post_json(client, "/json", '{"a": -' + digits + "}"), 400, "invalid_json")
    check(post_json(client, "/users", '{"name": "x", "age": ' + digits + "}"), 400, "invalid_json")
    # The same number as a string reaches the schema: 422 with the field named.
    document = check(
        post_json(client, "/users", json.dumps({"name": "x", "age": digits})),
        422,
        "validation_error",
    )
    assert "age" in document["details"]["body"]
    # 4300 digits is Python's limit; 4300 is still fine.
    assert check(post_json(client, "/json", "9" * 4300), 200)["kind"] == "int"


def test_A6_duplicate_keys_last_wins_everywhere(client: Client) -> None:
    assert check(post_json(client, "/json", b'{"a":1,"a":2}'), 200)["data"] == {"a": 2}
    assert check(post_json(client, "/users", b'{"name":"first","name":"last"}'), 201) == {
        "name": "last"
    }
    assert check(post_json(client, "/json", b'{"a":{"b":1},"a":{"c":2}}'), 200)["data"] == {
        "a": {"c": 2}
    }


@pytest.mark.parametrize("body", ["[]", '[{"name":"x"}]', '"name"', "null", "42", "true"])
def test_A7_non_object_top_level_is_422(client: Client, body: str) -> None:
    document = check(post_json(client, "/users", body), 422, "validation_error")
    assert "body" in document["details"]


@pytest.mark.parametrize(
    "extra", [{"is_admin": True}, {"__proto__": {"admin": True}}, {"role": "admin"}, {"": 1}]
)
def test_A8_unknown_fields_are_422(client: Client, extra: dict[str, object]) -> None:
    document = check(
        post_json(client, "/users", json.dumps({"name": "x", **extra})), 422, "validation_error"
    )
    assert set(extra) <= set(document["details"]["body"])


@pytest.mark.parametrize("body", [b"", b" ", b"\r\n\t", b"\xef\xbb\xbf"])
def test_A9_empty_json_body_is_400(client: Client, body: bytes) -> None:
    for path in ("/json", "/users"):
        check(post_json(client, path, body), 400, "invalid_json")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": 5}, {"name"}),
        ({"name": "x", "age": "old"}, {"age"}),
        ({"name": "x" * 5000}, {"name"}),
        ({"name": "x", "tags": ["t"] * 100_000}, {"tags"}),
        ({"name": "x", "tags": [1, {"a": 1}]}, {"tags"}),
        ({"name": ["x"], "age": [1]}, {"name", "age"}),
        ({}, {"name"}),
    ],
    ids=[
        "int-for-string",
        "string-for-int",
        "long-string",
        "huge-array",
        "wrong-item-types",
        "two-fields",
        "missing",
    ],
)
def test_A10_wrong_types_and_sizes_are_422_per_field(
    client: Client, body: dict[str, object], fields: set[str]
) -> None:
    document = check(post_json(client, "/users", json.dumps(body)), 422, "validation_error")
    assert set(document["details"]["body"]) == fields
    assert "x" * 100 not in json.dumps(document)  # the over-long value is not echoed


# ----------------------------------------------------------------------------- B


def test_B1_content_length_over_the_limit_is_413_before_reading(app: App) -> None:
    for path, size in (
        ("/json", 1024 * 1024 + 1),
        ("/hooks/stripe", 64 * 1024 + 1),
        ("/upload", 10**12),
        ("/users", 10**30),
    ):
        status, headers, body = call(
            app,
            "POST",
            path,
            CONTENT_LENGTH=str(size),
            CONTENT_TYPE="application/json",
            **{"wsgi.input": Exploding()},
        )
        assert status == 413, (path, status, body)
        assert json.loads(body)["error"] == "payload_too_large"


def test_B1_limits_are_exact_and_odd_lengths_never_500(app: App) -> None:
    ok = b'"' + b"x" * (1024 * 1024 - 2) + b'"'
    assert call(app, "POST", "/json", body=ok, CONTENT_TYPE="application/json")[0] == 200
    for length in ("abc", "-5", "1e3", " 3", "0x10", "", "9" * 40):
        status, _, body = call(
            app,
            "POST",
            "/json",
            CONTENT_LENGTH=length,
            CONTENT_TYPE="application/json",
            **{"wsgi.input": io.BytesIO(b'{"a":1}')},
        )
        assert 400 <= status < 500, (length, status, body)


def test_B2_chunked_body_past_the_limit_is_413_while_streaming(app: App) -> None:
    body = b"[" + b"1," * (600 * 1024) + b"1]"
    for path in ("/json", "/users"):
        status, _, data = call(
            app,
            "POST",
            path,
            CONTENT_TYPE="application/json",
            **{"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True},
        )
        assert status == 413 and json.loads(data)["error"] == "payload_too_large", (
            path,
            status,
            data,
        )
    status, _, data = call(
        app,
        "POST",
        "/json",
        CONTENT_TYPE="application/json",
        **{"wsgi.input": io.BytesIO(b'{"small":true}'), "wsgi.input_terminated": True},
    )
    assert status == 200 and json.loads(data)["data"] == {"small": True}


def test_B3_body_shorter_than_content_length_is_400(app: App) -> None:
    for path, ctype in (
        ("/json", "application/json"),
        ("/upload", "multipart/form-data; boundary=xyz"),
    ):
        status, _, data = call(
            app,
            "POST",
            path,
            CONTENT_LENGTH="1000",
            CONTENT_TYPE=ctype,
            **{"wsgi.input": io.BytesIO(b'{"a":'), "wsgi.input_terminated": False},
        )
        assert 400 <= status < 500, (path, status, data)


# ----------------------------------------------------------------------------- C


def multipart(
    parts: list[tuple[str, str | None, bytes, str | None]], boundary: str = "xyz"
) -> bytes:
    out = []
    for name, filename, value, ctype in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if ctype:
            head += f"Content-Type: {ctype}\r\n"
        out.append(head.encode("utf-8", "surrogateescape") + b"\r\n" + value + b"\r\n")
    return b"".join(out) + f"--{boundary}--\r\n".encode()


def send_form(client: Client, body: bytes, boundary: str = "xyz", method: str = "POST"):  # type: ignore[no-untyped-def]
    return client.open(
        "/upload",
        method=method,
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def test_C1_too_many_parts_is_413(client: Client) -> None:
    body = multipart([(f"f{i}", None, b"v", None) for i in range(1200)])
    check(send_form(client, body), 413, "payload_too_large")
    body = multipart([(f"f{i}", f"f{i}.txt", b"v", "text/plain") for i in range(1200)])
    check(send_form(client, body), 413, "payload_too_large")


def test_C2_one_huge_field_is_413(client: Client) -> None:
    check(
        send_form(client, multipart([("big", None, b"x" * 600_000, None)])),
        413,
        "payload_too_large",
    )
    check(
        client.post(
            "/upload", data="big=" + "x" * 600_000, content_type="application/x-www-form-urlencoded"
        ),
        413,
    )


def test_C3_many_small_files_are_413_and_leave_no_temp_files(
    client: Client, fds, monkeypatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    before = fds()
    for _ in range(3):
        body = multipart(
            [
                (f"file{i}", f"f{i}.bin", os.urandom(600), "application/octet-stream")
                for i in range(1100)
            ]
        )
        check(send_form(client, body), 413, "payload_too_large")
        # Under the cap: accepted, and still nothing left behind once answered.
        body = multipart(
            [
                (f"file{i}", f"f{i}.bin", os.urandom(600), "application/octet-stream")
                for i in range(50)
            ]
            + [("big", "big.bin", os.urandom(600_000), None)]
        )
        assert len(check(send_form(client, body), 200)["files"]) == 51
    assert fds() == before
    assert list(spool.iterdir()) == []


@pytest.mark.parametrize(
    ("ctype", "body"),
    [
        ("multipart/form-data", b"--xyz\r\n\r\n--xyz--\r\n"),
        ("multipart/form-data; boundary=", b"--\r\n"),
        ("multipart/form-data; boundary=abc", multipart([("a", None, b"1", None)])),
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nunterminated',
        ),
        ("multipart/form-data; boundary=xyz", b"garbage"),
        ('multipart/form-data; boundary="unterminated', b"--x--\r\n"),
    ],
    ids=["none", "empty", "wrong", "unterminated", "garbage", "bad-quote"],
)
def test_C4_missing_or_invalid_boundary_is_400(client: Client, ctype: str, body: bytes) -> None:
    response = client.post("/upload", data=body, headers={"Content-Type": ctype})
    assert 400 <= response.status_code < 500
    check(response, response.status_code)
    if response.status_code != 200:
        assert response.status_code == 400, response.get_data()


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("C:\\x", "x"),
        ("/abs/path.txt", "path.txt"),
        ("CON", "CON"),
        ("a\x00b.txt", "ab.txt"),
        ("..", ""),
        (".hidden", "hidden"),
        ("\x1b[31mred.txt", "[31mred.txt"),
    ],
)
def test_C5_client_filenames_are_sanitised_display_names(
    client: Client, filename: str, shown: str
) -> None:
    document = check(send_form(client, multipart([("f", filename, b"data", "text/plain")])), 200)
    name = document["files"][0]["name"]
    assert name == shown
    assert "/" not in name and "\\" not in name and "\x00" not in name and not name.startswith(".")


def test_C5_a_5kb_filename_is_shortened(client: Client) -> None:
    document = check(
        send_form(client, multipart([("f", "a" * 5000 + ".png", b"data", "image/png")])), 200
    )
    name = document["files"][0]["name"]
    assert len(name) <= 255 and name.endswith(".png")


def test_C6_a_lying_part_content_type_is_not_trusted(client: Client) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    exe = b"MZ" + b"\x00" * 30
    # The declared type is reported as declared (untrusted) ...
    assert (
        check(send_form(client, multipart([("image", "x.png", exe, "image/png")])), 200)["files"][
            0
        ]["type"]
        == "image/png"
    )
    # ... and a route that checks the bytes refuses it.
    check(send_form(client, multipart([("image", "x.png", exe, "image/png")]), method="PUT"), 415)
    check(send_form(client, multipart([("image", "x.exe", png, "image/png")]), method="PUT"), 415)
    check(send_form(client, multipart([("image", "x.png", png, "image/png")]), method="PUT"), 200)


# ----------------------------------------------------------------------------- D


def get_raw(app: App, raw: str, **environ: str) -> tuple[int, dict[str, str], bytes]:
    """GET *raw* as gunicorn would pass it: PATH_INFO decoded (latin-1), RAW_URI as sent."""
    return call(app, "GET", unquote(raw.partition("?")[0], "latin-1"), raw_uri=raw, **environ)


@pytest.mark.parametrize(
    "path",
    [
        "/files/../../etc/passwd",
        "/files/a/../../etc",
        "/files/./x",
        "/files/x/..",
        "/files/..\\..\\etc",
        "/files/a/..\\b",
        "/users/..",
    ],
)
def test_D1_dot_segments_in_params_are_400(app: App, path: str) -> None:
    for raw_uri in (None, path):
        status, _, body = call(app, "GET", path, raw_uri=raw_uri)
        assert status == 400 and json.loads(body)["error"] == "invalid_param", (path, status, body)


@pytest.mark.parametrize(
    "raw",
    [
        "/files/%2e%2e/x",
        "/files/%2E%2e/%2e%2e/etc/passwd",
        "/files/.%2e/x",
        "/files/%2e",
        "/files/a%2F..%2F..%2Fetc",
        "/files/..%5C..%5Cetc",
        "/files/a%2F.%2Fb",
        "/users/..%2Fadmin",
        "/users/%2e%2e",
        "/users/a%00b",
        "/files/a/%00",
    ],
)
def test_D2_encoded_dot_segments_are_400(app: App, raw: str) -> None:
    status, _, body = get_raw(app, raw)
    assert status == 400 and json.loads(body)["error"] == "invalid_param", (raw, status, body)


def test_D2_double_encoding_is_decoded_once(app: App) -> None:
    status, _, body = get_raw(app, "/files/%252e%252e/x")
    assert status == 200 and json.loads(body) == {"path": ["%2e%2e", "x"]}
    assert json.loads(get_raw(app, "/files/..x/a..")[2]) == {"path": ["..x", "a.."]}


def test_D3_encoded_slash_stays_in_one_segment(app: App) -> None:
    status, _, body = get_raw(app, "/users/a%2Fb")
    assert status == 200 and json.loads(body) == {"id": "a/b"}
    status, _, body = call(
        app, "GET", "/users/a/b"
    )  # no raw URI: the server decoded it; two segments
    assert status == 404 and json.loads(body)["error"] == "not_found"
    status, _, body = get_raw(app, "/files/a%2Fb/c")
    assert json.loads(body) == {"path": ["a/b", "c"]}
    # A raw URI that disagrees with PATH_INFO (a proxy rewrote it) is ignored, never trusted.
    status, _, body = call(app, "GET", "/users/a", raw_uri="/users/a%2Fb")
    assert status == 200 and json.loads(body) == {"id": "a"}


@pytest.mark.parametrize(
    "raw", ["/users/%zz", "/users/%", "/users/%2", "/users/a%g1", "/files/%%32%65"]
)
def test_D4_malformed_escapes_are_400(app: App, raw: str) -> None:
    status, _, body = call(app, "GET", raw, raw_uri=raw)
    assert status == 400 and json.loads(body)["error"] == "invalid_path", (raw, status, body)


@pytest.mark.parametrize(
    "raw",
    [
        "/users/%C0%AE",
        "/files/%C0%AE%C0%AE/x",
        "/users/%FF",
        "/users/%ED%A0%80",
        "/users/%E2%82",
        "/users/%F8%88%80%80%80",
    ],
)
def test_D5_invalid_utf8_escapes_are_400(app: App, raw: str) -> None:
    for environ in ({"raw_uri": raw}, {}):
        status, _, body = call(app, "GET", unquote(raw, "latin-1"), **environ)
        assert status in (400, 404), (raw, status, body)
        assert status == 400


def test_D5_valid_utf8_escapes_are_decoded(app: App) -> None:
    assert json.loads(get_raw(app, "/users/%C3%A9t%C3%A9")[2]) == {"id": "été"}


def test_D6_precedence_static_dynamic_catch_all(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(
        {
            "users/me/route.py": "def GET(): return {'r': 'me'}\n",
            "users/[id]/route.py": "def GET(request, context): return {'r': 'id', 'p': context.params}\n",
            "users/[id]/posts/route.py": "def GET(request, context): return {'r': 'posts', 'p': context.params}\n",
            "users/[...rest]/route.py": "def GET(request, context): return {'r': 'rest', 'p': context.params}\n",
        }
    )
    expected = {
        "/users/me": "me",
        "/users/ME": "id",
        "/users/me2": "id",
        "/users/x": "id",
        "/users/me/posts": "posts",
        "/users/x/posts": "posts",
        "/users/x/y": "rest",
        "/users/me/x": "rest",
        "/users/a/posts/b": "rest",
    }
    for _ in range(3):  # the same answer every time
        for path, route in expected.items():
            status, _, body = call(app, "GET", path)
            assert status == 200 and json.loads(body)["r"] == route, (path, body)


def test_D7_long_catch_alls_and_long_segments(app: App) -> None:
    path = "/files/" + "/".join(f"s{i}" for i in range(1000))
    status, _, body = call(app, "GET", path)
    assert status == 200 and len(json.loads(body)["path"]) == 1000
    status, _, body = call(app, "GET", "/users/" + "x" * 4096)
    assert status == 400 and json.loads(body)["error"] == "invalid_param"
    assert call(app, "GET", "/users/" + "x" * 1024)[0] == 200
    status, _, body = get_raw(app, "/files/a/" + "%41" * 2000)
    assert status == 400 and json.loads(body)["error"] == "invalid_param"


class BrokenChunks(io.RawIOBase):
    """A wsgi.input failing the way gunicorn's does on a malformed chunked body."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        raise self.exc


def test_B3_a_malformed_chunked_body_is_400_not_500(make_app) -> None:  # type: ignore[no-untyped-def]
    from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize, NoMoreData

    app = make_app(
        {
            "json/route.py": "def POST(request): return {'v': request.json()}\n",
            "form/route.py": "def POST(request): return {'n': len(request.form_data())}\n",
            "stream/route.py": "def POST(request): return {'n': sum(len(c) for c in request.body)}\n",
        }
    )
    for exc in (InvalidChunkSize(b"zz"), ChunkMissingTerminator(b"x"), NoMoreData(b"")):
        for path, ctype in (
            ("/json", "application/json"),
            ("/form", "multipart/form-data; boundary=x"),
            ("/stream", "application/octet-stream"),
        ):
            status, _, body = call(
                app,
                "POST",
                path,
                CONTENT_TYPE=ctype,
                **{"wsgi.input": BrokenChunks(exc), "wsgi.input_terminated": True},
            )
            assert status == 400 and json.loads(body)["error"] in (
                "invalid_body",
                "incomplete_body",
            ), (path, exc, body)
    # A body that stops arriving (the server's socket timeout) is a 408, on every reading path.
    for path, ctype, exc in (
        ("/json", "application/json", TimeoutError("timed out")),
        ("/form", "multipart/form-data; boundary=x", TimeoutError("timed out")),
        ("/stream", "application/octet-stream", TimeoutError("timed out")),
        ("/json", "application/json", BlockingIOError(11, "SO_RCVTIMEO")),
    ):
        status, _, body = call(
            app,
            "POST",
            path,
            CONTENT_TYPE=ctype,
            **{"wsgi.input": BrokenChunks(exc), "wsgi.input_terminated": True},
        )
        assert status == 408 and json.loads(body) == {
            "error": "request_timeout",
            "message": "The request body stopped arriving.",
        }, (path, body)
    # Anything else a stream raises is a server fault, not the client's: the generic 500.
    status, _, body = call(
        app,
        "POST",
        "/json",
        CONTENT_TYPE="application/json",
        **{"wsgi.input": BrokenChunks(RuntimeError("disk")), "wsgi.input_terminated": True},
    )
    assert status == 500 and json.loads(body)["error"] == "internal_error"
