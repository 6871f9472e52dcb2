"""Resource and cadence figures of a sustained run: RSS growth per hour (robust linear fit), the
server's CPU share, and the cadence of background consolidation cycles."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import theilslopes


@dataclass(frozen=True)
class Growth:
    """A robust trend of a level over time: Theil-Sen slope (median of pairwise slopes, insensitive
    to the steps of a growing allocation and to single outliers) relative to the median level."""

    slope_per_h: float  # units per hour
    level: float  # median of the fitted points
    n: int
    span_s: float

    @property
    def pct_per_h(self) -> float:
        return 100.0 * self.slope_per_h / self.level if self.level > 0 else math.nan


def rss_growth(
    t_s: npt.ArrayLike, level: npt.ArrayLike, *, warmup_s: float, max_points: int = 1500
) -> Growth:
    """Theil-Sen growth of ``level`` over ``t_s`` (seconds) after the first ``warmup_s`` seconds.

    At most ``max_points`` evenly spaced points are fitted (the estimator is quadratic in the number
    of points; an hour of one-second samples thinned to 1,500 keeps its resolution). NaN slope with
    fewer than 10 points after the warm-up: a check on it then fails instead of passing on nothing.
    """
    t = np.asarray(t_s, dtype=np.float64)
    y = np.asarray(level, dtype=np.float64)
    if t.shape != y.shape:
        raise ValueError(f"t and level differ in shape: {t.shape} vs {y.shape}")
    keep = np.isfinite(t) & np.isfinite(y)
    t, y = t[keep], y[keep]
    if len(t):
        sel = t >= t.min() + warmup_s
        t, y = t[sel], y[sel]
    if len(t) < 10:
        return Growth(math.nan, float(np.median(y)) if len(y) else math.nan, len(t), 0.0)
    if len(t) > max_points:
        idx = np.unique(np.linspace(0, len(t) - 1, max_points).round().astype(np.int64))
        t, y = t[idx], y[idx]
    slope = float(theilslopes(y, t)[0])
    return Growth(slope * 3600.0, float(np.median(y)), len(t), float(t.max() - t.min()))


def cpu_share(cpu_s: float, wall_s: float, cores: int) -> float:
    """The share of the machine a process used: its CPU seconds over ``wall_s * cores``."""
    if not (wall_s > 0 and cores > 0):
        return math.nan
    return cpu_s / (wall_s * cores)


def cycle_ends(last_run: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The distinct values a "time of the last run" gauge took, in order (each new value is a
    cycle that ended); zeros (never ran) are dropped."""
    v = np.asarray(last_run, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return v
    changed = np.concatenate([[True], np.diff(v) != 0])
    return v[changed]


@dataclass(frozen=True)
class Cadence:
    intervals_s: tuple[float, ...]
    target_s: float
    tolerance_s: float

    @property
    def cycles(self) -> int:
        return len(self.intervals_s)

    @property
    def within(self) -> int:
        return sum(abs(x - self.target_s) <= self.tolerance_s for x in self.intervals_s)

    @property
    def fraction_within(self) -> float:
        """Share of intervals within target +/- tolerance (NaN when no interval was seen)."""
        return self.within / self.cycles if self.cycles else math.nan

    def describe(self) -> str:
        if not self.cycles:
            return "no complete interval between consolidation cycles"
        xs = np.asarray(self.intervals_s)
        return (f"{self.within}/{self.cycles} intervals within {self.target_s:g} +/- {self.tolerance_s:g} s "
                f"(min {xs.min():.2f}, median {np.median(xs):.2f}, max {xs.max():.2f} s)")  # fmt: skip


def cadence(series: Sequence[npt.ArrayLike], *, target_s: float, tolerance_s: float) -> Cadence:
    """Intervals between successive cycle ends, judged against ``target_s +/- tolerance_s``.

    ``series`` holds one sequence of end times per space: a cycle consolidates the spaces one after
    another, so only the same space's ends are one interval apart; the intervals are pooled."""
    out: list[float] = []
    for e in series:
        out.extend(float(x) for x in np.diff(np.asarray(e, dtype=np.float64)))
    return Cadence(tuple(out), target_s, tolerance_s)
