"""with_error_handling and the one exception mapping shared with the App's boundary."""

from __future__ import annotations

import logging

import pytest
from itsdangerous import BadSignature, SignatureExpired
from marshmallow import Schema, ValidationError, fields
from werkzeug.exceptions import NotFound, TooManyRequests

from handlerkit import (
    ApiError,
    NextRequest,
    RouteContext,
    compose,
    with_error_handling,
    with_logging,
)
from tests.support.leaks import assert_no_leak


class Payload(Schema):
    name = fields.String(required=True)


def raising(exc: BaseException):  # type: ignore[no-untyped-def]
    def handler(request, context):  # type: ignore[no-untyped-def]
        raise exc

    return handler


CASES = [
    (ApiError(409, "conflict", "Already there.", {"id": 3}), 409, {"error": "conflict", "message": "Already there.", "details": {"id": 3}}),
    (ApiError(400, "bad_input", "No."), 400, {"error": "bad_input", "message": "No."}),
    (ValidationError({"name": ["Missing data for required field."]}), 422, {
        "error": "validation_error",
        "message": "The request is invalid.",
        "details": {"name": ["Missing data for required field."]},
    }),
    (BadSignature("bad"), 401, None),
    (SignatureExpired("old"), 401, None),
    (NotFound(), 404, None),
]


@pytest.mark.parametrize(("exc", "status", "body"), CASES)
def test_known_errors_map_to_their_status_in_the_json_shape(exc, status, body) -> None:  # type: ignore[no-untyped-def]
    response = with_error_handling(raising(exc))(NextRequest("/x"), RouteContext())
    assert response.status_code == status
    data = response.json()
    assert set(data) <= {"error", "message", "details"}
    if body is not None:
        assert data == body
    if status == 401:
        assert data["error"] == "invalid_token"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_no_leak(response.get_data())


def test_http_exception_headers_are_kept_without_its_html() -> None:
    exc = TooManyRequests(retry_after=7)
    response = with_error_handling(raising(exc))(NextRequest("/x"), RouteContext())
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.mimetype == "application/json"
    assert b"<" not in response.get_data()


def test_unknown_exception_is_a_logged_generic_500_with_the_request_id(caplog: pytest.LogCaptureFixture) -> None:
    handler = with_error_handling(raising(RuntimeError("db password is hunter2")))
    request = NextRequest("/x", headers={"X-Request-ID": "req-42"})
    with caplog.at_level(logging.ERROR, logger="handlerkit"):
        response = handler(request, RouteContext())
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "An internal error occurred.",
        "details": {"request_id": "req-42"},
    }
    assert response.headers["X-Request-ID"] == "req-42"
    assert_no_leak(response.get_data(), secrets=["hunter2"])
    assert "req-42" in caplog.text and "hunter2" in caplog.text  # the traceback stays in the log


def test_bare_and_called_forms_are_the_same() -> None:
    handler = raising(ApiError(418, "teapot", "Short and stout."))
    assert with_error_handling()(handler)(NextRequest("/x")).status_code == 418
    assert with_error_handling(handler)(NextRequest("/x")).status_code == 418


def test_handlers_of_any_arity_and_no_context() -> None:
    ok = with_error_handling(lambda: {"ok": True})
    # The innermost adapter makes the dict a response before any wrapper sees it.
    assert ok(NextRequest("/x")).json() == {"ok": True}


ROUTE = """
    from itsdangerous import BadSignature
    from marshmallow import Schema, ValidationError, fields
    from werkzeug.exceptions import NotFound

    from handlerkit import ApiError

    class Payload(Schema):
        name = fields.String(required=True)

    def GET(request):
        kind = request.args.get("kind")
        if kind == "api":
            raise ApiError(409, "conflict", "Already there.", {"id": 3})
        if kind == "schema":
            Payload().load({})
        if kind == "signature":
            raise BadSignature("tampered")
        if kind == "werkzeug":
            raise NotFound()
        raise RuntimeError("boom")
"""


@pytest.mark.parametrize("kind", ["api", "schema", "signature", "werkzeug", "other"])
def test_app_boundary_and_with_error_handling_give_the_same_answer(make_client, kind: str) -> None:  # type: ignore[no-untyped-def]
    plain = make_client({"x/route.py": ROUTE})
    wrapped = make_client({"x/route.py": ROUTE}, wrap=with_error_handling)
    a = plain.get(f"/x?kind={kind}", headers={"X-Request-ID": "same-id"})
    b = wrapped.get(f"/x?kind={kind}", headers={"X-Request-ID": "same-id"})
    assert a.status_code == b.status_code
    assert a.json() == b.json()
    assert a.status_code == {"api": 409, "schema": 422, "signature": 401, "werkzeug": 404, "other": 500}[kind]
    if kind == "schema":
        assert a.json()["details"] == {"name": ["Missing data for required field."]}


def test_composing_it_under_logging_logs_the_final_status(make_client, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    client = make_client({"x/route.py": ROUTE}, wrap=compose(with_logging, with_error_handling))
    with caplog.at_level(logging.INFO, logger="handlerkit.access"):
        response = client.get("/x?kind=other")
    assert response.status_code == 500
    lines = [r for r in caplog.records if r.name == "handlerkit.access"]
    assert len(lines) == 1 and lines[0].access["status"] == 500  # type: ignore[attr-defined]
    assert response.json()["details"]["request_id"] == lines[0].access["request_id"]  # type: ignore[attr-defined]
    assert response.headers["X-Request-ID"] == lines[0].access["request_id"]  # type: ignore[attr-defined]
