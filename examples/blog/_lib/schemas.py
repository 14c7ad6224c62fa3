"""Marshmallow schemas for the blog's request bodies and query strings.

Unknown fields are refused (``unknown=RAISE``), so a client cannot slip in
``author_id`` or ``role``; every failure becomes a 422 with field messages.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

_TAG = fields.String(validate=[validate.Length(min=1, max=40), validate.Regexp(r"^[a-z0-9][a-z0-9-]*$")])


class PostCreate(Schema):
    """The body of ``POST /api/posts``."""

    class Meta:
        unknown = RAISE

    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    content = fields.String(required=True, validate=validate.Length(min=10, max=100_000))
    tags = fields.List(_TAG, load_default=list, validate=validate.Length(max=10))
    published = fields.Boolean(load_default=False, truthy={True}, falsy={False})


class PostUpdate(Schema):
    """The body of ``PATCH /api/posts/<slug>``: any subset of the create fields."""

    class Meta:
        unknown = RAISE

    title = fields.String(validate=validate.Length(min=1, max=200))
    content = fields.String(validate=validate.Length(min=10, max=100_000))
    tags = fields.List(_TAG, validate=validate.Length(max=10))
    published = fields.Boolean(truthy={True}, falsy={False})


class PostQuery(Schema):
    """The query string of ``GET /api/posts``."""

    class Meta:
        unknown = RAISE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000), strict=False)
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50), strict=False)
    tag = fields.String(validate=validate.Length(min=1, max=40))
    published = fields.Boolean(load_default=True, truthy={"true", "1"}, falsy={"false", "0"})


class Login(Schema):
    """The body of ``POST /api/auth/login``."""

    class Meta:
        unknown = RAISE

    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))
