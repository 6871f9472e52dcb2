"""The one error a malformed scenario raises."""

from __future__ import annotations

from typing import Any


class ScenarioError(ValueError):
    """A scenario file is malformed: names the file, the key, the value received and what was expected."""

    def __init__(self, source: str, key: str, value: Any, expected: str) -> None:
        self.source = source
        self.key = key
        self.value = value
        self.expected = expected
        shown = "<missing>" if value is _MISSING else repr(value)
        super().__init__(f"{source}: [{key}] got {shown}, expected {expected}")


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()
MISSING: Any = _MISSING
