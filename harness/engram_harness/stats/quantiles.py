"""The one definition of a percentile: the order statistic of the recorded samples.

Every P50/P99/... the harness, the benchmarks and the acceptance suites report from samples they kept is
``np.quantile(samples, q, method="inverted_cdf")``: the q-quantile of ``n`` values is their
``k``-th smallest, ``k = ceil(q * n)`` (at least 1), with ``q * n`` computed in float64 as numpy does.
That is the smallest value with at least a fraction ``q`` of the samples at or below it; no
interpolation between samples, so a reported P99 is a latency that was actually measured, and because
it is one order statistic its bootstrap distribution is exact
(:func:`engram_harness.stats.bootstrap.bootstrap_quantile`). :func:`order_statistic_rank` gives that
``k`` (tested to pick numpy's element for many ``(n, q)``); :func:`group_quantiles` applies it per group
(per-second windows) in one pass.

An HDR histogram (:class:`engram_harness.driver.histogram.LatencyHistogram`) reports the bucket of the
same rank, within its stated relative error; it is used only where the samples are not kept (merged
runs, plots of stored runs). ``docs/acceptance.md`` ("Percentiles") says what is used where.

An empty measurement has no quantile: :func:`quantile` raises, :func:`measured_quantile` returns NaN
(which fails every :class:`engram_harness.checks.Check`), never 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_sample

__all__ = [
    "DEFAULT_PERCENTILES",
    "group_quantiles",
    "measured_quantile",
    "order_statistic_rank",
    "percent_to_fraction",
    "percentile_label",
    "percentile_table",
    "quantile",
    "quantiles",
    "samples_beyond",
]

#: Percentiles reported by :func:`percentile_table` by default (P50 up to P99.999).
DEFAULT_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9, 99.99, 99.999)

_METHOD = "inverted_cdf"


def _check_fraction(q: float) -> float:
    q = float(q)
    if not 0.0 <= q <= 1.0:  # also rejects NaN
        raise ValueError(f"quantile fraction must be in [0, 1], got {q}")
    return q


def order_statistic_rank(n: int, q: float) -> int:
    """The 1-based rank ``k = ceil(q * n)`` (clipped to [1, n]) of the element that is the q-quantile.

    ``q * n`` is the float64 product, exactly as ``np.quantile(method="inverted_cdf")`` forms it, so
    the two always pick the same element (``0.07 * 100`` is 7.000000000000001 in float64, so that
    quantile is the 8th smallest of 100, in numpy and here alike; write percentiles with
    :func:`percent_to_fraction` to avoid adding such an error in the ``/ 100``).
    """
    q = _check_fraction(q)
    if n < 1:
        raise ValueError("need at least one value")
    return min(max(math.ceil(n * q), 1), n)


def percent_to_fraction(p: float) -> float:
    """``99.9 -> 0.999``: the float nearest the decimal fraction, not ``99.9 / 100`` (0.9990000000000001,
    whose product with 1,000 rounds above 999 and would make the P99.9 of 1,000 samples their maximum)."""
    if not 0.0 <= float(p) <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {p}")
    return float(Decimal(repr(float(p))) / 100)


def quantile(samples: ArrayLike, q: float) -> float:
    """The q-quantile (``q`` a fraction in [0, 1]) of ``samples``: ``np.quantile(method="inverted_cdf")``.

    Raises ``ValueError`` for an empty sample (use :func:`measured_quantile` where "nothing measured"
    must become a failing NaN) and for NaN or infinite values.
    """
    x = as_sample(samples, "samples")
    return float(np.quantile(x, _check_fraction(q), method=_METHOD))


def quantiles(samples: ArrayLike, qs: Iterable[float]) -> NDArray[np.float64]:
    """Several quantiles of one sample at once (one partial sort); NaN for each when it is empty."""
    fractions = np.array([_check_fraction(q) for q in qs], dtype=np.float64)
    x = as_sample(samples, "samples", min_size=0)
    if x.size == 0:
        return np.full(fractions.shape, np.nan)
    return np.asarray(np.quantile(x, fractions, method=_METHOD), dtype=np.float64)


def measured_quantile(samples: ArrayLike, q: float) -> float:
    """:func:`quantile`, but NaN when nothing was measured, so that a check on it fails instead of
    passing on a made-up 0."""
    x = as_sample(samples, "samples", min_size=0)
    if x.size == 0:
        _check_fraction(q)
        return math.nan
    return quantile(x, q)


def group_quantiles(
    group: NDArray[np.int64], values: ArrayLike, n_groups: int, q: float
) -> NDArray[np.float64]:
    """The q-quantile of ``values`` within each group id in ``[0, n_groups)``; NaN for an empty group.

    The same definition as :func:`quantile` (rank ``ceil(q * n)`` of each group, numpy's float64
    product), for many groups in one sort.
    """
    q = _check_fraction(q)
    g = np.asarray(group, dtype=np.int64)
    v = np.asarray(values)
    out = np.full(n_groups, np.nan)
    if v.size == 0:
        return out
    order = np.lexsort((v, g))
    g, v = g[order], v[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    n = counts[has]
    rank = np.clip(np.ceil(n.astype(np.float64) * q).astype(np.int64), 1, n)
    out[has] = v[starts[has] + rank - 1]
    return out


def percentile_label(p: float) -> str:
    """``99.9 -> "p99.9"``, ``50 -> "p50"``."""
    text = f"{p:.6f}".rstrip("0").rstrip(".")
    return f"p{text}"


def samples_beyond(n: int, percentile: float) -> int:
    """How many of ``n`` samples lie strictly above the given percentile's order statistic.

    A tail estimate resting on very few samples is unreliable: a P99.999 needs at least 100,000 samples
    to exist at all and about 2,000,000 to have 20 samples beyond it.
    """
    return n - order_statistic_rank(n, percent_to_fraction(percentile))


def percentile_table(
    samples: ArrayLike,
    percentiles: Iterable[float] = DEFAULT_PERCENTILES,
    *,
    min_tail_samples: int = 0,
) -> dict[str, float]:
    """Percentiles of raw samples keyed ``"p50"``, ``"p99.9"``, ... (values in the samples' unit).

    Args:
        samples: 1-D finite values (e.g. latencies in microseconds), at least one.
        percentiles: percentiles in [0, 100]; default P50 to P99.999.
        min_tail_samples: a percentile with fewer samples than this strictly beyond it is reported as
            ``nan`` instead of a value that really is just the sample maximum (0 reports everything).
    """
    x = as_sample(samples, "samples")
    ps = list(percentiles)
    values = quantiles(x, [percent_to_fraction(p) for p in ps])
    out: dict[str, float] = {}
    for p, value in zip(ps, values, strict=True):
        thin = samples_beyond(x.size, p) < min_tail_samples
        out[percentile_label(p)] = math.nan if thin else float(value)
    return out
