"""Mann-Whitney U (Wilcoxon rank-sum) test and the smallest sample sizes that can ever reach significance.

The test (``scipy.stats.mannwhitneyu``, two-sided) asks whether one sample tends to take larger values than
the other (H0: ``P(after > before) = P(after < before)`` for independent observations). For small samples
without ties scipy computes the exact p-value; otherwise it uses the normal approximation with tie
correction and continuity correction.

With ``m`` and ``n`` observations the most extreme possible outcome (complete separation) has an exact
two-sided p-value of ``2 / C(m + n, m)``; ties only make it larger. If that is not below ``alpha`` no data
could ever be called significant, and a test run on such samples is meaningless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as _sps

from ._validation import as_sample

__all__ = [
    "MannWhitneyResult",
    "mann_whitney",
    "min_attainable_p",
    "minimum_other_size",
    "minimum_sample_size",
]


@dataclass(frozen=True)
class MannWhitneyResult:
    """Two-sided Mann-Whitney U test of ``after`` against ``before``.

    ``u_statistic`` is U for ``after``: the number of pairs with ``after_j > before_i`` plus half the ties.
    ``prob_after_greater`` = U / (n_before * n_after), the probability of superiority (0.5 under H0).
    """

    u_statistic: float
    p_value: float
    prob_after_greater: float
    n_before: int
    n_after: int


def min_attainable_p(m: int, n: int) -> float:
    """Smallest exact two-sided Mann-Whitney p-value possible with sample sizes ``m`` and ``n`` (no ties)."""
    if m < 1 or n < 1:
        return 1.0
    if m + n <= 1000:  # exact integer arithmetic where the boundary matters
        return min(1.0, 2.0 / math.comb(m + n, m))
    log_comb = math.lgamma(m + n + 1) - math.lgamma(m + 1) - math.lgamma(n + 1)
    return min(1.0, 2.0 * math.exp(-log_comb))


def minimum_sample_size(alpha: float) -> int:
    """Smallest equal per-sample size ``n`` for which ``min_attainable_p(n, n) < alpha``."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n = 1
    while min_attainable_p(n, n) >= alpha:
        n += 1
    return n


def minimum_other_size(m: int, alpha: float) -> int:
    """Smallest ``n`` such that samples of sizes ``m`` and ``n`` can reach ``p < alpha``."""
    if m < 1:
        raise ValueError("the given sample must not be empty")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n = 1
    while min_attainable_p(m, n) >= alpha:
        n += 1
    return n


def mann_whitney(before: ArrayLike, after: ArrayLike) -> MannWhitneyResult:
    """Two-sided Mann-Whitney U test (scipy, ``method="auto"``, continuity and tie correction)."""
    x = as_sample(before, "before")
    y = as_sample(after, "after")
    res = _sps.mannwhitneyu(y, x, alternative="two-sided", method="auto", use_continuity=True)
    u = float(res.statistic)
    p = float(res.pvalue)
    if np.isnan(p):  # all values identical: no evidence of any difference
        p = 1.0
    return MannWhitneyResult(
        u_statistic=u,
        p_value=p,
        prob_after_greater=u / (x.size * y.size),
        n_before=int(x.size),
        n_after=int(y.size),
    )
