"""Curve fits used by the cognitive-validation suites: exponential, quadratic (with vertex), logistic."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize as _opt
from scipy.special import expit

from ._validation import as_pair, r_squared
from .errors import FitError

__all__ = [
    "ExponentialFit",
    "LogisticFit",
    "QuadraticFit",
    "exponential_fit",
    "logistic_fit",
    "quadratic_fit",
]


@dataclass(frozen=True)
class ExponentialFit:
    """``y = a * exp(b * x)`` fitted as a straight line to ``log(max(y, floor))``.

    ``r_squared`` is computed on the log scale (the scale the fit minimises); ``r_squared_linear`` is the
    share of variance of the raw ``y`` explained by the fitted curve.
    """

    a: float
    b: float
    r_squared: float
    r_squared_linear: float
    floor: float
    n: int

    @property
    def time_constant(self) -> float:
        """``-1 / b`` (the decay constant tau for a decaying curve, inf when b == 0)."""
        return math.inf if self.b == 0 else -1.0 / self.b

    def predict(self, x: ArrayLike) -> NDArray[np.float64]:
        return self.a * np.exp(self.b * np.asarray(x, dtype=np.float64))


def exponential_fit(x: ArrayLike, y: ArrayLike, *, floor: float = 0.01) -> ExponentialFit:
    """Log-linear exponential fit: least squares of ``log(max(y, floor))`` on ``x``.

    Values below ``floor`` (default 0.01, e.g. a retention of 0) are raised to it before the log, so the
    fit is biased near zero; this is the documented convention of the forgetting-curve checks. The log
    transform assumes multiplicative noise. Needs at least 2 points and non-constant ``x``.
    """
    if floor <= 0:
        raise ValueError(f"floor must be positive, got {floor}")
    xa, ya = as_pair(x, y)
    ly = np.log(np.maximum(ya, floor))
    dx = xa - xa.mean()
    sxx = float(np.dot(dx, dx))
    if sxx == 0.0:
        raise ValueError("x is constant; the fit is undefined")
    b = float(np.dot(dx, ly - ly.mean())) / sxx
    log_a = float(ly.mean() - b * xa.mean())
    fitted_log = log_a + b * xa
    a = math.exp(log_a)
    return ExponentialFit(
        a=a,
        b=b,
        r_squared=r_squared(ly, fitted_log),
        r_squared_linear=r_squared(ya, a * np.exp(b * xa)),
        floor=floor,
        n=int(xa.size),
    )


@dataclass(frozen=True)
class QuadraticFit:
    """``y = a x^2 + b x + c`` by least squares, with the vertex ``(-b / 2a, y(vertex_x))``.

    ``concave`` (a < 0) means an inverted U whose vertex is a maximum. With ``a == 0`` the vertex is nan.
    """

    a: float
    b: float
    c: float
    r_squared: float
    vertex_x: float
    vertex_y: float
    concave: bool
    n: int

    def predict(self, x: ArrayLike) -> NDArray[np.float64]:
        xa = np.asarray(x, dtype=np.float64)
        return (self.a * xa + self.b) * xa + self.c


def quadratic_fit(x: ArrayLike, y: ArrayLike) -> QuadraticFit:
    """Least-squares parabola through ``(x, y)``; needs at least 3 distinct ``x`` values.

    The x scale matters (a parabola in x is not one in log x): transform ``x`` before calling if the
    hypothesis is about, say, log spacing.
    """
    xa, ya = as_pair(x, y, min_size=3)
    if np.unique(xa).size < 3:
        raise ValueError("a quadratic fit needs at least 3 distinct x values")
    # Centre and scale x for conditioning, then map the coefficients back.
    mu = float(xa.mean())
    s = float(np.std(xa))
    z = (xa - mu) / s
    design = np.column_stack([z**2, z, np.ones_like(z)])
    (p2, p1, p0), *_ = np.linalg.lstsq(design, ya, rcond=None)
    a = p2 / s**2
    b = p1 / s - 2.0 * p2 * mu / s**2
    c = p0 - p1 * mu / s + p2 * mu**2 / s**2
    fitted = design @ np.array([p2, p1, p0])
    if a != 0.0:
        vx = -b / (2.0 * a)
        vy = (a * vx + b) * vx + c
    else:
        vx = vy = float("nan")
    return QuadraticFit(
        a=float(a),
        b=float(b),
        c=float(c),
        r_squared=r_squared(ya, fitted),
        vertex_x=float(vx),
        vertex_y=float(vy),
        concave=bool(a < 0),
        n=int(xa.size),
    )


@dataclass(frozen=True)
class LogisticFit:
    """4-parameter logistic ``y = bottom + L / (1 + exp(-k (x - x0)))``.

    ``L`` is the height of the step (upper asymptote minus ``bottom``), ``k`` the steepness (negative for
    a falling curve), ``x0`` the midpoint (threshold), ``r_squared`` on the raw scale.
    """

    L: float
    k: float
    x0: float
    bottom: float
    r_squared: float
    n: int

    def predict(self, x: ArrayLike) -> NDArray[np.float64]:
        return _logistic(np.asarray(x, dtype=np.float64), self.L, self.k, self.x0, self.bottom)


def _logistic(x: NDArray[np.float64], L: float, k: float, x0: float, bottom: float) -> NDArray[np.float64]:
    return bottom + L * expit(k * (x - x0))


def logistic_fit(x: ArrayLike, y: ArrayLike, *, maxfev: int = 20000) -> LogisticFit:
    """Non-linear least-squares 4-parameter logistic fit (``scipy.optimize.curve_fit``, Levenberg-Marquardt).

    Starts from ``bottom = min(y)``, ``L = max(y) - min(y)``, ``x0`` = the x where y is closest to the
    middle, and a steepness of +-4 / range(x) with the sign of the trend; if that fails to converge, also
    tries a few other steepness starts. Needs at least 5 points (4 parameters plus one degree of freedom).
    Raises :class:`~engram_harness.stats.errors.FitError` if no start converges.
    """
    xa, ya = as_pair(x, y, min_size=5)
    span = float(np.ptp(xa))
    if span == 0.0:
        raise ValueError("x is constant; the fit is undefined")
    lo, hi = float(ya.min()), float(ya.max())
    height = hi - lo if hi > lo else 1.0
    mid_x = float(xa[np.argmin(np.abs(ya - (lo + hi) / 2.0))])
    trend = np.sign(np.corrcoef(xa, ya)[0, 1]) if np.ptp(ya) > 0 else 1.0
    sign = 1.0 if trend >= 0 else -1.0
    best: tuple[float, NDArray[np.float64]] | None = None
    for k_scale in (4.0, 1.0, 16.0, 64.0):
        p0 = [height, sign * k_scale / span, mid_x, lo]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", _opt.OptimizeWarning)
                params, _ = _opt.curve_fit(_logistic, xa, ya, p0=p0, maxfev=maxfev)
        except (RuntimeError, ValueError):
            continue
        if not np.all(np.isfinite(params)):
            continue
        sse = float(np.sum((ya - _logistic(xa, *params)) ** 2))
        if best is None or sse < best[0]:
            best = (sse, params)
    if best is None:
        raise FitError("4-parameter logistic fit did not converge from any starting point")
    L, k, x0, bottom = (float(v) for v in best[1])
    return LogisticFit(
        L=L,
        k=k,
        x0=x0,
        bottom=bottom,
        r_squared=r_squared(ya, _logistic(xa, L, k, x0, bottom)),
        n=int(xa.size),
    )
