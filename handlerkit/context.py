"""RouteContext: the second handler argument, with route params and per-request state."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

__all__ = ["RouteContext", "State", "new_request_id", "valid_request_id"]

_new_object = object.__new__


class State(SimpleNamespace):
    """Per-request attribute bag that wrappers fill (``context.state.user``).

    Reading an attribute nobody set raises :class:`AttributeError`; use
    ``getattr(context.state, "user", None)`` for optional values.
    """


class RouteContext:
    """What the router knows about the current request, passed as ``context``.

    Args:
        params: Decoded route params: ``str`` for ``[id]``, ``list[str]`` for
            catch-alls. An optional catch-all that matched nothing is absent.
        route: The matched route pattern, for example ``"/users/[id]"``; ``""``
            when the handler is called directly without one.
        state: Initial state attributes, mostly useful in tests.
    """

    __slots__ = ("params", "route", "_state")

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        *,
        route: str = "",
        state: dict[str, Any] | None = None,
    ) -> None:
        self.params: dict[str, Any] = params if params is not None else {}
        self.route = route
        # PERF: the State is made on first use; A, B and C never touch it, and
        # building one per request cost about 0.8 µs (benchmarks/results/2026-11-21.md).
        self._state: State | None = State(**state) if state else None

    @classmethod
    def of(cls, params: dict[str, Any], route: str) -> RouteContext:
        """Return ``RouteContext(params, route=route)``, as the dispatch builds one per request."""
        # PERF: without the keyword call and __init__ frame: 0.59 -> 0.27 µs per
        # request, A, B and C (timeit, min of 21 runs, 2026-11-21).
        context = _new_object(cls)
        context.params = params
        context.route = route
        context._state = None
        return context

    @property
    def state(self) -> State:
        """The per-request attribute bag; made empty on first access."""
        state = self._state
        if state is None:
            state = self._state = State()
        return state

    @state.setter
    def state(self, value: State) -> None:
        self._state = value

    def __repr__(self) -> str:
        return f"RouteContext(params={self.params!r}, route={self.route!r})"


_REQUEST_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:")


def valid_request_id(value: str | None) -> bool:
    """Return whether an incoming request id is well formed: 1-128 of ``[A-Za-z0-9-_.:]``."""
    return bool(value) and len(value) <= 128 and _REQUEST_ID_CHARS.issuperset(value)  # type: ignore[arg-type]


def new_request_id() -> str:
    """Return a fresh random request id (32 hex digits, 128 random bits)."""
    # PERF: uuid.uuid4().hex cost 4.8 µs, os.urandom(16).hex() 0.9 µs (timeit,
    # 2026-11-21): every with_logging request makes one.
    return os.urandom(16).hex()
