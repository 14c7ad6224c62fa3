"""The one JSON encoder: response bodies, error bodies and SSE data go through :func:`json_dumps`."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import json as _json
import uuid
from json.encoder import c_encode_basestring as _c_encode_basestring  # type: ignore[attr-defined]
from json.encoder import c_make_encoder as _c_make_encoder  # type: ignore[attr-defined]
from typing import Any

__all__ = ["json_dumps"]


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# PERF: json.dumps with non-default options builds a JSONEncoder and a C encoder
# on every call; reusing one C encoder took json_dumps({"message": ...}) from
# 5.6 to 1.8 µs (benchmarks/results/2026-11-21.md, endpoint A). It runs without
# the circular-reference table; a cycle (RecursionError) is re-encoded by
# json.dumps, which reports it as the ValueError it always was.
_c_encode = (
    _c_make_encoder(None, _json_default, _c_encode_basestring, None, ":", ",", False, False, True)
    if _c_make_encoder is not None and _c_encode_basestring is not None
    else None
)


def json_dumps(data: Any) -> bytes:
    """Encode *data* as compact UTF-8 JSON.

    ``datetime``/``date``/``time`` become ISO 8601 strings, ``UUID`` and
    ``Decimal`` strings, enums their value, dataclasses dicts, and sets and
    tuples lists. A string with a lone surrogate (which has no UTF-8 form) is
    sent with every non-ASCII character ``\\u``-escaped instead of failing.

    Raises:
        TypeError: A value of another type.
        ValueError: A circular reference.
    """
    if _c_encode is not None:
        if type(data) is str and data.isascii():
            return _c_encode_basestring(data).encode("utf-8")  # type: ignore[no-any-return]
        try:
            return "".join(_c_encode(data, 0)).encode("utf-8")
        except (RecursionError, UnicodeEncodeError):
            pass
    try:
        return _json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode(
            "utf-8"
        )
    except UnicodeEncodeError:
        # A lone surrogate (client JSON may carry "\ud800") has no UTF-8 form: send it escaped.
        return _json.dumps(data, separators=(",", ":"), default=_json_default).encode("ascii")
