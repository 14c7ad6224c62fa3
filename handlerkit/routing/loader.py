"""Importing ``route.py`` and ``middleware.py`` files by path under unique, stable module names.

Folder names like ``[id]`` or ``(admin)`` are not valid package names, so each
folder of the app directory becomes a synthesized package whose ``__path__`` is
the real folder. The name is derived from the app directory and the folder
names, reversibly, so it is stable across runs and never collides. Helpers
beside a route import with relative imports: ``from .schemas import Post``
or ``from ..lib import db``.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import re
import sys
import traceback
import types
from pathlib import Path

from ..errors import RouteDefinitionError

__all__ = ["load_file", "package_root", "purge"]

_UNSAFE = re.compile(r"[^A-Za-z0-9]")


def _ident(part: str) -> str:
    # "_" doubles and anything else becomes _xHH_, so distinct names stay distinct.
    return "f" + _UNSAFE.sub(lambda m: "__" if m.group() == "_" else f"_x{ord(m.group()):x}_", part)


def package_root(app_dir: Path) -> str:
    """Return the synthesized top-level package name for an app directory."""
    digest = hashlib.sha1(str(app_dir.resolve()).encode("utf-8")).hexdigest()[:12]
    return f"handlerkit_app_{digest}"


def purge(app_dir: Path) -> None:
    """Forget every module previously loaded from *app_dir*, so a new App re-imports them."""
    root = package_root(app_dir)
    for name in [n for n in sys.modules if n == root or n.startswith(root + ".")]:
        del sys.modules[name]


def _ensure_package(name: str, directory: Path) -> None:
    if name in sys.modules:
        return
    init = directory / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(directory)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [str(directory)]
    module = importlib.util.module_from_spec(spec)
    module.__path__ = [str(directory)]
    sys.modules[name] = module


def failure_site(exc: BaseException, app_dir: Path) -> tuple[str, int] | None:
    """Return the file and line inside *app_dir* where *exc* was raised (its last such frame).

    A ``SyntaxError`` names its own file and line; otherwise the traceback is
    walked and the deepest frame in a file under *app_dir* wins, so an error in
    a helper the route imports is blamed on the helper, not on the route.
    """
    prefix = str(app_dir.resolve()) + os.sep
    if isinstance(exc, SyntaxError) and exc.filename:
        filename = str(Path(exc.filename).resolve())
        if filename.startswith(prefix):
            return filename, exc.lineno or 0
    found = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        filename = str(Path(frame.f_code.co_filename).resolve())
        if filename.startswith(prefix):
            found = (filename, line)
    return found


def load_file(app_dir: Path, path: Path) -> types.ModuleType:
    """Import the file at *path* (inside *app_dir*) as a module of the app's package.

    Raises:
        RouteDefinitionError: The file failed to import; the message names it
            and the original exception is chained.
    """
    app_dir = app_dir.resolve()
    path = path.resolve()
    relative = path.parent.relative_to(app_dir)
    name = package_root(app_dir)
    _ensure_package(name, app_dir)
    directory = app_dir
    for part in relative.parts:
        directory = directory / part
        name = f"{name}.{_ident(part)}"
        _ensure_package(name, directory)
    name = f"{name}.{path.stem}"
    existing = sys.modules.get(name)
    if existing is not None:
        return existing
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except RouteDefinitionError:
        del sys.modules[name]
        raise
    except Exception as exc:
        del sys.modules[name]
        failed = failure_site(exc, app_dir)
        files = [str(path)]
        where = ""
        if failed is not None and failed[0] != str(path):
            files.append(failed[0])
            where = f" in {failed[0]}:{failed[1]} (imported by this route)"
        elif failed is not None:
            where = f" at line {failed[1]}"
        raise RouteDefinitionError(
            f"importing failed with {type(exc).__name__}{where}: {exc}", files
        ) from exc
    return module
