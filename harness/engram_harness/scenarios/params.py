"""Per-operation parameters drawn for every scheduled operation (ranges from the reference loadtest)."""

from __future__ import annotations

from dataclasses import dataclass

from engram_harness.scenarios.toml_table import Table


@dataclass(frozen=True)
class OpParams:
    """Inclusive ``(lo, hi)`` ranges; integers are drawn uniformly from ``lo..hi``, floats from U(lo, hi)."""

    remember_confidence: tuple[float, float] = (0.7, 1.0)
    recall_k: tuple[int, int] = (1, 5)
    recall_threshold: tuple[float, float] = (0.5, 0.9)
    search_k: tuple[int, int] = (5, 50)
    spread_k: tuple[int, int] = (1, 3)
    spread_threshold: tuple[float, float] = (0.1, 0.1)
    complete_k: tuple[int, int] = (3, 3)
    complete_threshold: tuple[float, float] = (0.3, 0.3)


_INT_KEYS = ("recall_k", "search_k", "spread_k", "complete_k")
_FLOAT_KEYS = ("remember_confidence", "recall_threshold", "spread_threshold", "complete_threshold")


def parse_params(tab: Table) -> OpParams:
    defaults = OpParams()
    values: dict[str, tuple[float, float]] = {}
    for key in _INT_KEYS:
        lo, hi = tab.pair(key, getattr(defaults, key), integer=True)
        if lo < 1:
            raise tab.error(key, [lo, hi], "[lo, hi] integers with 1 <= lo <= hi")
        values[key] = (int(lo), int(hi))
    for key in _FLOAT_KEYS:
        lo, hi = tab.pair(key, getattr(defaults, key))
        if not (0.0 <= lo <= hi <= 1.0):
            raise tab.error(key, [lo, hi], "[lo, hi] numbers with 0 <= lo <= hi <= 1")
        values[key] = (float(lo), float(hi))
    tab.reject_unknown()
    return OpParams(**values)  # type: ignore[arg-type]
