"""Key popularity: which stored item a query operation targets.

Keys are integers in ``[0, n)``; key ``i`` is the ``i``-th item remembered during the run, so the most
popular keys of a Zipf or hot-spot distribution are the earliest items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engram_harness.scenarios.toml_table import Table

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class KeyPopularity:
    """``distribution``: ``uniform``, ``zipf`` (exponent ``s`` over the bounded support ``[0, n)``) or
    ``hotspot`` (``hot_probability`` of accesses go to the ``hot_keys`` first keys, the rest uniformly to
    the others). ``n = None`` means "as many keys as the schedule remembers"."""

    distribution: str = "uniform"
    n: int | None = None
    s: float = 1.0
    hot_keys: int = 1
    hot_probability: float = 0.5
    queries: str = "items"  # "items": queries target stored items; "fresh": a new random vector per query

    def sample(self, rng: np.random.Generator, size: int, n: int) -> IntArray:
        """``size`` keys in ``[0, n)`` (``n`` already resolved)."""
        if n <= 0:
            raise ValueError("key support must hold at least one key")
        if self.distribution == "uniform":
            return rng.integers(0, n, size=size, dtype=np.int64)
        if self.distribution == "zipf":
            return sample_zipf(rng, size, n, self.s)
        hot = min(self.hot_keys, n)
        is_hot = rng.random(size) < self.hot_probability
        hot_draw = rng.integers(0, hot, size=size, dtype=np.int64)
        cold_draw = rng.integers(hot, n, size=size, dtype=np.int64) if n > hot else hot_draw
        return np.where(is_hot, hot_draw, cold_draw)


def zipf_pmf(n: int, s: float) -> npt.NDArray[np.float64]:
    """Probability of key ``i`` (rank ``i + 1``): ``(i + 1) ** -s`` normalised over ``[0, n)``."""
    w = np.arange(1, n + 1, dtype=np.float64) ** (-s)
    return w / w.sum()


def sample_zipf(rng: np.random.Generator, size: int, n: int, s: float) -> IntArray:
    """Bounded Zipf by inverse CDF (``numpy.random.zipf`` is unbounded and needs ``s > 1``)."""
    cdf = np.cumsum(zipf_pmf(n, s))
    keys = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right")
    return np.minimum(keys, n - 1).astype(np.int64)


def parse_keys(tab: Table) -> KeyPopularity:
    dist = tab.string("distribution", "uniform", choices=("uniform", "zipf", "hotspot"))
    n = tab.integer("n", None, lo=1) if tab.has("n") else None
    kp = KeyPopularity(
        distribution=dist,
        n=n,
        s=tab.number("s", 1.0, lo=0.0) if dist == "zipf" else 1.0,
        hot_keys=tab.integer("hot_keys", 1, lo=1) if dist == "hotspot" else 1,
        hot_probability=tab.number("hot_probability", 0.5, lo=0.0, hi=1.0) if dist == "hotspot" else 0.5,
        queries=tab.string("queries", "items", choices=("items", "fresh")),
    )
    if n is not None and dist == "hotspot" and kp.hot_keys > n:
        raise tab.error("hot_keys", kp.hot_keys, f"at most n = {n} hot keys")
    tab.reject_unknown()
    return kp
