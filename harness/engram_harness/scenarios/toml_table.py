"""Typed access to a parsed TOML table that reports errors with file and dotted key."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from engram_harness.scenarios.errors import MISSING, ScenarioError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class Table:
    """A view of one TOML table that remembers where it came from, so errors can say exactly what is wrong."""

    def __init__(self, data: Mapping[str, Any], source: str, path: str = "") -> None:
        self.data = dict(data)
        self.source = source
        self.path = path
        self._seen: set[str] = set()

    @classmethod
    def parse(cls, text: str, source: str) -> Table:
        """The top table of TOML ``text``; text that is not TOML is a :class:`ScenarioError`."""
        try:
            return cls(tomllib.loads(text), source)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(source, "<file>", MISSING, f"valid TOML ({exc})") from exc

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, value: Any, expected: str) -> ScenarioError:
        return ScenarioError(self.source, self.key(name), value, expected)

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str, default: Any = MISSING) -> Any:
        self._seen.add(name)
        value = self.data.get(name, default)
        return value

    def number(
        self,
        name: str,
        default: Any = MISSING,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        integer: bool = False,
    ) -> Any:
        value = self.raw(name, default)
        kind = "an integer" if integer else "a number"
        bounds = _bounds_text(lo, hi, lo_open)
        if value is MISSING:
            raise self.error(name, value, f"{kind}{bounds}")
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type or (isinstance(value, float) and not math.isfinite(value)):
            raise self.error(name, value, f"{kind}{bounds}")
        if lo is not None and (value < lo or (lo_open and value == lo)):
            raise self.error(name, value, f"{kind}{bounds}")
        if hi is not None and value > hi:
            raise self.error(name, value, f"{kind}{bounds}")
        return int(value) if integer else float(value)

    def integer(
        self, name: str, default: Any = MISSING, *, lo: int | None = None, hi: int | None = None
    ) -> int:
        return int(self.number(name, default, lo=lo, hi=hi, integer=True))

    def string(self, name: str, default: Any = MISSING, *, choices: Iterable[str] | None = None) -> str:
        value = self.raw(name, default)
        options = sorted(choices) if choices is not None else None
        expected = f"one of {options}" if options else "a string"
        if not isinstance(value, str) or (options is not None and value not in options):
            raise self.error(name, value, expected)
        return value

    def boolean(self, name: str, default: Any = MISSING) -> bool:
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise self.error(name, value, "true or false")
        return value

    def table(self, name: str, default: Any = MISSING) -> Table:
        value = self.raw(name, default)
        if not isinstance(value, Mapping):
            raise self.error(name, value, "a table")
        return Table(value, self.source, self.key(name))

    def tables(self, name: str) -> list[Table]:
        value = self.raw(name)
        if not isinstance(value, list) or not value or not all(isinstance(v, Mapping) for v in value):
            raise self.error(name, value, "a non-empty array of tables")
        return [Table(v, self.source, f"{self.key(name)}[{i}]") for i, v in enumerate(value)]

    def pair(self, name: str, default: Any = MISSING, *, integer: bool = False) -> tuple[float, float]:
        """A two-element array ``[lo, hi]`` with lo <= hi."""
        value = self.raw(name, default)
        kind = "integers" if integer else "numbers"
        ok = (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            and (not integer or all(isinstance(v, int) for v in value))
            and value[0] <= value[1]
        )
        if not ok:
            raise self.error(name, value, f"an array [lo, hi] of two {kind} with lo <= hi")
        return (value[0], value[1])

    def reject_unknown(self) -> None:
        """Fail on keys that nobody read: a typo must not silently fall back to a default."""
        unknown = sorted(set(self.data) - self._seen)
        if unknown:
            raise self.error(unknown[0], self.data[unknown[0]], "no such key here (typo?)")


def _bounds_text(lo: float | None, hi: float | None, lo_open: bool) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo}")
    if hi is not None:
        parts.append(f"<= {hi}")
    return (" " + " and ".join(parts)) if parts else ""
