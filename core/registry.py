"""A tiny name -> factory registry, one per extension point.

Adding a backend, task source, selection strategy or replay format is one new
module plus one `register(...)` line in its package's ``__init__``.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Generic, TypeVar

from .errors import InputError

T = TypeVar("T")


def lazy(module: str, attr: str | None = None) -> Callable[[], Any]:
    """A loader that imports `module` (absolute name) on first use and gives
    the module, or its attribute `attr`: `REG.register(name, lazy(...))`."""
    def load():
        mod = importlib.import_module(module)
        return getattr(mod, attr) if attr else mod
    return load


class UnknownName(InputError, LookupError):
    """Raised for a name that no entry of a registry carries."""


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Callable[[], T]] = {}

    def register(self, name: str, loader: Callable[[], T]) -> None:
        """Register `loader`, called on first use (so optional imports stay lazy)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = loader

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> T:
        try:
            loader = self._entries[name]
        except KeyError:
            raise UnknownName(
                f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}"
            ) from None
        return loader()

    def __contains__(self, name: str) -> bool:
        return name in self._entries
