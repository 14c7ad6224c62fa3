"""Route definitions: segment syntax, file-tree discovery, module loading, the trie and the Router."""

from __future__ import annotations

from .router import Router
from .tree import Route, RouteTable

__all__ = ["Route", "RouteTable", "Router"]
