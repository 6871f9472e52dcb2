"""Descriptive helpers: coefficient of variation, z-score anomalies, rolling means."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_sample

__all__ = ["coefficient_of_variation", "rolling_mean", "zscore_anomalies"]


def coefficient_of_variation(values: ArrayLike, *, ddof: int = 1) -> float:
    """CV = sample standard deviation (``ddof``, default 1) / mean, as a fraction (0.05 = 5%).

    Meaningful for positive, ratio-scale quantities (throughputs, run times). Raises ``ValueError`` if the
    mean is not positive.
    """
    x = as_sample(values, "values", min_size=ddof + 1)
    mean = float(np.mean(x))
    if mean <= 0.0:
        raise ValueError(f"coefficient of variation needs a positive mean, got {mean}")
    return float(np.std(x, ddof=ddof)) / mean


def zscore_anomalies(
    values: ArrayLike,
    *,
    threshold: float = 3.0,
    baseline: ArrayLike | None = None,
) -> NDArray[np.intp]:
    """Indices of ``values`` whose |z-score| exceeds ``threshold`` (default 3 sigma).

    ``z = (v - mean) / sd`` where mean and sd (ddof=1) come from ``baseline`` when given (recommended: a
    clean reference period), else from ``values`` themselves - in which case large outliers inflate the sd
    and can mask each other. The 3-sigma rule assumes roughly normal data: for a normal baseline about 0.27%
    of clean points are flagged; heavy-tailed data (raw latencies) flag far more. A constant reference
    (sd 0) flags every value that differs from it.
    """
    x = as_sample(values, "values", min_size=0)
    ref = x if baseline is None else as_sample(baseline, "baseline", min_size=2)
    if ref.size < 2:
        return np.empty(0, dtype=np.intp)
    mean = float(np.mean(ref))
    sd = float(np.std(ref, ddof=1))
    dev = np.abs(x - mean)
    flagged = dev > 0 if sd == 0.0 else dev / sd > threshold
    return np.flatnonzero(flagged)


def rolling_mean(values: ArrayLike, window: int) -> NDArray[np.float64]:
    """Trailing moving average: element i is the mean of ``values[i - window + 1 : i + 1]``.

    The result has ``len(values) - window + 1`` elements (only full windows); computed with a cumulative sum.
    """
    x = as_sample(values, "values", min_size=0)
    if window < 1:
        raise ValueError(f"window must be positive, got {window}")
    if x.size < window:
        return np.empty(0, dtype=np.float64)
    c = np.concatenate(([0.0], np.cumsum(x)))
    return (c[window:] - c[:-window]) / window
