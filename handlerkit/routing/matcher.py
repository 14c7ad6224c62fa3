"""Compiling ``middleware.py`` modules and their ``config["matcher"]`` patterns, once, at load.

Supported matcher syntax, as in Next.js:

- literal paths: ``/about``;
- ``:name`` (one segment), ``:name?`` (zero or one), ``:name+`` (one or
  more), ``:name*`` (zero or more segments);
- ``:name(regex)`` (one segment matching *regex*) and unnamed groups
  ``(regex)``, e.g. ``/((?!static|favicon.ico).*)``;
- a dict ``{"source": "/api/:path*", "has": [...], "missing": [...]}`` whose
  conditions are ``{"type": "header"|"query"|"cookie"|"host", "key": ...,
  "value": regex?}``. A ``value`` must match the whole header, parameter or
  cookie value; without one, presence is enough. ``host`` takes only a value.

A matcher matches the whole path inside the app (``next_url.pathname``), an
optional trailing slash included. Anything outside this subset is refused at
load with a :class:`~handlerkit.errors.RouteDefinitionError` naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import RouteDefinitionError
from ..handlers import adapt_handler, describe_source
from ..request import hostname_of

__all__ = ["Condition", "Matcher", "MiddlewareSpec", "compile_matcher", "compile_middleware"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TYPES = ("header", "query", "cookie", "host")


@dataclass(frozen=True, slots=True)
class Condition:
    """One ``has``/``missing`` condition, compiled."""

    type: str
    key: str
    value: re.Pattern[str] | None

    def holds(self, request: Any) -> bool:
        """Return whether *request* has the key (and, with a value pattern, a full match)."""
        found: str | None
        if self.type == "header":
            found = request.headers.get(self.key)
        elif self.type == "query":
            found = request.args.get(self.key)
        elif self.type == "cookie":
            cookie = request.cookies.get(self.key)
            found = cookie.value if cookie is not None else None
        else:
            found = hostname_of(request.host)
        if found is None:
            return False
        return self.value is None or self.value.fullmatch(found) is not None


@dataclass(frozen=True, slots=True)
class Matcher:
    """A compiled matcher: a path pattern and its ``has``/``missing`` conditions."""

    source: str
    pattern: re.Pattern[str]
    has: tuple[Condition, ...] = ()
    missing: tuple[Condition, ...] = ()

    def matches(self, path: str, request: Any) -> bool:
        """Return whether *path* (inside the app) and *request* satisfy this matcher."""
        if self.pattern.fullmatch(path) is None:
            return False
        if self.has and not all(c.holds(request) for c in self.has):
            return False
        return not any(c.holds(request) for c in self.missing)


@dataclass(frozen=True, slots=True)
class MiddlewareSpec:
    """A loaded ``middleware.py``: its function (taking ``(request, context)``) and matchers.

    ``matchers`` is empty when the module has no ``config["matcher"]``: it then
    runs for every path.
    """

    function: Callable[..., Any]
    matchers: tuple[Matcher, ...]
    source: str

    def applies(self, path: str, request: Any) -> bool:
        """Return whether this middleware runs for *path*."""
        return not self.matchers or any(m.matches(path, request) for m in self.matchers)

    @property
    def needs_request(self) -> bool:
        """Whether any matcher reads headers, the query or cookies (else the path decides alone)."""
        return any(m.has or m.missing for m in self.matchers)


def _group_end(source: str, start: int) -> int:
    """Return the index of the ``)`` closing the ``(`` at *start*."""
    depth = 0
    index = start
    while index < len(source):
        char = source[index]
        if char == "\\":
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise ValueError(f"unbalanced parenthesis in matcher {source!r}")


def _path_regex(source: str) -> str:
    if not isinstance(source, str) or not source.startswith("/"):
        raise ValueError(f"a matcher must be a path starting with '/': {source!r}")
    out: list[str] = []
    index = 0
    while index < len(source):
        char = source[index]
        if char == ":":
            name = _NAME.match(source, index + 1)
            if name is None:
                raise ValueError(f"':' must be followed by a parameter name in {source!r}")
            index = name.end()
            segment = "[^/]+"
            if index < len(source) and source[index] == "(":
                end = _group_end(source, index)
                segment = source[index + 1 : end]
                index = end + 1
            modifier = source[index] if index < len(source) and source[index] in "?+*" else ""
            index += len(modifier)
            slash = out and out[-1] == "/"
            if slash and modifier:
                out.pop()
                repeat = f"(?:/(?:{segment}))"
                out.append({"?": f"{repeat}?", "+": f"{repeat}+", "*": f"{repeat}*"}[modifier])
            else:
                out.append(f"(?:{segment})" + modifier)
        elif char == "(":
            end = _group_end(source, index)
            out.append(f"(?:{source[index + 1 : end]})")
            index = end + 1
            if index < len(source) and source[index] in "?+*":
                out.append(source[index])
                index += 1
        elif char == "\\" and index + 1 < len(source):
            out.append(re.escape(source[index + 1]))
            index += 2
        elif char in "{}":
            raise ValueError(f"'{{...}}' groups are not supported in matcher {source!r}")
        else:
            out.append(re.escape(char))
            index += 1
    regex = "".join(out)
    if not regex.endswith("/"):
        regex += "/?"
    return regex


def _condition(item: Any) -> Condition:
    if not isinstance(item, dict) or item.get("type") not in _TYPES:
        raise ValueError(f"a has/missing condition needs 'type' in {_TYPES}: {item!r}")
    key = item.get("key", "")
    if item["type"] != "host" and (not isinstance(key, str) or not key):
        raise ValueError(f"a {item['type']} condition needs a 'key': {item!r}")
    value = item.get("value")
    if value is not None and not isinstance(value, str):
        raise ValueError(f"a condition 'value' must be a regex string: {item!r}")
    if item["type"] == "host" and value is None:
        raise ValueError(f"a host condition needs a 'value': {item!r}")
    return Condition(item["type"], key or "", re.compile(value) if value is not None else None)


def compile_matcher(matcher: str | dict[str, Any]) -> Matcher:
    """Compile one matcher (a path string or a ``{"source", "has", "missing"}`` dict).

    Raises:
        ValueError: The matcher is outside the supported syntax or its regex is invalid.
    """
    if isinstance(matcher, dict):
        unknown = set(matcher) - {"source", "has", "missing", "locale"}
        if unknown:
            raise ValueError(f"unknown matcher keys {sorted(unknown)}")
        source = matcher.get("source")
        has = tuple(_condition(c) for c in matcher.get("has") or ())
        missing = tuple(_condition(c) for c in matcher.get("missing") or ())
    else:
        source, has, missing = matcher, (), ()
    try:
        pattern = re.compile(_path_regex(source))  # type: ignore[arg-type]
    except re.error as exc:
        raise ValueError(f"invalid regex in matcher {source!r}: {exc}") from exc
    return Matcher(source, pattern, has, missing)  # type: ignore[arg-type]


def compile_middleware(module: Any) -> MiddlewareSpec:
    """Return the :class:`MiddlewareSpec` of a loaded ``middleware.py`` module.

    Raises:
        RouteDefinitionError: The module has no callable ``middleware``, or its
            ``config["matcher"]`` is malformed; the message names the file.
    """
    where = getattr(module, "__file__", None) or repr(module)
    function = getattr(module, "middleware", None)
    if not callable(function):
        raise RouteDefinitionError(
            "middleware.py must define a function middleware(request)", [where]
        )
    config = getattr(module, "config", None) or {}
    if not isinstance(config, dict):
        raise RouteDefinitionError("middleware.py 'config' must be a dict", [where])
    raw = config.get("matcher")
    items = [] if raw is None else [raw] if isinstance(raw, (str, dict)) else list(raw)
    try:
        matchers = tuple(compile_matcher(item) for item in items)
    except ValueError as exc:
        raise RouteDefinitionError(f"config['matcher']: {exc}", [where]) from exc
    adapted = adapt_handler(function, source=where)
    return MiddlewareSpec(adapted, matchers, describe_source(function))
