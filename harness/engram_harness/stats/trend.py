"""Trend gates built on a straight-line fit: memory leaks and latency drift.

Both fit ``value ~ time`` by least squares and only report a trend when the line explains the data
(R^2 above a gate), so that noise or a single step is not read as steady growth. Times are in seconds;
rates are reported per hour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._validation import as_pair
from .regression import LinearFit, linear_regression

__all__ = ["DriftVerdict", "LeakVerdict", "detect_drift", "detect_leak"]

_SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class LeakVerdict:
    """``leaking`` is ``slope_mb_per_h > limit_mb_per_h and r_squared > r2_gate``."""

    slope_mb_per_h: float
    r_squared: float
    leaking: bool
    limit_mb_per_h: float
    r2_gate: float
    n: int
    fit: LinearFit


@dataclass(frozen=True)
class DriftVerdict:
    """``drifting`` is ``n >= min_points and drift_pct_per_h > limit_pct_per_h and r_squared > r2_gate``.

    ``drift_pct_per_h`` = fitted slope per hour / the window's first observed value * 100 (signed).
    """

    drift_pct_per_h: float
    r_squared: float
    drifting: bool
    limit_pct_per_h: float
    r2_gate: float
    n: int
    fit: LinearFit | None


def _window(t: ArrayLike, v: ArrayLike, window_s: float | None) -> tuple[np.ndarray, np.ndarray]:
    ta, va = as_pair(t, v, min_size=0)
    order = np.argsort(ta, kind="stable")
    ta, va = ta[order], va[order]
    if window_s is not None and ta.size:
        keep = ta >= ta[-1] - window_s
        ta, va = ta[keep], va[keep]
    return ta, va


def detect_leak(
    t_seconds: ArrayLike,
    memory_mb: ArrayLike,
    *,
    limit_mb_per_h: float = 10.0,
    r2_gate: float = 0.8,
    window_s: float | None = None,
) -> LeakVerdict:
    """Memory growth rate (MB/h) from a least-squares line of memory vs time, gated on R^2.

    Args:
        t_seconds: sample times in seconds (any origin).
        memory_mb: memory at those times in MB (RSS or, better, engine-accounted bytes / 2**20).
        limit_mb_per_h: growth above this is a leak (default 10 MB/h).
        r2_gate: the line must explain more than this share of the variance (default 0.8).
        window_s: only use the last ``window_s`` seconds (``None``: everything).

    A warm-up (caches filling) also looks like growth: pass a window that starts after it. Needs at least
    3 points and distinct times.
    """
    t, m = _window(t_seconds, memory_mb, window_s)
    if t.size < 3:
        raise ValueError(f"leak detection needs at least 3 points, got {t.size}")
    fit = linear_regression(t, m)
    slope_h = fit.slope * _SECONDS_PER_HOUR
    r2 = fit.r_squared
    leaking = bool(slope_h > limit_mb_per_h and np.isfinite(r2) and r2 > r2_gate)
    return LeakVerdict(
        slope_mb_per_h=float(slope_h),
        r_squared=float(r2),
        leaking=leaking,
        limit_mb_per_h=limit_mb_per_h,
        r2_gate=r2_gate,
        n=int(t.size),
        fit=fit,
    )


def detect_drift(
    t_seconds: ArrayLike,
    values: ArrayLike,
    *,
    limit_pct_per_h: float = 2.0,
    r2_gate: float = 0.7,
    min_points: int = 4,
    window_s: float | None = 4 * _SECONDS_PER_HOUR,
) -> DriftVerdict:
    """Relative drift (%/h) of a metric such as P99 latency over the last ``window_s`` (default 4 h).

    Fits a line to the window and expresses its hourly slope relative to the window's first observed value,
    as the soak-test rule specifies. Only upward drift (getting slower) can set ``drifting``; the signed
    value is reported either way. With fewer than ``min_points`` points nothing is fitted
    (``drift_pct_per_h`` is nan and ``drifting`` False).
    """
    t, v = _window(t_seconds, values, window_s)
    if t.size < max(min_points, 2) or np.all(t == t[0]):
        return DriftVerdict(
            drift_pct_per_h=float("nan"),
            r_squared=float("nan"),
            drifting=False,
            limit_pct_per_h=limit_pct_per_h,
            r2_gate=r2_gate,
            n=int(t.size),
            fit=None,
        )
    if v[0] <= 0:
        raise ValueError("drift is relative to the first value, which must be positive")
    fit = linear_regression(t, v)
    pct = fit.slope * _SECONDS_PER_HOUR / v[0] * 100.0
    r2 = fit.r_squared
    drifting = bool(pct > limit_pct_per_h and np.isfinite(r2) and r2 > r2_gate)
    return DriftVerdict(
        drift_pct_per_h=float(pct),
        r_squared=float(r2),
        drifting=drifting,
        limit_pct_per_h=limit_pct_per_h,
        r2_gate=r2_gate,
        n=int(t.size),
        fit=fit,
    )
