"""Percentile bootstrap confidence intervals (vectorised, seeded).

Two tools:

* :func:`bootstrap_ci` - the general nonparametric percentile bootstrap, ``scipy.stats.bootstrap``
  (``method="percentile"``, vectorised, in memory-bounded batches): every sample is resampled with
  replacement ``n_boot`` times and a vectorised statistic is evaluated along the last axis.
* :func:`bootstrap_quantile` - replicates of one quantile drawn *exactly* from its bootstrap
  distribution without resampling. For a sorted sample ``x_(1) <= ... <= x_(n)`` the k-th order
  statistic of a bootstrap resample is ``x_(J)`` with ``P(J <= j) = P(Binomial(n, j/n) >= k)`` (at least
  k of the n draws fall among the j smallest positions). Sampling ``J`` from this law is equivalent to
  resampling and taking the order statistic, and costs O(n + n_boot log n) instead of O(n * n_boot).

The percentile interval assumes the bootstrap distribution is a fair stand-in for the sampling
distribution of the statistic; that needs independent, identically distributed observations and is poor
for quantiles with few samples beyond them (a P99 from 200 samples rests on 2 values). Interval ends are
quantiles of the *replicates* with linear interpolation, as SciPy computes them (they are not reported
percentiles of measured samples, which use :mod:`engram_harness.stats.quantiles`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as _sps

from ._validation import SeedLike, as_sample, rng_from
from .quantiles import order_statistic_rank

__all__ = ["BootstrapCI", "bootstrap_ci", "bootstrap_quantile", "percentile_interval"]

#: Upper bound on the number of resampled values held in memory at once by :func:`bootstrap_ci`.
_MAX_BATCH_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class BootstrapCI:
    """A point estimate with a percentile bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    n_boot: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "n_boot": self.n_boot,
        }


def percentile_interval(replicates: ArrayLike, confidence: float = 0.95) -> tuple[float, float]:
    """The equal-tailed ``confidence`` interval of bootstrap ``replicates`` (their quantiles).

    Non-finite replicates (e.g. a ratio with a zero denominator) are kept: they sort to the ends, so an
    interval touching them is reported as infinite rather than silently narrowed.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[~np.isnan(reps)]
    if reps.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(reps, [tail, 1.0 - tail])
    return float(low), float(high)


def bootstrap_ci(
    statistic: Callable[..., NDArray[np.float64]],
    *samples: ArrayLike,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: SeedLike = 0,
) -> BootstrapCI:
    """Percentile bootstrap CI of ``statistic(*samples)``; each sample is resampled independently.

    ``scipy.stats.bootstrap(method="percentile", vectorized=True)``, seeded, batched so that at most
    about four million resampled values are held at once.

    Args:
        statistic: a vectorised function called as ``statistic(*arrays, axis=-1)`` that reduces the last
            axis (e.g. ``np.mean``, or for a difference of means
            ``lambda a, b, axis: np.mean(b, axis) - np.mean(a, axis)``).
            It is called once on the original samples (1-D) for the estimate and on 2-D batches of
            resamples of shape ``(batch, n_i)``.
        samples: one or more 1-D samples of at least two values each.
        n_boot: number of bootstrap replicates.
        confidence: interval coverage, e.g. 0.95.
        seed: int, ``None`` or a ``numpy.random.Generator``; the same seed gives the same interval.
    """
    if not samples:
        raise ValueError("bootstrap_ci needs at least one sample")
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    arrays = [as_sample(s, f"sample {i}", min_size=2) for i, s in enumerate(samples)]
    estimate = float(statistic(*arrays, axis=-1))
    total = sum(a.size for a in arrays)
    res = _sps.bootstrap(
        arrays,
        statistic,
        n_resamples=n_boot,
        batch=max(1, min(n_boot, _MAX_BATCH_ELEMENTS // total)),
        vectorized=True,
        confidence_level=confidence,
        method="percentile",
        rng=rng_from(seed),
    )
    low, high = res.confidence_interval
    return BootstrapCI(
        estimate=estimate, low=float(low), high=float(high), confidence=confidence, n_boot=n_boot
    )


def bootstrap_quantile(
    sorted_sample: NDArray[np.float64], q: float, n_boot: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """``n_boot`` bootstrap replicates of the inverted-CDF q-quantile of an already *sorted* sample.

    Exact in distribution: each replicate has the law of the ``ceil(q*n)``-th order statistic of a
    with-replacement resample of the sample (see the module docstring). Replicates of different
    quantiles drawn by separate calls are independent of each other, which is right for quantities
    that involve one quantile per sample (e.g. a ratio of two samples' medians) but not for statistics
    that combine two quantiles of the same resample.
    """
    x = np.asarray(sorted_sample, dtype=np.float64)
    n = x.size
    k = order_statistic_rank(n, q)
    # J concentrates around k with sd ~ sqrt(k (n - k) / n); outside +-12 sd (plus a margin) the law has
    # probability far below 1e-20, so the CDF is only evaluated on that window.
    half = int(12.0 * np.sqrt(k * (n - k) / n)) + 30
    j = np.arange(max(1, k - half), min(n, k + half) + 1)
    # cdf = P(J <= j) = P(Binomial(n, j/n) >= k); P(J <= n) == 1.
    cdf = _sps.binom.sf(k - 1, n, j / n)
    if j[-1] == n:
        cdf[-1] = 1.0
    cdf = np.maximum.accumulate(cdf)
    u = rng.random(n_boot)
    idx = np.searchsorted(cdf, u, side="left")
    return x[j[np.minimum(idx, j.size - 1)] - 1]
