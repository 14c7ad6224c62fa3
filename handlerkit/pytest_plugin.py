"""Opt-in pytest fixtures: ``pytest_plugins = ["handlerkit.pytest_plugin"]``.

- ``make_app(files, **options)`` writes ``{relative_path: source}`` under a fresh
  ``tmp_path`` folder and returns the :class:`~handlerkit.App`. Options not
  given are read as ``create_app`` reads them (:mod:`handlerkit.config`: the
  environment, then ``.env``), so a test sees the settings ``dev`` and ``serve`` see.
- ``make_client(files, **options)`` does the same and returns a test
  :class:`~handlerkit.testing.Client` for it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from .app import App
from .config import load_settings
from .testing import Client, make_app as _make_app

_counter = itertools.count()


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., App]:
    """Return a factory: ``make_app({"users/route.py": "..."}, **App options)``."""

    def factory(files: Mapping[str, str], **options: Any) -> App:
        return _make_app(tmp_path / f"app{next(_counter)}", files, **load_settings(options).options)

    return factory


@pytest.fixture
def make_client(make_app: Callable[..., App]) -> Callable[..., Client]:
    """Return a factory: ``make_client({"users/route.py": "..."}, **App options)``."""

    def factory(files: Mapping[str, str], **options: Any) -> Client:
        return Client(make_app(files, **options))

    return factory
