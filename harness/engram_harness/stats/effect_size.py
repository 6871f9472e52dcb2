"""Standardised effect size (Cohen's d with the pooled standard deviation)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._validation import as_sample

__all__ = ["cohens_d"]


def cohens_d(a: ArrayLike, b: ArrayLike) -> float:
    """Cohen's d = (mean(a) - mean(b)) / s_pooled.

    ``s_pooled = sqrt(((n_a - 1) s_a^2 + (n_b - 1) s_b^2) / (n_a + n_b - 2))`` with unbiased (ddof=1) sample
    variances. Positive when ``a`` has the larger mean. Assumes roughly equal variances in the two groups;
    conventional reading: 0.2 small, 0.5 medium, 0.8 large. Needs at least 2 values per group; if both
    groups are constant the result is 0 (equal means) or +-inf.
    """
    x = as_sample(a, "a", min_size=2)
    y = as_sample(b, "b", min_size=2)
    diff = float(np.mean(x) - np.mean(y))
    pooled_var = ((x.size - 1) * np.var(x, ddof=1) + (y.size - 1) * np.var(y, ddof=1)) / (x.size + y.size - 2)
    sd = float(np.sqrt(pooled_var))
    if sd == 0.0:
        return 0.0 if diff == 0.0 else float(np.copysign(np.inf, diff))
    return diff / sd
