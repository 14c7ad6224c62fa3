"""App: dispatch, automatic HEAD/OPTIONS, 404/405/501, the error boundary, limits and URL policy."""

from __future__ import annotations

import inspect
import io
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from handlerkit import App, NextRequest, NextResponse, Router
from handlerkit.routing.resolve import MAX_PARAM_LENGTH
from handlerkit.testing import Client, write_app
from handlerkit.tokens import make_serializer

MakeApp = Callable[..., App]


class ExplodingInput(io.RawIOBase):
    """A wsgi.input that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def read(self, *args: Any) -> bytes:
        raise AssertionError("the body was read")

    readinto = readline = read  # type: ignore[assignment]


class Answer:
    """What a raw WSGI call produced."""

    def __init__(self, status: str, headers: Any, body: bytes) -> None:
        self.status_code = int(status.split()[0])
        self.headers = headers
        self.data = body

    def json(self) -> Any:
        return json.loads(self.data)


def call(
    app: Any,
    path: str,
    method: str = "GET",
    *,
    raw: str | None = None,
    query: str = "",
    headers: dict[str, str] | None = None,
    **environ: Any,
) -> Answer:
    """Call *app* with PATH_INFO exactly *path* and RAW_URI *raw* (absent when ``None``)."""
    env = EnvironBuilder(method=method, headers=headers).get_environ()
    env.pop("RAW_URI", None)
    env.pop("REQUEST_URI", None)
    env["PATH_INFO"] = path
    env["QUERY_STRING"] = query
    if raw is not None:
        env["RAW_URI"] = raw
    env.update(environ)
    app_iter, status, response_headers = run_wsgi_app(app, env, buffered=True)
    return Answer(status, response_headers, b"".join(app_iter))


def assert_error_shape(body: Any, code: str) -> None:
    assert isinstance(body, dict)
    assert set(body) <= {"error", "message", "details"}
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]


ITEMS = {
    "items/route.py": """
        from handlerkit import NextResponse

        def GET(request):
            return NextResponse.json({"items": [1, 2]}, headers={"X-Custom": "yes"})

        def POST(request):
            return NextResponse.json(request.json(), status=201)

        def DELETE(request, context):
            return NextResponse(None, 204)
        """,
}


@pytest.fixture
def items(make_client: Callable[..., Client]) -> Client:
    return make_client(ITEMS)


# -- 404 / 405 / 501 -------------------------------------------------------------------------


def test_unknown_path_is_404_in_the_json_shape(items: Client) -> None:
    response = items.get("/nope")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert_error_shape(response.json(), "not_found")


def test_unexported_known_method_is_405_with_allow_and_json_body(items: Client) -> None:
    for method in ("PUT", "PATCH"):
        response = items.open("/items", method=method)
        assert response.status_code == 405
        assert response.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS, POST"
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()
        assert_error_shape(body, "method_not_allowed")
        assert method in body["message"]


def test_unrecognised_method_is_501_in_the_json_shape(items: Client) -> None:
    response = items.open("/items", method="BREW")
    assert response.status_code == 501
    assert_error_shape(response.json(), "not_implemented")
    assert "BREW" in response.json()["message"]


def test_a_hostile_method_name_is_not_echoed(make_app: MakeApp) -> None:
    app = make_app(ITEMS)
    answer = call(app, "/items", method="X<script>")
    assert answer.status_code == 501
    assert b"<script>" not in answer.data


def test_allow_lists_sorted_exports_plus_head_and_options(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(
        {
            "post-only/route.py": "def POST():\n    return {}\n",
            "get-put/route.py": "def PUT():\n    return {}\ndef GET():\n    return {}\n",
        }
    )
    assert client.get("/post-only").headers["Allow"] == "OPTIONS, POST"
    assert client.delete("/get-put").headers["Allow"] == "GET, HEAD, OPTIONS, PUT"


# -- HEAD and OPTIONS ------------------------------------------------------------------------


def test_head_runs_get_and_keeps_status_and_headers_with_an_empty_body(items: Client) -> None:
    get = items.get("/items")
    head = items.head("/items")
    assert head.status_code == get.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Type"] == "application/json"
    assert head.headers["Content-Length"] == get.headers["Content-Length"] == str(len(get.data))
    assert head.headers["X-Custom"] == "yes"


def test_head_ignores_a_request_body(items: Client) -> None:
    head = items.head("/items", data=b"ignored", content_type="text/plain")
    assert (head.status_code, head.data) == (200, b"")


def test_head_keeps_headers_of_a_streamed_and_a_text_get(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(
        {
            "s/route.py": """
            from handlerkit import NextResponse

            def GET():
                def chunks():
                    yield b"a"
                    yield b"b"
                return NextResponse(chunks(), headers={"Content-Type": "text/plain", "X-S": "1"})
            """,
            "t/route.py": (
                "from handlerkit import NextResponse\n"
                "def GET():\n"
                "    return NextResponse('hi', 202)\n"
            ),
        }
    )
    head = client.head("/s")
    assert (head.status_code, head.data, head.headers["X-S"]) == (200, b"", "1")
    assert head.headers["Content-Type"] == "text/plain"
    text = client.head("/t")
    assert (text.status_code, text.data) == (202, b"")
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text.headers["Content-Length"] == "2"


def test_an_exported_head_handler_is_used(make_client: Callable[..., Client]) -> None:
    client = make_client(
        {
            "h/route.py": """
            from handlerkit import NextResponse

            def GET():
                return {"from": "GET"}

            def HEAD():
                return NextResponse(None, 200, {"X-From": "HEAD"})
            """,
        }
    )
    head = client.head("/h")
    assert head.headers["X-From"] == "HEAD" and head.data == b""


def test_head_without_get_is_405(make_client: Callable[..., Client]) -> None:
    response = make_client({"p/route.py": "def POST():\n    return {}\n"}).head("/p")
    assert response.status_code == 405
    assert response.headers["Allow"] == "OPTIONS, POST"


def test_automatic_options_is_204_with_allow(items: Client) -> None:
    response = items.options("/items")
    assert response.status_code == 204
    assert response.data == b""
    assert response.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS, POST"
    assert "Content-Type" not in response.headers


def test_an_exported_options_handler_is_used(make_client: Callable[..., Client]) -> None:
    client = make_client(
        {
            "o/route.py": """
            from handlerkit import NextResponse

            def OPTIONS():
                return NextResponse(None, 200, {"X-Custom-Options": "1"})
            """,
        }
    )
    response = client.options("/o")
    assert response.status_code == 200 and response.headers["X-Custom-Options"] == "1"


# -- return values ---------------------------------------------------------------------------


def test_dict_and_list_returns_become_json(make_client: Callable[..., Client]) -> None:
    client = make_client(
        {
            "d/route.py": "def GET():\n    return {'a': 1, 'b': [True, None]}\n",
            "l/route.py": "def GET():\n    return [1, 'two']\n",
        }
    )
    d = client.get("/d")
    assert (d.status_code, d.headers["Content-Type"], d.json()) == (
        200,
        "application/json",
        {"a": 1, "b": [True, None]},
    )
    assert client.get("/l").json() == [1, "two"]


def test_a_plain_werkzeug_response_is_sent_as_is(make_client: Callable[..., Client]) -> None:
    client = make_client(
        {
            "w/route.py": (
                "from werkzeug.wrappers import Response\n"
                "def GET():\n"
                "    return Response('<b/>', 203, mimetype='text/html')\n"
            ),
        }
    )
    response = client.get("/w")
    assert (response.status_code, response.data, response.mimetype) == (203, b"<b/>", "text/html")


def test_returning_none_is_a_logged_500(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app({"n/route.py": "def GET():\n    return None\n"})
    with caplog.at_level(logging.ERROR, logger="handlerkit"):
        response = Client(app).get("/n")
    assert response.status_code == 500
    assert_error_shape(response.json(), "internal_error")
    source = app.routes[0].source
    assert source.endswith("n/route.py")
    assert f"no response returned from GET in {source} for GET /n: it returned None" in caplog.text


def test_returning_another_type_is_a_logged_500(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app({"s/[x]/route.py": "def GET():\n    return 'plain text'\n"})
    with caplog.at_level(logging.ERROR, logger="handlerkit"):
        response = Client(app).head("/s/caf%C3%A9%0Aforged?token=secret", data=b"body-secret")
    assert response.status_code == 500
    source = app.routes[0].source
    # The handler's method and file, the request's method and path, what came back.
    assert (
        f"no response returned from GET in {source} for HEAD /s/caf\\u00e9\\nforged: it returned a str"
        in caplog.text
    )
    assert "secret" not in caplog.text and "\nforged" not in caplog.text
    assert b"plain text" not in response.data


@pytest.mark.parametrize("action", ["next()", "rewrite('/x')"])
def test_next_or_rewrite_from_a_handler_is_a_500(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture, action: str
) -> None:
    app = make_app(
        {
            "m/route.py": (
                "from handlerkit import NextResponse\n"
                "def GET():\n"
                f"    return NextResponse.{action}\n"
            )
        }
    )
    with caplog.at_level(logging.ERROR, logger="handlerkit"):
        response = Client(app).get("/m")
    assert response.status_code == 500
    assert_error_shape(response.json(), "internal_error")
    assert f"NextResponse.{action.split('(')[0]}() returned from GET" in caplog.text
    assert "middleware.py" in caplog.text


# -- the error boundary ----------------------------------------------------------------------

BOOM = {
    "boom/route.py": """
        def GET():
            raise RuntimeError("db password is hunter2 at /srv/app/secret.py")
        """,
}


def test_an_unhandled_exception_is_a_generic_500_with_a_request_id(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(BOOM)
    with caplog.at_level(logging.ERROR, logger="handlerkit"):
        response = Client(app).get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body == {
        "error": "internal_error",
        "message": "An internal error occurred.",
        "details": {"request_id": body["details"]["request_id"]},
    }
    request_id = body["details"]["request_id"]
    assert len(request_id) == 32 and response.headers["X-Request-ID"] == request_id
    for leak in (b"hunter2", b"RuntimeError", b"Traceback", b"secret.py", b"route.py", b"line "):
        assert leak not in response.data
    # the traceback and the request id are in the log
    assert request_id in caplog.text
    assert "RuntimeError: db password is hunter2" in caplog.text
    assert "Traceback" in caplog.text


def test_a_valid_incoming_request_id_is_reused_and_a_hostile_one_replaced(
    make_app: MakeApp,
) -> None:
    client = Client(make_app(BOOM))
    kept = client.get("/boom", headers={"X-Request-ID": "abc-123"})
    assert kept.json()["details"]["request_id"] == "abc-123"
    replaced = client.get("/boom", headers={"X-Request-ID": "x\u00e9<script>"})
    assert replaced.json()["details"]["request_id"] != "x\u00e9<script>"
    assert b"script" not in replaced.data


@pytest.mark.allow_leaks
def test_debug_true_puts_the_traceback_in_the_500_and_warns(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="handlerkit"):
        app = make_app(BOOM, debug=True)
    assert "debug=True" in caplog.text
    body = Client(app).get("/boom").json()
    assert body["error"] == "internal_error"
    assert "RuntimeError" in body["details"]["traceback"]
    assert "request_id" in body["details"]


def test_debug_is_off_by_default(make_app: MakeApp) -> None:
    assert "traceback" not in Client(make_app(BOOM)).get("/boom").json()["details"]


def test_api_error_renders_its_status_code_message_details_and_headers(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(
        {
            "e/route.py": """
            from handlerkit import ApiError

            def GET():
                raise ApiError(409, "conflict", "Already exists.", {"id": ["taken"]},
                               headers={"Retry-After": "5"})
            """,
        }
    )
    response = client.get("/e")
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "5"
    assert response.json() == {
        "error": "conflict",
        "message": "Already exists.",
        "details": {"id": ["taken"]},
    }


def test_werkzeug_http_exceptions_render_in_the_json_shape_without_their_html(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(
        {
            "w/route.py": """
            from werkzeug.exceptions import abort, MethodNotAllowed

            def GET():
                abort(403, "internal detail not for clients")

            def POST():
                raise MethodNotAllowed(valid_methods=["GET"])
            """,
        }
    )
    forbidden = client.get("/w")
    assert forbidden.status_code == 403
    assert_error_shape(forbidden.json(), "forbidden")
    assert b"<" not in forbidden.data
    not_allowed = client.post("/w")
    assert not_allowed.status_code == 405
    assert not_allowed.headers["Allow"] == "GET"
    assert_error_shape(not_allowed.json(), "method_not_allowed")


# -- handler signatures ----------------------------------------------------------------------


def test_every_method_is_dispatched_to_its_export(make_client: Callable[..., Client]) -> None:
    source = "".join(
        f"def {m}(request):\n    return {{'method': request.method, 'export': {m!r}}}\n"
        for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
    )
    client = make_client({"all/route.py": source})
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        assert client.open("/all", method=method).json() == {"method": method, "export": method}
    head = client.head("/all")
    assert head.status_code == 200 and head.data == b""


def test_handler_signatures_are_adapted_once(make_client: Callable[..., Client]) -> None:
    client = make_client(
        {
            "zero/route.py": "def GET():\n    return {'args': 0}\n",
            "one/route.py": "def GET(request):\n    return {'args': 1, 'method': request.method}\n",
            "two/[id]/route.py": (
                "def GET(request, context):\n"
                "    return {'args': 2, 'id': context.params['id'], 'route': context.route}\n"
            ),
            "default/route.py": (
                "def GET(request, context=None, extra=5):\n"
                "    return {'extra': extra, 'ctx': context is not None}\n"
            ),
            "star/route.py": "def GET(*args):\n    return {'n': len(args)}\n",
        }
    )
    assert client.get("/zero").json() == {"args": 0}
    assert client.get("/one").json() == {"args": 1, "method": "GET"}
    assert client.get("/two/7").json() == {"args": 2, "id": "7", "route": "/two/[id]"}
    assert client.get("/default").json() == {"extra": 5, "ctx": True}
    assert client.get("/star").json() == {"n": 2}


def test_exports_keep_the_originals_and_handlers_are_normalized(make_app: MakeApp) -> None:
    app = make_app({"one/route.py": "def GET(request):\n    return {}\n"})
    route = app.routes[0]
    original = route.exports["GET"]
    assert list(inspect.signature(original).parameters) == ["request"]
    assert route.handlers["GET"] is not original
    assert route.handlers["GET"].__wrapped__ is original  # type: ignore[attr-defined]


def test_no_signature_inspection_or_regex_compilation_per_request(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(
        {
            "zero/route.py": "def GET():\n    return {'ok': 0}\n",
            "one/route.py": "def GET(request):\n    return {'ok': 1}\n",
            "two/[id]/route.py": (
                "def GET(request, context):\n    return {'ok': context.params['id']}\n"
            ),
            "boom/route.py": "def GET():\n    raise ValueError('x')\n",
        },
        wrap=lambda handler: handler,
    )

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("inspect.signature called per request")

    monkeypatch.setattr(inspect, "signature", forbidden)
    monkeypatch.setattr(inspect.Signature, "from_callable", forbidden)
    monkeypatch.setattr(re, "compile", forbidden)  # no regex compilation per request either
    client = Client(app)
    for _ in range(3):
        assert client.get("/zero").json() == {"ok": 0}
        assert client.get("/one").json() == {"ok": 1}
        assert client.get("/two/9").json() == {"ok": "9"}
        assert client.post("/one").status_code == 405
        assert client.options("/one").status_code == 204
        assert client.head("/one").status_code == 200
        assert client.get("/boom").status_code == 500
        assert client.get("/missing").status_code == 404


def test_wrap_is_applied_to_every_handler_once_at_startup(make_app: MakeApp) -> None:
    wrapped: list[str] = []

    def tag(handler: Any) -> Any:
        wrapped.append(handler.__name__)

        def inner(request: NextRequest, context: Any = None) -> Any:
            response = handler(request, context)
            response.headers["X-Wrapped"] = "1"
            return response

        return inner

    app = make_app(
        {
            "a/route.py": (
                "from handlerkit import NextResponse\n"
                "def GET():\n"
                "    return NextResponse.json({})\n"
            ),
            "b/route.py": (
                "from handlerkit import NextResponse\n"
                "def POST(request):\n"
                "    return NextResponse.json({})\n"
            ),
        },
        wrap=tag,
    )
    assert sorted(wrapped) == ["GET", "POST"]
    client = Client(app)
    assert client.get("/a").headers["X-Wrapped"] == "1"
    assert client.post("/b").headers["X-Wrapped"] == "1"
    assert sorted(wrapped) == ["GET", "POST"]


# -- signed cookies through the App ----------------------------------------------------------

SIGNED = {
    "login/route.py": """
        from handlerkit import NextResponse

        def POST(request):
            response = NextResponse.json({"ok": True})
            response.cookies.set_signed("session", {"uid": 7}, http_only=True, same_site="lax")
            return response
        """,
    "me/route.py": """
        def GET(request):
            return {"session": request.cookies.get_signed("session", max_age=3600)}
        """,
}


def test_set_signed_is_signed_by_the_app_with_the_newest_key(make_app: MakeApp) -> None:
    app = make_app(SIGNED, secret_key=["old-key", "new-key"])
    client = Client(app)
    login = client.post("/login")
    cookie = login.cookies.get("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert make_serializer("new-key", "handlerkit.cookie").loads(cookie.value) == {"uid": 7}
    assert client.get("/me").json() == {"session": {"uid": 7}}


def test_signed_cookies_from_a_rotated_out_key_are_accepted_while_listed(make_app: MakeApp) -> None:
    old_token = make_serializer("old-key", "handlerkit.cookie").dumps({"uid": 1})
    rotated = Client(make_app(SIGNED, secret_key=["old-key", "new-key"]))
    rotated.set_cookie("session", old_token)
    assert rotated.get("/me").json() == {"session": {"uid": 1}}
    dropped = Client(make_app(SIGNED, secret_key=["new-key"]))
    dropped.set_cookie("session", old_token)
    assert dropped.get("/me").json() == {"session": None}


def test_tampered_signed_cookies_read_as_none(make_app: MakeApp) -> None:
    client = Client(make_app(SIGNED, secret_key="k"))
    client.post("/login")
    good = client.get_cookie("session")
    assert good is not None
    head, _, signature = good.value.rpartition(".")
    client.set_cookie("session", head + "." + signature[::-1])
    assert client.get("/me").json() == {"session": None}
    client.set_cookie("session", '{"uid": 1}')
    assert client.get("/me").json() == {"session": None}


def test_set_signed_without_an_app_secret_key_is_a_500_not_a_silent_drop(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="handlerkit"):
        response = Client(make_app(SIGNED)).post("/login")
    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers
    assert "secret_key" in caplog.text


# -- body limits -----------------------------------------------------------------------------

LIMITS = {
    "upload/route.py": "def POST(request):\n    return {'size': len(request.bytes())}\n",
    "small/route.py": (
        "max_body_size = 10\n\ndef POST(request):\n    return {'size': len(request.bytes())}\n"
    ),
    "large/route.py": (
        "max_body_size = 4 * 1024 * 1024\n"
        "\n"
        "def POST(request):\n"
        "    return {'size': len(request.bytes())}\n"
    ),
    "lazy/route.py": "def POST():\n    return {'read': False}\n",
}


def _exploding_post(app: App, path: str, length: int | str) -> Answer:
    return call(
        app,
        path,
        "POST",
        CONTENT_LENGTH=str(length),
        CONTENT_TYPE="application/octet-stream",
        **{"wsgi.input": ExplodingInput()},
    )


def test_413_over_the_default_limit_without_reading_the_body(make_app: MakeApp) -> None:
    app = make_app(LIMITS)
    answer = _exploding_post(app, "/upload", 1024 * 1024 + 1)
    assert answer.status_code == 413
    assert_error_shape(answer.json(), "payload_too_large")
    # even a handler that never reads the body is protected
    assert _exploding_post(app, "/lazy", 1024 * 1024 + 1).status_code == 413


def test_per_route_max_body_size(make_app: MakeApp) -> None:
    app = make_app(LIMITS)
    assert _exploding_post(app, "/small", 11).status_code == 413
    client = Client(app)
    assert client.post("/small", data=b"x" * 10).json() == {"size": 10}
    big = b"x" * (2 * 1024 * 1024)
    assert client.post("/large", data=big).json() == {"size": len(big)}
    assert client.post("/upload", data=big).status_code == 413


def test_the_app_wide_limit_is_configurable_and_can_be_lifted(make_app: MakeApp) -> None:
    small = make_app(LIMITS, max_body_size=5)
    assert _exploding_post(small, "/upload", 6).status_code == 413
    assert Client(small).post("/upload", data=b"12345").json() == {"size": 5}
    unlimited = Client(make_app(LIMITS, max_body_size=None))
    assert unlimited.post("/upload", data=b"x" * (1024 * 1024 + 1)).json() == {
        "size": 1024 * 1024 + 1
    }


def test_an_invalid_content_length_is_400(make_app: MakeApp) -> None:
    answer = _exploding_post(make_app(LIMITS), "/upload", "12abc")
    assert answer.status_code == 400
    assert_error_shape(answer.json(), "bad_request")


def test_json_errors_through_the_app_are_400(make_client: Callable[..., Client]) -> None:
    client = make_client({"j/route.py": "def POST(request):\n    return {'got': request.json()}\n"})
    for body in (b"{bad", b"", b'"\xff"', b"[" * 500 + b"]" * 500, b"1" * 5000, b"NaN"):
        response = client.post("/j", data=body, content_type="application/json")
        assert response.status_code == 400, body[:20]
        assert_error_shape(response.json(), "invalid_json")
    assert client.post("/j", json={"a": 1}).json() == {"got": {"a": 1}}


def test_the_body_is_readable_by_a_wrapper_and_again_by_the_handler(make_app: MakeApp) -> None:
    def peek(handler: Any) -> Any:
        def inner(request: NextRequest, context: Any = None) -> Any:
            raw = request.bytes()
            response = handler(request, context)
            response.headers["X-Peeked"] = str(len(raw))
            return response

        return inner

    app = make_app(
        {
            "p/route.py": (
                "from handlerkit import NextResponse\n"
                "def POST(request):\n"
                "    return NextResponse.json(request.json())\n"
            )
        },
        wrap=peek,
    )
    response = Client(app).post("/p", json={"k": "v"})
    assert response.json() == {"k": "v"}
    assert response.headers["X-Peeked"] == str(len(b'{"k": "v"}'))


# -- URL policy: trailing slash --------------------------------------------------------------

SLASH = {
    "route.py": "def GET(request):\n    return {'path': request.next_url.pathname}\n",
    "x/route.py": "def GET(request):\n    return {'path': request.next_url.pathname}\n",
    "evil.com/route.py": "def GET():\n    return {'evil': False}\n",
}


def test_trailing_slash_is_a_308_to_the_bare_path_keeping_the_query(make_app: MakeApp) -> None:
    app = make_app(SLASH)
    answer = call(app, "/x/", raw="/x/?a=1&b=%20two", query="a=1&b=%20two")
    assert answer.status_code == 308
    assert answer.headers["Location"] == "/x?a=1&b=%20two"
    assert call(app, "/x/").headers["Location"] == "/x"
    assert call(app, "/x//").headers["Location"] == "/x"
    client = Client(app)
    assert client.get("/x/?q=1").headers["Location"] == "/x?q=1"
    assert client.post("/x/").status_code == 308  # 308 keeps the method and body
    assert client.get("/").json() == {"path": "/"}  # the root is never redirected


def test_trailing_slash_true_reverses_the_policy(make_app: MakeApp) -> None:
    app = make_app(SLASH, trailing_slash=True)
    answer = call(app, "/x", query="a=1")
    assert answer.status_code == 308
    assert answer.headers["Location"] == "/x/?a=1"
    ok = call(app, "/x/")
    assert ok.status_code == 200 and ok.json() == {"path": "/x/"}
    assert call(app, "/").status_code == 200


@pytest.mark.parametrize("raw", [None, "//evil.com/", "//evil.com//", "///evil.com/"])
def test_a_double_slash_path_never_redirects_protocol_relative(
    make_app: MakeApp, raw: str | None
) -> None:
    app = make_app(SLASH)
    answer = call(app, raw or "//evil.com/", raw=raw)
    assert answer.status_code == 308
    location = answer.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")
    assert location == "/evil.com"


def test_backslash_and_trailing_slash_true_never_redirect_off_site(make_app: MakeApp) -> None:
    answer = call(make_app(SLASH), "/\\evil.com/")
    assert answer.status_code == 308
    assert not answer.headers["Location"].startswith(("//", "/\\"))
    reversed_ = call(make_app(SLASH, trailing_slash=True), "//evil.com", raw="//evil.com")
    assert reversed_.headers["Location"] == "/evil.com/"


def test_an_encoded_trailing_slash_is_part_of_the_segment_not_a_redirect(make_app: MakeApp) -> None:
    files = {**SLASH, "p/[id]/route.py": "def GET(request, context):\n    return context.params\n"}
    app = make_app(files)
    # "/x%2F" is the one segment "x/": redirecting to itself would loop forever.
    looped = call(app, "/x/", raw="/x%2F")
    assert looped.status_code == 404
    assert "Location" not in looped.headers
    param = call(app, "/p/a/", raw="/p/a%2F")
    assert param.status_code == 200 and param.json() == {"id": "a/"}
    assert call(app, "/x/", raw="/x/").status_code == 308  # a real slash still redirects


def test_redirect_location_does_not_echo_header_injection(make_app: MakeApp) -> None:
    answer = call(make_app(SLASH), "/x/", query="a=1\r\nSet-Cookie: x=1")
    assert answer.status_code == 308
    assert "\r" not in answer.headers["Location"] and "\n" not in answer.headers["Location"]
    assert "Set-Cookie" not in answer.headers


# -- URL policy: params ----------------------------------------------------------------------

PARAMS = {
    "users/[id]/route.py": "def GET(request, context):\n    return dict(context.params)\n",
    "users/[id]/posts/route.py": (
        "def GET(request, context):\n    return {'posts_of': context.params['id']}\n"
    ),
    "files/[...path]/route.py": "def GET(request, context):\n    return dict(context.params)\n",
    "%5Fnext/route.py": "def GET():\n    return {'literal': '_next'}\n",
    "rss.xml/route.py": "def GET():\n    return {'feed': True}\n",
    "(group)/grouped/route.py": "def GET():\n    return {'grouped': True}\n",
    "_private/route.py": "def GET():\n    return {'private': True}\n",
}


def test_percent_2f_stays_inside_a_param_with_the_raw_uri(make_app: MakeApp) -> None:
    app = make_app(PARAMS)
    assert call(app, "/users/a/b", raw="/users/a%2Fb").json() == {"id": "a/b"}
    assert call(app, "/users/a/b", REQUEST_URI="/users/a%2Fb").json() == {"id": "a/b"}
    assert call(app, "/users/a/b/posts", raw="/users/a%2Fb/posts").json() == {"posts_of": "a/b"}
    assert call(app, "/files/a/b/c", raw="/files/a%2Fb/c?x=1").json() == {"path": ["a/b", "c"]}


def test_without_the_raw_uri_a_decoded_slash_never_spans_one_param(make_app: MakeApp) -> None:
    app = make_app(PARAMS)
    answer = call(app, "/users/a/b")
    assert answer.status_code == 404
    assert_error_shape(answer.json(), "not_found")


def test_a_raw_uri_that_disagrees_with_path_info_is_ignored(make_app: MakeApp) -> None:
    # a proxy or middleware rewrote PATH_INFO: trust PATH_INFO
    assert call(make_app(PARAMS), "/users/7", raw="/somewhere/else").json() == {"id": "7"}


def test_params_are_percent_decoded_per_segment(make_app: MakeApp) -> None:
    app = make_app(PARAMS)
    assert call(app, "/users/caf\xc3\xa9", raw="/users/caf%C3%A9").json() == {"id": "café"}
    assert call(app, "/users/caf\xc3\xa9").json() == {"id": "café"}
    assert Client(app).get("/users/a%20b").json() == {"id": "a b"}


@pytest.mark.parametrize("raw", ["/users/%zz", "/users/%", "/users/%2", "/users/a%G0"])
def test_a_malformed_escape_is_400(make_app: MakeApp, raw: str) -> None:
    answer = call(make_app(PARAMS), raw, raw=raw)
    assert answer.status_code == 400
    assert_error_shape(answer.json(), "invalid_path")


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/users/\xc0\xae", "/users/%C0%AE"),
        ("/users/\xff", "/users/%FF"),
        ("/users/\xc0\xae", None),
    ],
)
def test_invalid_utf8_in_the_path_is_400(make_app: MakeApp, path: str, raw: str | None) -> None:
    answer = call(make_app(PARAMS), path, raw=raw)
    assert answer.status_code == 400
    assert_error_shape(answer.json(), "invalid_path")


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/files/../etc/passwd", None),
        ("/files/a/../../etc/passwd", "/files/a/../../etc/passwd"),
        ("/files/../x", "/files/%2e%2e/x"),
        ("/files/./x", "/files/%2E/x"),
        ("/files/a\x00b", "/files/a%00b"),
        ("/files/a\x00b", None),
        ("/users/..", "/users/%2e%2e"),
    ],
)
def test_dot_segments_and_nul_in_params_are_400(
    make_app: MakeApp, path: str, raw: str | None
) -> None:
    answer = call(make_app(PARAMS), path, raw=raw)
    assert answer.status_code == 400
    assert_error_shape(answer.json(), "invalid_param")


def test_params_longer_than_the_cap_are_400(make_app: MakeApp) -> None:
    app = make_app(PARAMS)
    at_cap = "a" * MAX_PARAM_LENGTH
    assert call(app, f"/users/{at_cap}").json() == {"id": at_cap}
    over = call(app, f"/users/{at_cap}a")
    assert over.status_code == 400
    assert_error_shape(over.json(), "invalid_param")
    assert at_cap.encode() not in over.data
    assert call(app, f"/files/ok/{at_cap}a").status_code == 400


def test_static_segment_quirks(make_app: MakeApp) -> None:
    client = Client(make_app(PARAMS))
    assert client.get("/_next").json() == {"literal": "_next"}
    assert client.get("/rss.xml").json() == {"feed": True}
    assert client.get("/grouped").json() == {"grouped": True}
    assert client.get("/(group)/grouped").status_code == 404
    assert client.get("/_private").status_code == 404


# -- hosts and client addresses --------------------------------------------------------------

WHO = {
    "who/route.py": (
        "def GET(request):\n"
        "    url = request.next_url\n"
        "    return {'ip': request.ip, 'host': url.host, 'proto': url.protocol}\n"
    )
}


def test_ip_ignores_x_forwarded_for_unless_proxies_are_trusted(make_app: MakeApp) -> None:
    headers = {
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "public.example",
    }
    direct = call(make_app(WHO), "/who", headers=headers, REMOTE_ADDR="10.0.0.2")
    assert direct.json() == {"ip": "10.0.0.2", "host": "localhost", "proto": "http:"}
    proxied = call(
        make_app(WHO, trusted_proxies=1), "/who", headers=headers, REMOTE_ADDR="10.0.0.2"
    )
    assert proxied.json() == {"ip": "203.0.113.9", "host": "public.example", "proto": "https:"}


def test_trusted_proxies_counts_hops_from_the_right(make_app: MakeApp) -> None:
    headers = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}
    answer = call(make_app(WHO, trusted_proxies=1), "/who", headers=headers, REMOTE_ADDR="10.0.0.2")
    assert answer.json()["ip"] == "203.0.113.9"  # the client-supplied left part is not trusted


def test_trusted_hosts_refuse_other_hosts_with_400(make_app: MakeApp) -> None:
    app = make_app(WHO, trusted_hosts=["api.example.com", ".internal.example"])
    ok = call(app, "/who", headers={"Host": "api.example.com"})
    assert ok.status_code == 200
    assert call(app, "/who", headers={"Host": "svc.internal.example"}).status_code == 200
    bad = call(app, "/who", headers={"Host": "evil.example"})
    assert bad.status_code == 400
    assert_error_shape(bad.json(), "invalid_host")
    assert b"evil" not in bad.data
    forged = call(
        make_app(WHO, trusted_hosts=["api.example.com"], trusted_proxies=1),
        "/who",
        headers={"Host": "api.example.com", "X-Forwarded-Host": "evil.example"},
    )
    assert forged.status_code == 400


# -- App(router) -----------------------------------------------------------------------------


def test_app_accepts_a_router_with_all_three_styles(tmp_path: Path) -> None:
    root = write_app(tmp_path, {"scanned/route.py": "def GET():\n    return {'style': 'scan'}\n"})
    module = type("M", (), {"GET": staticmethod(lambda: {"style": "add"})})
    router = Router()

    @router.route("/decorated/[id]")
    def GET(request: NextRequest, context: Any) -> dict[str, str]:  # noqa: N802
        return {"style": "decorator", "id": context.params["id"]}

    router.route("/methods", methods=["PUT", "PATCH"])(
        lambda request: {"style": "methods", "m": request.method}
    )
    router.add("/added", module)
    router.scan(root)
    client = Client(App(router))
    assert client.get("/decorated/1").json() == {"style": "decorator", "id": "1"}
    assert client.put("/methods").json() == {"style": "methods", "m": "PUT"}
    assert client.patch("/methods").json() == {"style": "methods", "m": "PATCH"}
    assert client.get("/added").json() == {"style": "add"}
    assert client.get("/scanned").json() == {"style": "scan"}


def test_create_app_is_app(tmp_path: Path) -> None:
    from handlerkit import create_app

    root = write_app(tmp_path, {"route.py": "def GET():\n    return {'ok': True}\n"})
    app = create_app(str(root), base_path="/v1")
    assert isinstance(app, App)
    assert Client(app).get("/v1").json() == {"ok": True}


def test_a_response_object_is_never_shared_between_requests(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(
        {
            "c/route.py": (
                "def GET(request):\n    return {'q': request.next_url.search_params.get('q')}\n"
            )
        }
    )
    assert [client.get(f"/c?q={i}").json()["q"] for i in range(3)] == ["0", "1", "2"]


def test_next_response_subclasses_pass_through(make_client: Callable[..., Client]) -> None:
    client = make_client(
        {
            "r/route.py": (
                "from handlerkit import NextResponse\n"
                "def GET():\n"
                "    return NextResponse.redirect('/elsewhere', 303)\n"
            ),
        }
    )
    response = client.get("/r")
    assert (response.status_code, response.headers["Location"]) == (303, "/elsewhere")
    assert isinstance(NextResponse.redirect("/x"), NextResponse)


# -- review fixes: what the buffered fast path must leave to Werkzeug --------------------


def test_str_chunks_iri_locations_and_close_callbacks_take_the_generic_path(make_app: MakeApp) -> None:
    app = make_app(
        {
            "chunks/route.py": "from handlerkit import NextResponse\n"
            "def GET():\n    return NextResponse(['a', 'b'])\n",
            "made/route.py": "from handlerkit import NextResponse\n"
            "def POST():\n"
            "    return NextResponse.json({'ok': 1}, status=201, headers={'Location': '/users/\u00fc\u20ac'})\n",
            "closing/route.py": "from handlerkit import NextResponse\n"
            "CLOSED = []\n"
            "def GET():\n"
            "    response = NextResponse.json({'ok': 1})\n"
            "    response.call_on_close(lambda: CLOSED.append(1))\n"
            "    return response\n",
        }
    )
    assert call(app, "/chunks").data == b"ab"
    made = call(app, "/made", "POST")
    assert made.headers["Location"] == "/users/%C3%BC%E2%82%AC"
    env = EnvironBuilder(path="/closing").get_environ()
    app_iter, status, _headers = run_wsgi_app(app, env)
    assert b"".join(app_iter) == b'{"ok":1}'
    app_iter.close()  # type: ignore[attr-defined]
    route = next(r for r in app.routes if r.pattern == "/closing")
    assert route.exports["GET"].__globals__["CLOSED"] == [1]


def test_middleware_that_answers_itself_still_closes_parsed_uploads(make_app: MakeApp) -> None:
    app = make_app(
        {
            "middleware.py": "from handlerkit import NextResponse\n"
            "SEEN = []\n"
            "def middleware(request):\n"
            "    form = request.form_data()\n"
            "    SEEN.append(form.get('f').stream)\n"
            "    return NextResponse.json({'refused': True}, status=403)\n",
            "up/route.py": "def POST():\n    return {'ok': True}\n",
        }
    )
    answer = Client(app).post(
        "/up", data={"f": (io.BytesIO(b"x" * 700_000), "big.bin")}, content_type="multipart/form-data"
    )
    assert answer.status_code == 403
    seen = app.root_middleware.SEEN  # type: ignore[union-attr]
    assert len(seen) == 1 and seen[0].closed


def test_trusted_hosts_are_matched_case_insensitively_and_as_idna(make_app: MakeApp) -> None:
    app = make_app(WHO, trusted_hosts=["API.example.com:8443", "bücher.example", ".Internal.example"])
    for host in ("api.example.com", "API.EXAMPLE.COM:9000", "xn--bcher-kva.example", "a.internal.example"):
        assert call(app, "/who", headers={"Host": host}).status_code == 200, host
    for host in ("example.com", "internal.example.evil", "a..b"):
        assert call(app, "/who", headers={"Host": host}).status_code == 400, host
    malformed = call(app, "/who", headers={"Host": "b\xfccher.example"})
    assert malformed.status_code == 400 and malformed.json()["error"] == "invalid_host"
    with pytest.raises(ValueError, match="trusted_hosts"):
        make_app(WHO, trusted_hosts=["a..b\u00e9"])


def test_a_plain_response_whose_headers_werkzeug_cannot_encode_gets_the_static_500(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app({"go/route.py": (
        "from werkzeug.wrappers import Response\n"
        "def GET(request):\n"
        "    return Response(status=302, headers={'Location': 'http://a..b\u00e9/x'})\n"
    )})
    answer = call(app, "/go")
    assert answer.status_code == 500 and answer.json()["error"] == "internal_error"
    assert "the error boundary failed" in caplog.text
