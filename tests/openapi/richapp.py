"""A small but rich app tree for the OpenAPI tests: every segment kind, validation, auth, limits."""

from __future__ import annotations

import textwrap
from pathlib import Path

#: The App secret the tests sign tokens with.
SECRET = "openapi-test-secret"

SCHEMAS = '''
from marshmallow import RAISE, Schema, fields, validate


class WholeNumber(fields.Integer):
    """An integer as JSON Schema counts one: 3 and 3.0 pass; 2.5, "3" and true do not."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._deserialize(int(value), attr, data, **kwargs)


class ItemIn(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=40))
    price = WholeNumber(required=True, validate=validate.Range(min=0, max=1_000_000))


class ItemPatch(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(validate=validate.Length(min=1, max=40))
    price = WholeNumber(validate=validate.Range(min=0, max=1_000_000))


class Item(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    price = fields.Integer(required=True)


class ItemList(Schema):
    data = fields.List(fields.Nested(Item), required=True)
    total = fields.Integer(required=True)


class ItemQuery(Schema):
    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))
    name = fields.String(validate=validate.Length(min=1, max=40))


class Echo(Schema):
    parts = fields.List(fields.String(), required=True)
'''

STORE = '''
"""Items kept in memory (one gunicorn worker in the tests)."""

import itertools
import threading

ITEMS = {"1": {"id": "1", "name": "first", "price": 10}}
IDS = itertools.count(2)
LOCK = threading.Lock()
'''

ITEMS = '''
from handlerkit import ApiError, NextResponse, compose, with_auth, with_rate_limit, with_validation
from handlerkit.openapi import responses

from .._lib.schemas import Item, ItemIn, ItemList, ItemQuery
from .._lib.store import IDS, ITEMS, LOCK


@responses({200: ItemList})
@with_validation(query=ItemQuery)
def GET(request, context):
    """List items.

    Filtered by exact name; at most ``limit`` items.
    """
    query = context.state.query
    found = [i for i in ITEMS.values() if "name" not in query or i["name"] == query["name"]]
    return {"data": found[: query["limit"]], "total": len(found)}


@responses({201: Item, 409: None})
@compose(with_rate_limit(limit=10_000, window=60), with_auth, with_validation(body=ItemIn))
def POST(request, context):
    """Create an item."""
    body = context.state.body
    with LOCK:
        if any(i["name"] == body["name"] for i in ITEMS.values()):
            raise ApiError(409, "conflict", "An item with this name exists.")
        if len(ITEMS) > 1000:
            raise ApiError(409, "conflict", "The store is full.")
        item = {"id": str(next(IDS)), **body}
        ITEMS[item["id"]] = item
    return NextResponse.json(item, status=201)
'''

ITEM = '''
from handlerkit import ApiError, NextResponse, with_auth, with_validation
from handlerkit.openapi import responses

from ..._lib.schemas import Item, ItemPatch
from ..._lib.store import ITEMS, LOCK


def _find(context):
    item = ITEMS.get(context.params["id"])
    if item is None:
        raise ApiError(404, "not_found", "No such item.")
    return item


@responses({200: Item})
def GET(request, context):
    """Read one item."""
    return _find(context)


@responses({200: Item})
@with_auth(roles=["admin"])
@with_validation(body=ItemPatch)
def PATCH(request, context):
    """Change an item (admins only)."""
    with LOCK:
        item = _find(context)
        item.update(context.state.body)
    return item


@responses({204: None})
@with_auth
def DELETE(request, context):
    """Delete an item."""
    with LOCK:
        _find(context)
        ITEMS.pop(context.params["id"], None)
    return NextResponse(None, 204)
'''

FILES = '''
from handlerkit.openapi import responses

from ..._lib.schemas import Echo


@responses({200: Echo})
def GET(request, context):
    """Echo the catch-all segments."""
    return {"parts": context.params["path"]}
'''

SHOP = '''
from handlerkit.openapi import responses

from ..._lib.schemas import Echo


@responses({200: Echo})
def GET(request, context):
    """Echo the optional catch-all segments (none at /shop)."""
    return {"parts": context.params.get("slug") or []}
'''

PING = """
def GET():
    return {"ok": True}
"""


def files() -> dict[str, str]:
    """Return the app tree as ``{relative path: source}``."""
    tree = {
        "_lib/__init__.py": "",
        "_lib/schemas.py": SCHEMAS,
        "_lib/store.py": STORE,
        "items/route.py": ITEMS,
        "items/[id]/route.py": ITEM,
        "files/[...path]/route.py": FILES,
        "shop/[[...slug]]/route.py": SHOP,
        "ping/route.py": PING,
    }
    return {path: textwrap.dedent(source).lstrip() for path, source in tree.items()}


def write(root: Path) -> Path:
    """Write the app tree under *root* and return it."""
    for relative, source in files().items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    return root
