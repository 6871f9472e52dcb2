"""Pearson correlation between expected and observed values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as _sps

from ._validation import as_pair

__all__ = ["PearsonResult", "pearson_r"]


@dataclass(frozen=True)
class PearsonResult:
    """Pearson's r with the two-sided p-value of H0: r = 0 and the number of pairs."""

    r: float
    p_value: float
    n: int


def pearson_r(expected: ArrayLike, observed: ArrayLike) -> PearsonResult:
    """Pearson product-moment correlation of two equally long sequences (``scipy.stats.pearsonr``).

    Measures *linear* association only; the p-value assumes bivariate normality (or large n). Needs at
    least 2 pairs (the p-value is 1.0 for exactly 2); a constant input has no defined correlation and
    gives ``r = nan``.
    """
    x, y = as_pair(expected, observed)
    if np.all(x == x[0]) or np.all(y == y[0]):
        return PearsonResult(r=float("nan"), p_value=float("nan"), n=int(x.size))
    res = _sps.pearsonr(x, y)
    return PearsonResult(r=float(res.statistic), p_value=float(res.pvalue), n=int(x.size))
