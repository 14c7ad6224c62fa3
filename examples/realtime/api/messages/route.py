"""POST /api/messages: publish ``{"text": "..."}`` to every open feed (202).

The text is 1-280 characters (422 otherwise); it travels as JSON data and the
page inserts it with ``textContent``, so markup in it stays text.
"""

from marshmallow import Schema, fields, validate

from handlerkit import NextRequest, NextResponse, RouteContext, with_validation

from ..._lib import hub


class Message(Schema):
    """The body of a published message."""

    text = fields.String(required=True, validate=validate.Length(min=1, max=280))


@with_validation(body=Message)
def POST(request: NextRequest, context: RouteContext) -> NextResponse:
    event = hub.publish("message", {"text": context.state.body["text"]})
    return NextResponse.json({"id": event.id}, status=202)
