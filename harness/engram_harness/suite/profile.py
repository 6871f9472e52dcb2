"""Profiles select the size of an acceptance run: the pass/fail logic never changes with them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

PROFILES = ("quick", "full", "soak")


@dataclass(frozen=True)
class Profile:
    """``quick`` is what CI runs (seconds to minutes); ``full`` uses the seed documents' sizes and
    durations; ``soak`` is ``full`` with the long-running durations."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in PROFILES:
            raise ValueError(f"unknown profile {self.name!r}; expected one of {', '.join(PROFILES)}")

    @property
    def quick(self) -> bool:
        return self.name == "quick"

    def pick(self, quick: T, full: T, soak: T | None = None) -> T:
        """The value for this profile (``soak`` falls back to ``full``)."""
        if self.name == "quick":
            return quick
        if self.name == "soak" and soak is not None:
            return soak
        return full
