"""Memory spaces a scenario spreads its operations over."""

from __future__ import annotations

from dataclasses import dataclass

from engram_harness.scenarios.toml_table import Table


@dataclass(frozen=True)
class Spaces:
    names: tuple[str, ...] = ("default",)
    weights: tuple[float, ...] = (1.0,)  # normalised


def parse_spaces(tab: Table) -> Spaces:
    """``names = [...]`` or ``count = n`` (names ``space_0`` ...), optional ``weights`` (default equal)."""
    if tab.has("names") and tab.has("count"):
        raise tab.error("count", tab.raw("count"), "either 'names' or 'count', not both")
    if tab.has("names"):
        names = tab.raw("names")
        if (
            not isinstance(names, list)
            or not names
            or not all(isinstance(n, str) and n for n in names)
            or len(set(names)) != len(names)
        ):
            raise tab.error("names", names, "a non-empty array of distinct non-empty strings")
        names = tuple(names)
    else:
        names = tuple(f"space_{i}" for i in range(tab.integer("count", 1, lo=1)))
    weights = tab.raw("weights", [1.0] * len(names))
    if (
        not isinstance(weights, list)
        or len(weights) != len(names)
        or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in weights)
        or sum(weights) <= 0
    ):
        raise tab.error("weights", weights, f"{len(names)} non-negative numbers with a positive sum")
    total = float(sum(weights))
    tab.reject_unknown()
    return Spaces(names, tuple(float(w) / total for w in weights))
