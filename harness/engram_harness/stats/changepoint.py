"""Change-point detection in the mean of a per-second series (PELT or binary segmentation).

Model: the series is piecewise constant in its mean plus independent noise of a common standard deviation
``sigma``. The target is the segmentation minimising
``sum over segments of SSE / sigma^2 + penalty * (number of changes)``.

* ``method="pelt"``: Pruned Exact Linear Time (Killick, Fearnhead & Eckley 2012) - the exact optimum.
  Linear time when changes are frequent, but quadratic when there are few (e.g. a clean 24 h series).
* ``method="binseg"``: binary segmentation - split a segment at the point that lowers the cost most, if
  the decrease exceeds the penalty, and recurse. O(n log n); approximate (it can miss short segments
  hidden inside longer ones).
* ``method="auto"`` (default): PELT up to 5,000 points, binary segmentation above.

``sigma`` is estimated robustly from first differences (``MAD(diff) / 0.6745 / sqrt(2)``), which mean
shifts barely affect. The default penalty ``2 * log(n)`` is BIC-like; raise it for autocorrelated or
heavy-tailed series (per-second P99s are both), where the independence assumption overstates evidence.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ._validation import as_sample

#: ``method="auto"`` uses PELT up to this many points.
_PELT_MAX_POINTS = 5_000

__all__ = ["detect_change_points", "robust_sigma"]


def robust_sigma(series: ArrayLike) -> float:
    """Noise standard deviation estimated from first differences: ``MAD(diff(x)) / 0.6745 / sqrt(2)``.

    Falls back to ``std(diff(x)) / sqrt(2)`` when more than half the differences are equal (MAD of 0), and
    returns 0 for a constant series.
    """
    x = as_sample(series, "series", min_size=2)
    d = np.diff(x)
    mad = float(np.median(np.abs(d - np.median(d))))
    if mad > 0:
        return mad / 0.6744897501960817 / math.sqrt(2.0)
    return float(np.std(d)) / math.sqrt(2.0)


def detect_change_points(
    series: ArrayLike,
    *,
    penalty: float | None = None,
    min_size: int = 2,
    sigma: float | None = None,
    method: Literal["auto", "pelt", "binseg"] = "auto",
) -> list[int]:
    """Indices where a new mean segment starts (sorted; empty if the mean never changes).

    Args:
        series: 1-D per-second (or any evenly spaced) values.
        penalty: cost of one extra change point in units of ``SSE / sigma^2``; default ``2 * log(n)``.
        min_size: minimum segment length (>= 1).
        sigma: noise standard deviation; default :func:`robust_sigma` of the series.
        method: ``"pelt"`` (exact), ``"binseg"`` (fast, approximate) or ``"auto"``.

    A returned index ``i`` means ``series[i]`` is the first value of a new segment.
    """
    x = as_sample(series, "series", min_size=0)
    n = x.size
    if method not in ("auto", "pelt", "binseg"):
        raise ValueError(f"method must be 'auto', 'pelt' or 'binseg', got {method!r}")
    if min_size < 1:
        raise ValueError(f"min_size must be >= 1, got {min_size}")
    if n < 2 * min_size:
        return []
    if sigma is None:
        sigma = robust_sigma(x)
    if sigma <= 0:
        if np.all(x == x[0]):
            return []
        sigma = float(np.std(x)) or 1.0
    pen = 2.0 * math.log(n) if penalty is None else float(penalty)
    if pen < 0:
        raise ValueError(f"penalty must be non-negative, got {pen}")

    z = (x - np.mean(x)) / sigma  # centring improves the cumulative sums' conditioning
    s1 = np.concatenate(([0.0], np.cumsum(z)))
    s2 = np.concatenate(([0.0], np.cumsum(z * z)))

    if method == "binseg" or (method == "auto" and n > _PELT_MAX_POINTS):
        return _binary_segmentation(s1, s2, n, pen, min_size)
    return _pelt(s1, s2, n, pen, min_size)


def _segment_cost(s1: np.ndarray, s2: np.ndarray, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Sum of squared deviations from the segment mean of z[a:b], from cumulative sums."""
    seg = s1[b] - s1[a]
    return (s2[b] - s2[a]) - seg * seg / (np.asarray(b) - np.asarray(a))


def _pelt(s1: np.ndarray, s2: np.ndarray, n: int, pen: float, min_size: int) -> list[int]:
    f = np.full(n + 1, np.inf)
    f[0] = -pen
    last = np.zeros(n + 1, dtype=np.int64)
    candidates = np.array([0], dtype=np.int64)
    for t in range(min_size, n + 1):
        admissible = candidates[t - candidates >= min_size]
        if admissible.size == 0:
            continue
        cost = _segment_cost(s1, s2, admissible, t)
        total = f[admissible] + cost
        best = int(np.argmin(total))
        f[t] = total[best] + pen
        last[t] = admissible[best]
        # PELT pruning: a start that is already worse than the optimum (without the penalty) never wins.
        keep = candidates[(t - candidates < min_size)]
        survivors = admissible[total <= f[t]]
        candidates = np.concatenate((survivors, keep))
        if t + min_size <= n and t >= min_size:
            candidates = np.append(candidates, t)
    change_points: list[int] = []
    t = n
    while t > 0:
        s = int(last[t])
        if s > 0:
            change_points.append(s)
        t = s
    return sorted(change_points)


def _binary_segmentation(s1: np.ndarray, s2: np.ndarray, n: int, pen: float, min_size: int) -> list[int]:
    change_points: list[int] = []
    stack = [(0, n)]
    while stack:
        a, b = stack.pop()
        if b - a < 2 * min_size:
            continue
        taus = np.arange(a + min_size, b - min_size + 1)
        gain = _segment_cost(s1, s2, a, b) - _segment_cost(s1, s2, a, taus) - _segment_cost(s1, s2, taus, b)
        best = int(np.argmax(gain))
        if gain[best] > pen:
            tau = int(taus[best])
            change_points.append(tau)
            stack.extend([(a, tau), (tau, b)])
    return sorted(change_points)
