"""HDR-style quantiles computed exactly from raw samples.

Every quantile here uses the *inverted CDF* definition: the q-quantile of ``n`` values is the
``ceil(q * n)``-th smallest value (numpy ``method="inverted_cdf"``). That is the value below or at which at
least a fraction ``q`` of the samples lie, which is what an HDR histogram reports (up to its bucket
resolution), and because it is a single order statistic its bootstrap distribution can be computed exactly
(see :func:`engram_harness.stats.bootstrap.bootstrap_quantile`). No interpolation between samples is done.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike

from ._validation import as_sample

__all__ = [
    "DEFAULT_PERCENTILES",
    "hdr_quantiles",
    "order_statistic_rank",
    "percentile_label",
    "quantile",
    "samples_beyond",
]

#: Percentiles reported by :func:`hdr_quantiles` by default (P50 up to P99.999).
DEFAULT_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9, 99.99, 99.999)


def order_statistic_rank(n: int, q: float) -> int:
    """The 1-based rank ``k = max(1, ceil(q * n))`` of the order statistic that is the q-quantile.

    ``q`` is a fraction in [0, 1]. A small tolerance absorbs floating error in ``q * n`` (so that
    ``q=0.99, n=100`` gives rank 99, not 100).
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile fraction must be in [0, 1], got {q}")
    if n < 1:
        raise ValueError("need at least one value")
    k = math.ceil(q * n - 1e-9 * max(1.0, q * n))
    return min(max(k, 1), n)


def quantile(samples: ArrayLike, q: float) -> float:
    """The q-quantile (``q`` a fraction in [0, 1]) of ``samples`` by the inverted-CDF definition."""
    x = as_sample(samples, "samples")
    k = order_statistic_rank(x.size, q)
    return float(np.partition(x, k - 1)[k - 1])


def percentile_label(p: float) -> str:
    """``99.9 -> "p99.9"``, ``50 -> "p50"``."""
    text = f"{p:.6f}".rstrip("0").rstrip(".")
    return f"p{text}"


def samples_beyond(n: int, percentile: float) -> int:
    """How many of ``n`` samples lie strictly above the given percentile's order statistic.

    A tail estimate resting on very few samples is unreliable: a P99.999 needs at least 100,000 samples
    to exist at all and about 2,000,000 to have 20 samples beyond it.
    """
    return n - order_statistic_rank(n, percentile / 100.0)


def hdr_quantiles(
    samples: ArrayLike,
    percentiles: Iterable[float] = DEFAULT_PERCENTILES,
    *,
    min_tail_samples: int = 0,
) -> dict[str, float]:
    """Quantiles of raw samples, keyed ``"p50"``, ``"p99.9"``, ... (values in the samples' unit).

    Args:
        samples: 1-D finite values (e.g. latencies in microseconds).
        percentiles: percentiles in [0, 100]; default P50 to P99.999.
        min_tail_samples: a percentile with fewer samples than this strictly beyond it is reported as
            ``nan`` instead of a value that really is just the sample maximum (0 reports everything).

    The values are exact order statistics of the raw data (no histogram bucketing), so they are at least as
    precise as an HDR histogram with 3 significant digits.
    """
    x = np.sort(as_sample(samples, "samples"))
    out: dict[str, float] = {}
    for p in percentiles:
        if not 0.0 <= p <= 100.0:
            raise ValueError(f"percentile must be in [0, 100], got {p}")
        k = order_statistic_rank(x.size, p / 100.0)
        value = float(x[k - 1])
        if x.size - k < min_tail_samples:
            value = float("nan")
        out[percentile_label(p)] = value
    return out
