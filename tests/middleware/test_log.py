"""with_logging: one JSON access line per request, the request id, redaction and escaping (E6)."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlerkit import ApiError, NextRequest, NextResponse, RouteContext, with_logging
from handlerkit.middleware.log import ACCESS_LOGGER, _line


def ok(request, context):  # type: ignore[no-untyped-def]
    return NextResponse.json({"id": context.state.request_id})


def lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS_LOGGER]


@pytest.fixture
def access(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    return caplog


def test_one_json_line_with_the_fields(access: pytest.LogCaptureFixture) -> None:
    request = NextRequest(
        "/api/items?page=2",
        method="POST",
        headers={"User-Agent": "curl/8", "X-Request-ID": "abc-123"},
    )
    request.environ["REMOTE_ADDR"] = "203.0.113.9"
    request = NextRequest(request.environ)
    response = with_logging(ok)(request, RouteContext(route="/api/items"))
    assert response.status_code == 200
    [record] = lines(access)
    entry = json.loads(record.getMessage())
    assert entry.pop("duration_ms") >= 0
    assert entry == {
        "method": "POST",
        "path": "/api/items",
        "query": "page=2",
        "route": "/api/items",
        "status": 200,
        "request_id": "abc-123",
        "ip": "203.0.113.9",
        "user_agent": "curl/8",
    }
    assert record.access["status"] == 200  # type: ignore[attr-defined]
    assert record.levelno == logging.INFO


def test_the_request_id_is_on_state_and_in_the_response(access: pytest.LogCaptureFixture) -> None:
    context = RouteContext()
    response = with_logging(ok)(NextRequest("/x", headers={"X-Request-ID": "abc-123"}), context)
    assert context.state.request_id == "abc-123"
    assert response.headers["X-Request-ID"] == "abc-123"
    assert response.json() == {"id": "abc-123"}


@pytest.mark.parametrize(
    "incoming",
    ["", "has space", "a" * 129, "new\r\nline", "<script>", "ünï", "id;drop", "a/b"],
)
def test_a_malformed_incoming_request_id_is_replaced(incoming: str, access: pytest.LogCaptureFixture) -> None:
    headers = {"X-Request-ID": incoming} if "\n" not in incoming else {}
    request = NextRequest("/x", headers=headers)
    if "\n" in incoming:
        request.environ["HTTP_X_REQUEST_ID"] = incoming
    response = with_logging(ok)(request, RouteContext())
    rid = response.headers["X-Request-ID"]
    assert rid != incoming and len(rid) == 32 and int(rid, 16) >= 0
    assert json.loads(lines(access)[0].getMessage())["request_id"] == rid


def test_each_request_gets_a_new_id(access: pytest.LogCaptureFixture) -> None:
    handler = with_logging(ok)
    ids = {handler(NextRequest("/x")).headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


def test_api_errors_are_logged_with_their_status_and_carry_the_id(access: pytest.LogCaptureFixture) -> None:
    def missing(request, context):  # type: ignore[no-untyped-def]
        raise ApiError(404, "not_found", "No such item.")

    response = with_logging(missing)(NextRequest("/items/9"), RouteContext())
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "No such item."}
    rid = response.headers["X-Request-ID"]
    assert lines(access)[0].access == {**lines(access)[0].access, "status": 404, "request_id": rid}  # type: ignore[attr-defined]


def test_unexpected_exceptions_log_500_and_are_re_raised(access: pytest.LogCaptureFixture) -> None:
    def broken(request, context):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    context = RouteContext()
    with pytest.raises(RuntimeError):
        with_logging(broken)(NextRequest("/x"), context)
    [record] = lines(access)
    assert record.access["status"] == 500  # type: ignore[attr-defined]
    assert record.access["request_id"] == context.state.request_id  # type: ignore[attr-defined]


SECRET_HEADERS = {
    "Authorization": "Bearer tok-SECRET-1",
    "Cookie": "session=SECRET-2",
    "X-Api-Key": "SECRET-3",
    "Proxy-Authorization": "Basic SECRET-4",
}


def test_secrets_are_never_logged(access: pytest.LogCaptureFixture) -> None:
    url = "/login?token=SECRET-5&access_token=SECRET-6&password=SECRET-7&secret=SECRET-8&Password=SECRET-9&page=3"
    with_logging(ok)(NextRequest(url, headers=SECRET_HEADERS), RouteContext())
    message = lines(access)[0].getMessage()
    assert "SECRET" not in message
    entry = json.loads(message)
    assert "page=3" in entry["query"] and "token=%5Bredacted%5D" in entry["query"]


def test_extra_names_can_be_redacted(access: pytest.LogCaptureFixture) -> None:
    with_logging(redact=["ssn"])(ok)(NextRequest("/x?ssn=SECRET-10&q=1"), RouteContext())
    assert "SECRET" not in lines(access)[0].getMessage()


def test_e6_control_characters_cannot_forge_log_lines(access: pytest.LogCaptureFixture) -> None:
    forged = 'x\r\n{"method": "GET", "status": 200}\x1b[31mred\x1b[0m\u2028\x85'
    request = NextRequest("/x")
    request.environ["PATH_INFO"] = ("/a" + forged).encode("utf-8").decode("latin-1")
    request.environ["HTTP_USER_AGENT"] = ("agent" + forged).encode("utf-8").decode("latin-1")
    request = NextRequest(request.environ)
    with_logging(ok)(request, RouteContext())
    [record] = lines(access)
    message = record.getMessage()
    assert "\n" not in message and "\r" not in message and "\x1b" not in message
    assert "\u2028" not in message and "\x85" not in message
    assert message.isascii() and message.isprintable()
    entry = json.loads(message)
    assert entry["path"] == "/a" + forged
    assert entry["user_agent"].startswith("agent")


def test_long_values_are_clipped(access: pytest.LogCaptureFixture) -> None:
    request = NextRequest("/x", headers={"User-Agent": "u" * 5000})
    with_logging(ok)(request, RouteContext())
    assert len(json.loads(lines(access)[0].getMessage())["user_agent"]) < 600


def test_dict_results_become_json_responses_with_the_id(access: pytest.LogCaptureFixture) -> None:
    response = with_logging(lambda: {"a": 1})(NextRequest("/x"))
    assert response.json() == {"a": 1} and "X-Request-ID" in response.headers


def test_custom_logger_and_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="myapp.access")
    with_logging(logger="myapp.access", level=logging.DEBUG)(ok)(NextRequest("/x"))
    [record] = [r for r in caplog.records if r.name == "myapp.access"]
    assert record.levelno == logging.DEBUG


def test_filters_and_disabled_loggers_still_apply(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="filtered.access")
    log = logging.getLogger("filtered.access")
    seen: list[logging.LogRecord] = []

    def keep_only_errors(record: logging.LogRecord) -> bool:
        seen.append(record)
        return record.access["status"] >= 400  # type: ignore[attr-defined, no-any-return]

    log.addFilter(keep_only_errors)
    try:
        handler = with_logging(logger=log)(ok)
        handler(NextRequest("/ok"))
        assert [r.getMessage() for r in caplog.records if r.name == "filtered.access"] == []
        assert seen[0].funcName == "with_logging" and seen[0].levelno == logging.INFO
        log.disabled = True
        with_logging(logger=log)(lambda: ApiError(404, "nope", "No."))(NextRequest("/x"), RouteContext())
        assert len(seen) == 1
    finally:
        log.removeFilter(keep_only_errors)
        log.disabled = False


def test_a_logger_adapter_is_accepted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="adapted.access")
    adapter = logging.LoggerAdapter(logging.getLogger("adapted.access"), {"service": "api"})
    with_logging(logger=adapter)(ok)(NextRequest("/x"))  # type: ignore[arg-type]
    [record] = [r for r in caplog.records if r.name == "adapted.access"]
    assert json.loads(record.getMessage())["path"] == "/x"
    assert record.service == "api"  # type: ignore[attr-defined]


def test_nothing_is_formatted_when_the_logger_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=ACCESS_LOGGER)
    response = with_logging(ok)(NextRequest("/x"))
    assert lines(caplog) == [] and "X-Request-ID" in response.headers


# ---------------------------------------------------------------- through an App

ROUTES = {
    "items/[id]/route.py": """
        import logging
        import sys

        from handlerkit import ApiError, NextResponse, with_logging

        if "gunicorn" in sys.modules:  # served for real: access lines go to stderr
            logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")

        @with_logging
        def GET(request, context):
            if context.params["id"] == "boom":
                raise RuntimeError("boom")
            if context.params["id"] == "gone":
                raise ApiError(410, "gone", "Gone.")
            return NextResponse.json({"id": context.params["id"]})
    """,
}


def test_through_an_app(make_client, access: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROUTES)
    response = client.get("/items/7?token=SECRET-11", headers={"X-Request-ID": "trace-1", **SECRET_HEADERS})
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "trace-1"
    gone = client.get("/items/gone")
    assert gone.status_code == 410 and gone.json()["error"] == "gone"
    entries = [json.loads(r.getMessage()) for r in lines(access)]
    assert [(e["path"], e["route"], e["status"]) for e in entries] == [
        ("/items/7", "/items/[id]", 200),
        ("/items/gone", "/items/[id]", 410),
    ]
    assert entries[1]["request_id"] == gone.headers["X-Request-ID"]
    assert "SECRET" not in access.text


def test_the_apps_500_names_the_logged_request_id(make_client, access: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROUTES)
    response = client.get("/items/boom")
    assert response.status_code == 500
    [entry] = [r.access for r in lines(access)]  # type: ignore[attr-defined]
    assert entry["status"] == 500
    assert response.json()["details"]["request_id"] == entry["request_id"]
    assert response.headers["X-Request-ID"] == entry["request_id"]


def _raw_get(port: int, target: str, user_agent: str) -> bytes:
    import socket

    raw = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"User-Agent: {user_agent}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.settimeout(10)
        sock.sendall(raw)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_e6_over_a_real_socket_a_forged_path_stays_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from handlerkit.testing import write_app
    from tests.support.servers import gunicorn

    app_dir = write_app(tmp_path / "app", ROUTES)
    with gunicorn(f"handlerkit:create_app({str(app_dir)!r})", workers=1) as server:
        target = "/items/%0d%0a%7B%22status%22%3A200%7D%1b%5B31m%E2%80%A8"
        reply = _raw_get(server.port, target, 'agent" \\ {"status":200} \xe9')
        assert reply.startswith(b"HTTP/1.1 200")
        # gunicorn itself refuses raw control characters in header values (layer G).
        assert _raw_get(server.port, "/items/1", "evil\x1b[2J").startswith(b"HTTP/1.1 400")
        output = server.output()
    access_lines = [line for line in output.splitlines() if line.startswith("handlerkit.access ")]
    assert len(access_lines) == 1, output[-2000:]
    line = access_lines[0]
    assert line.isascii() and "\x1b" not in line
    entry = json.loads(line.split(" ", 1)[1])
    assert entry["path"] == '/items/\r\n{"status":200}\x1b[31m\u2028'
    assert entry["user_agent"].startswith('agent" \\ {"status":200}')


_FIELD = st.one_of(st.none(), st.text())


@settings(max_examples=300, deadline=None)
@given(
    method=st.text(min_size=1),
    path=st.text(),
    query=_FIELD,
    route=_FIELD,
    status=st.integers(100, 599),
    micros=st.integers(0, 10**9),
    request_id=st.text(min_size=1),
    ip=_FIELD,
    user_agent=_FIELD,
)
def test_the_line_is_exactly_what_json_dumps_writes(  # type: ignore[no-untyped-def]
    method, path, query, route, status, micros, request_id, ip, user_agent
) -> None:
    # The hand-written line (a hot-path shortcut) must match json.dumps byte for
    # byte: control characters, quotes, non-ASCII and lone surrogates included.
    entry = {
        "method": method,
        "path": path,
        "query": query,
        "route": route,
        "status": status,
        "duration_ms": micros // 1000 / 1000 if micros % 7 else micros / 1000,
        "request_id": request_id,
        "ip": ip,
        "user_agent": user_agent,
    }
    assert _line(entry) == json.dumps(entry, ensure_ascii=True)
