"""Walking an app directory for ``route.py`` and ``middleware.py`` files, in a stable order."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .segments import Kind, Segment, parse_segment

__all__ = ["FoundRoute", "discover"]

_SKIP = ("__pycache__", "node_modules")


@dataclass(frozen=True, slots=True)
class FoundRoute:
    """A ``route.py`` on disk with its URL segments and the ``middleware.py`` files above it."""

    path: Path
    segments: tuple[Segment, ...]
    middleware: tuple[Path, ...]


def discover(app_dir: str | os.PathLike[str]) -> tuple[list[FoundRoute], Path | None]:
    """Find every routed ``route.py`` below *app_dir*.

    Folders starting with ``_`` (private) and ``.`` are skipped with everything
    below them; ``(group)`` folders add no URL segment. Any other ``.py`` file is
    ignored, so helpers can live beside routes.

    Returns:
        The routes, sorted by path, and the root ``middleware.py`` (or ``None``).
        Each route lists the sub-folder ``middleware.py`` files that apply to it,
        root-most first (the root one excluded: it runs before routing).

    Raises:
        FileNotFoundError: *app_dir* is not a directory.
        InvalidSegmentError: A folder name is malformed.
    """
    root = Path(app_dir).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"app directory not found: {root}")
    found: list[FoundRoute] = []
    root_middleware = root / "middleware.py"
    _walk(root, (), (), found, top=True)
    found.sort(key=lambda r: str(r.path))
    return found, root_middleware if root_middleware.is_file() else None


def _walk(
    directory: Path,
    segments: tuple[Segment, ...],
    middleware: tuple[Path, ...],
    found: list[FoundRoute],
    *,
    top: bool = False,
) -> None:
    entries = sorted(os.scandir(directory), key=lambda e: e.name)
    if not top and any(e.name == "middleware.py" and e.is_file() for e in entries):
        middleware = (*middleware, directory / "middleware.py")
    if any(e.name == "route.py" and e.is_file() for e in entries):
        found.append(FoundRoute(directory / "route.py", segments, middleware))
    for entry in entries:
        if not entry.is_dir() or entry.name.startswith(".") or entry.name in _SKIP:
            continue
        segment = parse_segment(entry.name, entry.path)
        if segment.kind is Kind.PRIVATE:
            continue
        child = segments if segment.kind is Kind.GROUP else (*segments, segment)
        _walk(Path(entry.path), child, middleware, found)
