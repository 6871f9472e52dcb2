"""Hodges-Lehmann estimate of the location shift between two samples.

The two-sample Hodges-Lehmann estimator is the median of all ``n_x * n_y`` pairwise differences
``y_j - x_i``. It is the shift estimate that goes with the Mann-Whitney U test: consistent for the shift
``delta`` when ``y`` is distributed like ``x + delta``, and robust to outliers (breakdown point 29%).

For large samples the pairwise differences are never materialised: the k-th smallest difference is found
by bisection on the value, counting differences ``<= d`` with binary searches over the sorted samples
(O((n_x + n_y) log n) per step), until few enough candidates remain to enumerate them. The result is the
exact order statistic (up to floating-point rounding of ``x_i + d``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_sample

__all__ = ["hodges_lehmann_shift"]

#: Up to this many pairs the differences are formed explicitly.
_BRUTE_FORCE_PAIRS = 100_000
#: Enumerate the remaining candidates once the bracket holds at most this many differences.
_ENUMERATE_BELOW = 20_000
#: Random pairs used to find a narrow starting bracket.
_PILOT_PAIRS = 20_000


def _count_le(xs: NDArray[np.float64], ys: NDArray[np.float64], d: float) -> int:
    """Number of pairs with ``y_j - x_i <= d`` (counted as ``y_j <= x_i + d``)."""
    return int(np.searchsorted(ys, xs + d, side="right").sum())


def _kth_differences(xs: NDArray[np.float64], ys: NDArray[np.float64], k: int) -> tuple[float, float]:
    """The k-th and (k+1)-th smallest (1-based) pairwise differences ``y_j - x_i`` of sorted ``xs``, ``ys``.

    When ``k`` is the last rank the k-th difference is returned twice.
    """
    n_pairs = xs.size * ys.size
    k2 = min(k + 1, n_pairs)
    # Counts compare y_j <= x_i + d, and x_i + d rounds: keep the outer bounds clear of every
    # difference by more than that rounding, so count(lo) == 0 and count(hi) == n_pairs hold exactly.
    slack = 1.0 + 8.0 * np.finfo(np.float64).eps * float(max(np.abs(xs).max(), np.abs(ys).max()))
    lo = float(ys[0] - xs[-1]) - slack  # count(lo) == 0 < k
    hi = float(ys[-1] - xs[0]) + slack  # count(hi) == n_pairs >= k2
    c_lo = 0
    c_hi = n_pairs
    # Narrow the bracket with quantiles of randomly chosen pairs (+-6 binomial standard errors), kept
    # only where the exact counts confirm it. The randomness affects speed only, never the result.
    rng = np.random.default_rng(0)
    diffs = ys[rng.integers(0, ys.size, _PILOT_PAIRS)] - xs[rng.integers(0, xs.size, _PILOT_PAIRS)]
    p = k / n_pairs
    margin = 6.0 * np.sqrt(p * (1.0 - p) / _PILOT_PAIRS) + 1.0 / _PILOT_PAIRS
    cand_lo, cand_hi = np.quantile(diffs, [max(p - margin, 0.0), min(p + margin, 1.0)])
    c = _count_le(xs, ys, float(cand_lo))
    if c < k:
        lo, c_lo = float(cand_lo), c
    c = _count_le(xs, ys, float(cand_hi))
    if c >= k2:
        hi, c_hi = float(cand_hi), c
    for iteration in range(200):
        if c_hi - c_lo <= _ENUMERATE_BELOW:
            break
        if iteration >= 20:
            # Slow progress usually means many tied differences (quantised data): step to the smallest
            # difference above lo and see whether the wanted ranks sit on it.
            v = _next_difference(xs, ys, lo)
            c_v = _count_le(xs, ys, v)
            if c_v >= k2:
                return v, v
            if c_v >= k:
                return v, _next_difference(xs, ys, v)
            lo, c_lo = v, c_v
        mid = lo + (hi - lo) / 2.0
        if not lo < mid < hi:
            break
        c_mid = _count_le(xs, ys, mid)
        if c_mid >= k2:
            hi, c_hi = mid, c_mid
        elif c_mid < k:
            lo, c_lo = mid, c_mid
        else:  # k <= c_mid < k2 == k + 1: the k-th difference is <= mid < the (k+1)-th
            return _kth_in_bracket(xs, ys, lo, mid, c_lo, k)[0], _kth_in_bracket(xs, ys, mid, hi, c_mid, k2)[
                0
            ]
    first, second = _kth_in_bracket(xs, ys, lo, hi, c_lo, k, k2)
    return first, second


def _next_difference(xs: NDArray[np.float64], ys: NDArray[np.float64], d: float) -> float:
    """The smallest pairwise difference ``y_j - x_i`` greater than ``d`` (there must be one)."""
    idx = np.searchsorted(ys, xs + d, side="right")
    valid = idx < ys.size
    return float(np.min(ys[idx[valid]] - xs[valid]))


def _kth_in_bracket(
    xs: NDArray[np.float64], ys: NDArray[np.float64], lo: float, hi: float, c_lo: int, *ks: int
) -> tuple[float, ...]:
    """The ``ks``-th smallest differences, known to lie in (lo, hi] with ``c_lo`` differences <= lo."""
    # For each x_i the y_j with x_i + lo < y_j <= x_i + hi.
    start = np.searchsorted(ys, xs + lo, side="right")
    stop = np.searchsorted(ys, xs + hi, side="right")
    lengths = stop - start
    total = int(lengths.sum())
    if total == 0:
        return tuple(hi for _ in ks)
    owner = np.repeat(np.arange(xs.size), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    diffs = np.sort(ys[start[owner] + offsets] - xs[owner])
    return tuple(float(diffs[min(max(k - c_lo, 1), total) - 1]) for k in ks)


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
    first, second = _kth_differences(x, y, k)
    if n_pairs % 2 == 1:
        return first
    return 0.5 * (first + second)
