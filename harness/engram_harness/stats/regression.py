"""Ordinary least-squares straight-line fit (``scipy.stats.linregress``), for capacity and trend gates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as _sps

from ._validation import as_pair

__all__ = ["LinearFit", "linear_regression"]


@dataclass(frozen=True)
class LinearFit:
    """``y = slope * x + intercept`` fitted by least squares.

    ``slope_stderr`` is the usual OLS standard error (needs n >= 3; nan otherwise). ``r_squared`` is
    the squared correlation, 1 - SS_res / SS_tot (nan if y is constant: there is no variance to explain).
    """

    slope: float
    intercept: float
    r_squared: float
    slope_stderr: float
    n: int

    def predict(self, x: ArrayLike) -> NDArray[np.float64]:
        return self.slope * np.asarray(x, dtype=np.float64) + self.intercept


def linear_regression(x: ArrayLike, y: ArrayLike) -> LinearFit:
    """Least-squares line through ``(x, y)``; needs at least 2 points and non-constant ``x``.

    Assumes independent residuals with constant variance for ``slope_stderr`` to be meaningful (a
    memory or latency time series is autocorrelated, so treat that error as optimistic).
    """
    xa, ya = as_pair(x, y)
    if np.all(xa == xa[0]):
        raise ValueError("x is constant; the slope is undefined")
    fit = _sps.linregress(xa, ya)
    n = int(xa.size)
    # linregress reports r = 0 for a constant y and a zero standard error for two points; neither is a
    # measurement, so they are nan here.
    r2 = math.nan if np.all(ya == ya[0]) else float(fit.rvalue) ** 2
    stderr = float(fit.stderr) if n >= 3 else math.nan
    return LinearFit(
        slope=float(fit.slope), intercept=float(fit.intercept), r_squared=r2, slope_stderr=stderr, n=n
    )
