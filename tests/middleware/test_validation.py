"""with_validation: marshmallow schemas for the JSON body and the query (rows A1-A10)."""

from __future__ import annotations

import json

import pytest
from marshmallow import EXCLUDE, Schema, fields, validate

from handlerkit import NextRequest, NextResponse, RouteContext, with_validation
from handlerkit.errors import ApiError
from handlerkit.middleware.validation import is_json_mimetype
from tests.support.leaks import assert_no_leak


class CreateUser(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    age = fields.Integer(load_default=None)
    tags = fields.List(fields.String(), validate=validate.Length(max=10), load_default=list)


class Paging(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    tag = fields.List(fields.String(), load_default=list)


def echo(request, context):  # type: ignore[no-untyped-def]
    return NextResponse.json({
        "body": getattr(context.state, "body", None),
        "query": getattr(context.state, "query", None),
    })


handler = with_validation(body=CreateUser, query=Paging)(echo)


def send(data=None, content_type="application/json", url="/users", target=handler, json_value=None):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": content_type} if content_type else {}
    if json_value is not None:
        data = json.dumps(json_value)
    request = NextRequest(url, method="POST", data=data, headers=headers)
    try:
        return target(request, RouteContext())
    except ApiError as exc:
        response = NextResponse.from_error(exc)
        assert_no_leak(response.get_data())
        return response


def test_valid_body_and_query_go_to_context_state() -> None:
    response = send(json_value={"name": "Ada", "age": 36}, url="/users?page=2&tag=a&tag=b")
    assert response.status_code == 200
    assert response.json() == {
        "body": {"name": "Ada", "age": 36, "tags": []},
        "query": {"page": 2, "tag": ["a", "b"]},
    }


def test_a10_wrong_types_and_limits_are_422_with_field_details() -> None:
    response = send(json_value={"name": 5, "age": "old", "tags": ["x"] * 11})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    details = body["details"]["body"]
    assert set(details) == {"name", "age", "tags"}
    assert details["age"] == ["Not a valid integer."]
    long = send(json_value={"name": "x" * 51})
    assert long.status_code == 422 and "name" in long.json()["details"]["body"]
    huge = send(json_value={"name": "a", "tags": ["t"] * 100_000})
    assert huge.status_code == 422 and "tags" in huge.json()["details"]["body"]


def test_missing_required_field_is_422() -> None:
    response = send(json_value={"age": 3})
    assert response.json()["details"] == {"body": {"name": ["Missing data for required field."]}}


def test_a8_unknown_fields_are_refused_by_default() -> None:
    response = send(json_value={"name": "Ada", "is_admin": True})
    assert response.status_code == 422
    assert response.json()["details"] == {"body": {"is_admin": ["Unknown field."]}}


def test_unknown_can_be_relaxed() -> None:
    relaxed = with_validation(body=CreateUser, unknown=EXCLUDE)(echo)
    response = send(json_value={"name": "Ada", "is_admin": True}, target=relaxed)
    assert response.status_code == 200
    assert response.json()["body"] == {"name": "Ada", "age": None, "tags": []}


def test_many_unknown_fields_do_not_come_back_in_full() -> None:
    payload = {"name": "Ada", **{f"k{i}" + "x" * 300: 1 for i in range(500)}}
    response = send(json_value=payload)
    assert response.status_code == 422
    details = response.json()["details"]["body"]
    assert len(details) <= 51 and "_truncated" in details
    assert all(len(key) <= 103 for key in details)
    assert len(response.get_data()) < 20_000


@pytest.mark.parametrize("value", [[{"name": "Ada"}], "Ada", None, 3, True])
def test_a7_a_top_level_non_object_is_422(value: object) -> None:
    response = send(data=json.dumps(value))
    assert response.status_code == 422
    assert response.json()["details"] == {"body": {"_schema": ["Invalid input type."]}}


@pytest.mark.parametrize("data", [b"{bad", b'{"name": "Ada"', b"", b"   ", b'{"name": "\xff\xfe"}', b"NaN", b"[" * 5000 + b"]" * 5000])
def test_a1_a4_a9_malformed_json_is_400_invalid_json(data: bytes) -> None:
    response = send(data=data)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"


def test_a5_an_integer_beyond_the_digit_limit_is_400_never_500() -> None:
    response = send(data=b'{"name": "Ada", "age": ' + b"9" * 5000 + b"}")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"


def test_a5_a_large_but_parseable_number_is_422_through_the_schema() -> None:
    class Measure(Schema):
        value = fields.Float(required=True)

    target = with_validation(body=Measure)(echo)
    response = send(data=b'{"value": ' + b"9" * 4000 + b"}", target=target)
    assert response.status_code == 422
    assert set(response.json()["details"]["body"]) <= {"value", "_schema"}
    # 1e400 overflows to infinity: refused by the parser (400) or the schema (422), never 500.
    assert send(data=b'{"name": "Ada", "age": 1e400}').status_code in (400, 422)


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp", "text/json"])
def test_a2_a_body_that_is_not_declared_json_is_415(content_type: str | None) -> None:
    response = send(data=json.dumps({"name": "Ada"}), content_type=content_type)
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json", "application/vnd.api+json; charset=UTF-8"],
)
def test_a3_json_types_are_accepted(content_type: str) -> None:
    response = send(json_value={"name": "Ada"}, content_type=content_type)
    assert response.status_code == 200


def test_is_json_mimetype() -> None:
    assert is_json_mimetype("application/json") and is_json_mimetype("application/problem+json")
    assert not is_json_mimetype("application/json+xml") and not is_json_mimetype("text/plain")


def test_a6_duplicate_keys_keep_the_last_value() -> None:
    response = send(data=b'{"name": "first", "name": "last"}')
    assert response.json()["body"]["name"] == "last"


def test_query_errors_are_422_under_query() -> None:
    response = send(json_value={"name": "Ada"}, url="/users?page=0")
    assert response.status_code == 422
    assert set(response.json()["details"]) == {"query"}
    unknown = send(json_value={"name": "Ada"}, url="/users?debug=1")
    assert unknown.json()["details"] == {"query": {"debug": ["Unknown field."]}}


def test_query_only_validation_ignores_the_body_and_content_type() -> None:
    only_query = with_validation(query=Paging)(echo)
    request = NextRequest("/items?page=3")
    response = only_query(request, RouteContext())
    assert response.json() == {"body": None, "query": {"page": 3, "tag": []}}


def test_schema_instances_work_and_are_resolved_once() -> None:
    instance = CreateUser(only=("name",))
    wrapped = with_validation(body=instance)(echo)
    response = send(json_value={"name": "Ada"}, target=wrapped)
    assert response.json()["body"] == {"name": "Ada"}
    assert send(json_value={"name": "Ada", "age": 3}, target=wrapped).status_code == 422


def test_configuration_errors() -> None:
    with pytest.raises(TypeError, match="body=Schema"):
        with_validation(echo)
    with pytest.raises(TypeError, match="Schema class or instance"):
        with_validation(body=dict)  # type: ignore[arg-type]


def test_keeps_wrapped_and_adapts_any_arity() -> None:
    assert handler.__wrapped__ is echo
    zero = with_validation(body=CreateUser)(lambda: NextResponse.json({"zero": True}))
    assert send(json_value={"name": "Ada"}, target=zero).json() == {"zero": True}


def test_a_schema_choking_on_input_is_422_not_500() -> None:
    class Fragile(Schema):
        value = fields.Function(deserialize=lambda v: int(v))

    response = send(json_value={"value": "not a number"}, target=with_validation(body=Fragile)(echo))
    assert response.status_code == 422


# ---------------------------------------------------------------- through an App

ROUTES = {
    "users/schemas.py": """
        from marshmallow import Schema, fields

        class CreateUser(Schema):
            name = fields.String(required=True)
            email = fields.Email(required=True)
    """,
    "users/route.py": """
        from handlerkit import NextResponse, with_validation

        from .schemas import CreateUser

        @with_validation(body=CreateUser)
        def POST(request, context):
            return NextResponse.json(context.state.body, status=201)
    """,
}


def test_through_an_app(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROUTES)
    created = client.post("/users", json={"name": "Ada", "email": "ada@example.com"})
    assert created.status_code == 201 and created.json() == {"name": "Ada", "email": "ada@example.com"}
    bad = client.post("/users", json={"name": "Ada", "email": "nope", "role": "admin"})
    assert bad.status_code == 422
    assert bad.json()["details"]["body"] == {"email": ["Not a valid email address."], "role": ["Unknown field."]}
    assert client.post("/users", data="{bad", content_type="application/json").status_code == 400
    assert client.post("/users", data='{"name": "Ada"}', content_type="text/plain").status_code == 415
    assert client.post("/users", data="[]", content_type="application/json").status_code == 422
