"""Typed errors raised by Engram.

The C++ engine throws one hierarchy of exceptions; the bindings translate each into the class of
the same name here. Input errors are also ``ValueError`` and lookup errors also ``KeyError`` so
that generic handlers keep working.
"""

from __future__ import annotations


class EngramError(Exception):
    """Base class of every error Engram raises on purpose."""


class InvalidInputError(EngramError, ValueError):
    """The input was malformed: NaN, out-of-range confidence, invalid UTF-8, oversized payload."""


class DimensionError(InvalidInputError):
    """An embedding's shape does not match the space's dimension."""


class SpaceNotFound(EngramError, KeyError):
    """No memory space of that name (or it was dropped, or its engine closed)."""

    def __str__(self) -> str:  # KeyError would repr() the message; keep it readable
        return str(self.args[0]) if self.args else ""


class SpaceExists(EngramError):
    """A memory space of that name already exists."""


class MemoryNotFound(EngramError, KeyError):
    """No live memory with that id in this space (unknown, forgotten, or another space's)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CapacityError(EngramError):
    """A configured limit (memories per space, spaces per engine) would be exceeded."""


class StorageError(EngramError, OSError):
    """The storage layer failed (disk full, I/O error)."""


class CorruptionError(StorageError):
    """Stored data failed a checksum or format check."""


class IdempotencyConflict(EngramError):
    """An idempotency key was reused in the same space with a different request fingerprint."""


class MemoryPressureError(EngramError):
    """A write refused at critical memory pressure (the engine's memory budget); nothing was
    stored. Retry after ``retry_after_s`` or free memory (forget, drop a space)."""

    retry_after_s: float | None = None


class ClosedError(EngramError):
    """The engine was closed."""


__all__ = [
    "CapacityError",
    "ClosedError",
    "CorruptionError",
    "DimensionError",
    "EngramError",
    "IdempotencyConflict",
    "InvalidInputError",
    "MemoryNotFound",
    "MemoryPressureError",
    "SpaceExists",
    "SpaceNotFound",
    "StorageError",
]
