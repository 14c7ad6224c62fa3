"""The segment syntax shared by folders and Router paths: ``[id]``, ``[...slug]``, ``[[...slug]]``, ``(group)``, ``_private``."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from ..errors import InvalidSegmentError

__all__ = ["Kind", "Segment", "parse_path", "parse_segment", "pattern_string"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Kind(enum.IntEnum):
    """Segment kinds, in match precedence order (lowest value is tried first)."""

    STATIC = 0
    DYNAMIC = 1
    CATCH_ALL = 2
    OPTIONAL_CATCH_ALL = 3
    GROUP = 10
    PRIVATE = 11


@dataclass(frozen=True, slots=True)
class Segment:
    """One parsed folder or path segment.

    ``value`` is the literal URL text for static segments and the param name
    for dynamic ones.
    """

    kind: Kind
    value: str

    def __str__(self) -> str:
        if self.kind is Kind.DYNAMIC:
            return f"[{self.value}]"
        if self.kind is Kind.CATCH_ALL:
            return f"[...{self.value}]"
        if self.kind is Kind.OPTIONAL_CATCH_ALL:
            return f"[[...{self.value}]]"
        return self.value


def parse_segment(name: str, source: str = "") -> Segment:
    """Parse one folder name (or Router path segment).

    Args:
        name: The folder name, for example ``"[id]"`` or ``"(admin)"``.
        source: The file or path it came from, named in errors.

    Raises:
        InvalidSegmentError: Malformed brackets, ``[[id]]``, an empty or
            non-identifier param name.
    """
    where = [source] if source else []
    if name.startswith("(") and name.endswith(")") and len(name) > 2:
        return Segment(Kind.GROUP, name)
    if name.startswith("_"):
        return Segment(Kind.PRIVATE, name)
    if "[" in name or "]" in name:
        if name.startswith("[[") and name.endswith("]]"):
            inner = name[2:-2]
            if not inner.startswith("..."):
                raise InvalidSegmentError(
                    f"{name!r}: double brackets are only for optional catch-alls; "
                    f"use [{inner}] or [[...{inner}]]",
                    where,
                )
            return Segment(Kind.OPTIONAL_CATCH_ALL, _param(inner[3:], name, where))
        if name.startswith("[") and name.endswith("]"):
            inner = name[1:-1]
            if inner.startswith("..."):
                return Segment(Kind.CATCH_ALL, _param(inner[3:], name, where))
            return Segment(Kind.DYNAMIC, _param(inner, name, where))
        raise InvalidSegmentError(
            f"{name!r}: malformed brackets; a dynamic segment is the whole folder name, "
            "like [id], [...slug] or [[...slug]]",
            where,
        )
    if name in ("", ".", ".."):
        raise InvalidSegmentError(f"{name!r} is not a valid route segment", where)
    if name[:3].lower() == "%5f":
        name = "_" + name[3:]
    return Segment(Kind.STATIC, name)


def _param(inner: str, name: str, where: list[str]) -> str:
    if not _NAME.match(inner):
        raise InvalidSegmentError(
            f"{name!r}: the param name must be a Python identifier (letters, digits, _)", where
        )
    return inner


def parse_path(path: str, source: str = "") -> list[Segment]:
    """Parse a Router path such as ``"/api/users/[id]"`` into URL segments.

    Groups are dropped, as in the file tree.

    Raises:
        InvalidSegmentError: A malformed segment, or a private (``_x``) one.
    """
    segments: list[Segment] = []
    for part in path.strip("/").split("/"):
        if not part:
            continue
        segment = parse_segment(part, source or path)
        if segment.kind is Kind.PRIVATE:
            raise InvalidSegmentError(
                f"{part!r}: private segments are never routed; write %5F{part[1:]} for a literal "
                "underscore",
                [source or path],
            )
        if segment.kind is not Kind.GROUP:
            segments.append(segment)
    return segments


def pattern_string(segments: list[Segment]) -> str:
    """Return the display pattern, for example ``"/users/[id]"`` (``"/"`` for the root)."""
    return "/" + "/".join(str(s) for s in segments)
