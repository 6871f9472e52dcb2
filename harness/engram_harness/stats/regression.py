"""Ordinary least-squares straight-line fit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_pair, r_squared

__all__ = ["LinearFit", "linear_regression"]


@dataclass(frozen=True)
class LinearFit:
    """``y = slope * x + intercept`` fitted by least squares.

    ``slope_stderr`` is the usual OLS standard error (needs n >= 3; nan otherwise). ``r_squared`` is
    1 - SS_res / SS_tot (nan if y is constant).
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
    dx = xa - xa.mean()
    sxx = float(np.dot(dx, dx))
    if sxx == 0.0:
        raise ValueError("x is constant; the slope is undefined")
    slope = float(np.dot(dx, ya - ya.mean())) / sxx
    intercept = float(ya.mean() - slope * xa.mean())
    fitted = slope * xa + intercept
    n = xa.size
    if n >= 3:
        resid_var = float(np.sum((ya - fitted) ** 2)) / (n - 2)
        stderr = float(np.sqrt(resid_var / sxx))
    else:
        stderr = float("nan")
    return LinearFit(
        slope=slope, intercept=intercept, r_squared=r_squared(ya, fitted), slope_stderr=stderr, n=int(n)
    )
