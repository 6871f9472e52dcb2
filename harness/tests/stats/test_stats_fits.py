"""Linear regression (scipy.stats.linregress) and the trend gates built on it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from engram_harness.stats import detect_drift, detect_leak, linear_regression


def test_linear_regression_exact_and_noisy() -> None:
    x = np.arange(20.0)
    fit = linear_regression(x, 3 * x - 2)
    assert (fit.slope, fit.intercept, fit.r_squared) == pytest.approx((3.0, -2.0, 1.0))
    rng = np.random.default_rng(0)
    noisy = linear_regression(x, 3 * x + rng.normal(0, 1, 20))
    assert abs(noisy.slope - 3) < 4 * noisy.slope_stderr
    assert noisy.predict([0.0, 1.0]).shape == (2,)
    with pytest.raises(ValueError):
        linear_regression([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])


def test_linear_regression_is_linregress_with_nan_where_nothing_is_measured() -> None:
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 100, 50)
    y = 0.5 * x + rng.normal(0, 3, 50)
    fit, ref = linear_regression(x, y), sps.linregress(x, y)
    assert (fit.slope, fit.intercept, fit.slope_stderr) == (ref.slope, ref.intercept, ref.stderr)
    assert fit.r_squared == pytest.approx(ref.rvalue**2) and fit.n == 50
    flat = linear_regression(x, np.full(50, 7.0))  # linregress says r = 0: nothing to explain is not 0
    assert flat.slope == 0.0 and np.isnan(flat.r_squared)
    two = linear_regression([0.0, 1.0], [1.0, 3.0])  # linregress says stderr = 0 for two points
    assert two.slope == pytest.approx(2.0) and np.isnan(two.slope_stderr)


def test_leak_detection_gates() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(0, 4 * 3600, 60.0)  # 4 h, one point a minute
    leaking = 500 + 20 * t / 3600 + rng.normal(0, 1, t.size)  # 20 MB/h
    v = detect_leak(t, leaking)
    assert v.leaking and v.slope_mb_per_h == pytest.approx(20, rel=0.05) and v.r_squared > 0.8
    flat = 500 + rng.normal(0, 5, t.size)
    assert not detect_leak(t, flat).leaking
    slow = 500 + 5 * t / 3600 + rng.normal(0, 0.2, t.size)  # real but below the 10 MB/h limit
    assert not detect_leak(t, slow).leaking


def test_drift_detection() -> None:
    t = np.arange(0, 8 * 3600, 600.0)
    p99 = 1.0 + 0.03 * t / 3600  # +0.03 per hour
    v = detect_drift(t, p99)
    first_in_window = p99[t >= t[-1] - 4 * 3600][0]  # relative to the window's first value
    assert v.drifting and v.drift_pct_per_h == pytest.approx(3.0 / first_in_window)
    assert v.n == 25  # the last 4 h at 10 min spacing, endpoints included
    assert not detect_drift(t, 1.0 - 0.03 * t / 3600).drifting  # getting faster
    few = detect_drift([0.0, 600.0, 1200.0], [1.0, 1.1, 1.2])
    assert not few.drifting and np.isnan(few.drift_pct_per_h)
