"""Marshmallow schemas for the blog's request bodies and query strings.

Unknown fields are refused (``unknown=RAISE``), so a client cannot slip in
``author_id`` or ``role``; every failure becomes a 422 with field messages.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class JsonBoolean(fields.Boolean):
    """``true`` or ``false`` and nothing else.

    marshmallow's ``Boolean(truthy={True}, falsy={False})`` still takes ``0``
    and ``1``, because ``0 == False`` in Python; JSON Schema (and so the OpenAPI
    document) says a boolean is ``true`` or ``false`` only.
    """

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


#: A title must give a non-empty slug: it needs an ASCII letter or digit. The
#: pattern reads the same in Python (``re.match``) and in JSON Schema (a search).
TITLE_PATTERN = r"[\s\S]*[A-Za-z0-9]"

_TAG = fields.String(
    validate=[validate.Length(min=1, max=40), validate.Regexp(r"^[a-z0-9][a-z0-9-]*$")]
)


class PostCreate(Schema):
    """The body of ``POST /api/posts``."""

    class Meta:
        unknown = RAISE

    title = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=200),
            validate.Regexp(TITLE_PATTERN, error="The title needs at least one letter or digit."),
        ],
    )
    content = fields.String(required=True, validate=validate.Length(min=10, max=100_000))
    tags = fields.List(_TAG, load_default=list, validate=validate.Length(max=10))
    published = JsonBoolean(load_default=False)


class PostUpdate(Schema):
    """The body of ``PATCH /api/posts/<slug>``: any subset of the create fields."""

    class Meta:
        unknown = RAISE

    title = fields.String(validate=validate.Length(min=1, max=200))
    content = fields.String(validate=validate.Length(min=10, max=100_000))
    tags = fields.List(_TAG, validate=validate.Length(max=10))
    published = JsonBoolean()


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


# -- answers ------------------------------------------------------------------
# What the routes send, for the OpenAPI document (``@responses`` in each
# route.py). The routes build these shapes in ``db.post_json`` and the login
# route; schemathesis checks every answer against them (tests/openapi).


class Author(Schema):
    """A post's author, as embedded in a post."""

    id = fields.Integer(required=True)
    username = fields.String(required=True)
    name = fields.String(required=True)


class User(Author):
    """The logged-in account, as the login answer shows it."""

    role = fields.String(required=True, validate=validate.OneOf(["author", "admin"]))


class Post(Schema):
    """A post as the API sends it."""

    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    title = fields.String(required=True)
    content = fields.String(required=True)
    tags = fields.List(fields.String(), required=True)
    published = fields.Boolean(required=True)
    author = fields.Nested(Author, required=True)
    created_at = fields.String(required=True, data_key="createdAt")
    updated_at = fields.String(required=True, data_key="updatedAt")
    published_at = fields.String(required=True, allow_none=True, data_key="publishedAt")


class PageMeta(Schema):
    """Pagination numbers of a post listing."""

    page = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    total = fields.Integer(required=True)
    total_pages = fields.Integer(required=True, data_key="totalPages")


class PostPage(Schema):
    """One page of posts: ``GET /api/posts``."""

    data = fields.List(fields.Nested(Post), required=True)
    meta = fields.Nested(PageMeta, required=True)


class LoginAnswer(Schema):
    """The answer of ``POST /api/auth/login``."""

    token = fields.String(required=True)
    expires_in = fields.Integer(required=True, data_key="expiresIn")
    user = fields.Nested(User, required=True)
