"""Lazy attributes of the request objects: a lock-free ``cached_property`` and values read from the environ."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

__all__ = ["EnvironValue", "cached_property"]

if TYPE_CHECKING:
    from functools import cached_property
else:

    class cached_property:  # noqa: N801 - a drop-in for functools.cached_property
        """``functools.cached_property`` without the per-class lock.

        PERF: Python 3.11's cached_property takes an RLock on every first read;
        endpoint C reads three of them per request and the lock cost about
        1 µs of its total (cProfile, benchmarks/results/2026-11-21.md). A
        request object is never shared between threads while it is built.
        """

        def __init__(self, func):
            self.func = func
            self.attrname = None
            self.__doc__ = func.__doc__

        def __set_name__(self, owner, name):
            self.attrname = name

        def __get__(self, instance, owner=None):
            if instance is None:
                return self
            value = self.func(instance)
            instance.__dict__[self.attrname] = value
            return value


class EnvironValue:
    """A request attribute computed from ``environ`` on first read, then stored on the instance."""

    def __init__(self, compute: Callable[[dict[str, Any]], Any], doc: str) -> None:
        self.compute = compute
        self.name = ""
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.compute(instance.environ)
        setattr(instance, self.name, value)  # not via __dict__: see handlerkit.url.NextURL.search_params
        return value
