"""Hodges-Lehmann estimate of the location shift between two samples.

The two-sample Hodges-Lehmann estimator is the median of all ``n_x * n_y`` pairwise differences
``y_j - x_i``. It is the shift estimate that goes with the Mann-Whitney U test: consistent for the shift
``delta`` when ``y`` is distributed like ``x + delta``, and robust to outliers (breakdown point 29%).

For large samples the pairwise differences are never materialised: the k-th smallest difference is found
by bisection on the value, counting differences ``<= d`` with binary searches over the sorted samples
(O((n_x + n_y) log n) per step), until few enough candidates remain to enumerate them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_sample

__all__ = ["hodges_lehmann_shift"]

#: Up to this many pairs the differences are formed explicitly.
_BRUTE_FORCE_PAIRS = 1_000_000
#: Enumerate the remaining candidates once the bracket holds at most this many differences.
_ENUMERATE_BELOW = 200_000


def _count_le(xs: NDArray[np.float64], ys: NDArray[np.float64], d: float) -> int:
    """Number of pairs with ``y_j - x_i <= d`` (counted as ``y_j <= x_i + d``)."""
    return int(np.searchsorted(ys, xs + d, side="right").sum())


def _kth_difference(xs: NDArray[np.float64], ys: NDArray[np.float64], k: int) -> float:
    """The k-th smallest (1-based) of the pairwise differences ``y_j - x_i`` of sorted ``xs``, ``ys``."""
    lo = float(ys[0] - xs[-1]) - 1.0  # count(lo) == 0 < k
    hi = float(ys[-1] - xs[0])  # count(hi) == all >= k
    c_lo = 0
    c_hi = xs.size * ys.size
    for _ in range(200):
        if c_hi - c_lo <= _ENUMERATE_BELOW:
            break
        mid = lo + (hi - lo) / 2.0
        if not lo < mid < hi:
            break
        c_mid = _count_le(xs, ys, mid)
        if c_mid >= k:
            hi, c_hi = mid, c_mid
        else:
            lo, c_lo = mid, c_mid
    # Enumerate the differences in (lo, hi]: for each x_i the y_j with x_i + lo < y_j <= x_i + hi.
    start = np.searchsorted(ys, xs + lo, side="right")
    stop = np.searchsorted(ys, xs + hi, side="right")
    lengths = stop - start
    total = int(lengths.sum())
    if total == 0:
        return hi
    owner = np.repeat(np.arange(xs.size), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    diffs = ys[start[owner] + offsets] - xs[owner]
    r = min(max(k - c_lo, 1), total)
    return float(np.partition(diffs, r - 1)[r - 1])


def hodges_lehmann_shift(before: ArrayLike, after: ArrayLike) -> float:
    """Median of all pairwise differences ``after_j - before_i`` (in the samples' unit).

    Positive means ``after`` tends to be larger. When the number of pairs is even the two middle
    differences are averaged. Assumes the two samples are independent; it estimates a pure location
    shift, so for a multiplicative change (latencies scaled by 5%) it is ~5% of a typical value.
    """
    x = np.sort(as_sample(before, "before"))
    y = np.sort(as_sample(after, "after"))
    n_pairs = x.size * y.size
    if n_pairs <= _BRUTE_FORCE_PAIRS:
        return float(np.median(np.subtract.outer(y, x)))
    k = (n_pairs + 1) // 2
    if n_pairs % 2 == 1:
        return _kth_difference(x, y, k)
    return 0.5 * (_kth_difference(x, y, k) + _kth_difference(x, y, k + 1))
