"""JSON in and out: the one encoder (responses, error bodies, SSE data) and the strict body decoder.

:func:`json_dumps` writes every JSON body handlerkit sends; :func:`decode_json_body`
reads every JSON request body (``request.json()``), refusing what I-JSON (RFC 7493)
refuses and what Python cannot carry back out.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import json as _json
import re
import uuid
from json.encoder import c_encode_basestring as _c_encode_basestring  # type: ignore[attr-defined]
from json.encoder import c_make_encoder as _c_make_encoder  # type: ignore[attr-defined]
from typing import Any

__all__ = ["BadJSON", "decode_json_body", "json_dumps"]


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


class BadJSON(ValueError):
    """Raised by :func:`decode_json_body`; its message is safe to send to the client."""


def _json_depth_exceeds(data: str, limit: int) -> bool:
    """Return whether JSON text nests arrays/objects deeper than *limit* (strings skipped)."""
    depth = 0
    in_string = False
    escaped = False
    for char in data:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


_INF = float("inf")
_BOM = b"\xef\xbb\xbf"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (_INF, -_INF):  # 1e400 overflows to inf, which JSON cannot carry back out
        raise ValueError("number out of range")
    return value


# PERF: json.loads(text, parse_constant=..., parse_float=...) builds a new
# decoder per call; the decoder is stateless, so one serves every request
# (endpoint D, cProfile 2026-11-21: JSONDecoder.__init__ on every body).
_JSON_DECODER = _json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)

#: A ``\\uD800``-``\\uDFFF`` escape: the only way a JSON text read from UTF-8 can
#: carry a surrogate. A pair decodes to one character; a lone one stays a surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    """Return whether a decoded JSON value holds a lone surrogate in any key or string."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def decode_json_body(raw: bytes, max_depth: int) -> Any:
    """Return the value of a JSON request body.

    Duplicate keys keep the last value; a UTF-8 BOM is skipped.

    Raises:
        BadJSON: An empty body, invalid UTF-8, malformed JSON, ``NaN`` or
            ``Infinity``, a number that overflows to infinity (``1e400``), an
            integer beyond Python's digit limit, a lone surrogate escape such
            as ``"\\ud800"`` (valid JSON text but no Unicode string), or
            nesting deeper than *max_depth*. The parser's own message is never
            used.
    """
    if not raw.strip():
        raise BadJSON("The request body is empty; JSON was expected.")
    if raw.startswith(_BOM):  # PERF: "utf-8-sig" is a Python-level codec, "utf-8" is C
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJSON("The request body is not valid UTF-8.") from exc
    # PERF: the exact depth scan is Python-speed; only bodies with enough
    # brackets to possibly exceed the limit pay for it.
    if text.count("[") + text.count("{") > max_depth and _json_depth_exceeds(text, max_depth):
        raise BadJSON("The JSON body is nested too deeply.")
    try:
        value = _JSON_DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise BadJSON("The request body is not valid JSON.") from exc
    # PERF: only a body with a surrogate escape (rare) is walked.
    if "\\u" in text and _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise BadJSON("The JSON body has a lone surrogate escape (not Unicode text).")
    return value
