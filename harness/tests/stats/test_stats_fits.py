"""Correlation, linear regression and trend gates, curve fits."""

from __future__ import annotations

import numpy as np
import pytest
from engram_harness.stats import (
    detect_drift,
    detect_leak,
    exponential_fit,
    linear_regression,
    logistic_fit,
    pearson_r,
    quadratic_fit,
)


def test_pearson_r() -> None:
    x = np.arange(10.0)
    assert pearson_r(x, 2 * x + 1).r == pytest.approx(1.0)
    assert pearson_r(x, -x).r == pytest.approx(-1.0)
    assert np.isnan(pearson_r(x, np.ones(10)).r)
    with pytest.raises(ValueError):
        pearson_r([1.0, 2.0], [1.0])


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


def test_exponential_fit_with_floor() -> None:
    x = np.linspace(0, 10, 30)
    fit = exponential_fit(x, 2.0 * np.exp(-0.3 * x))
    assert (fit.a, fit.b) == pytest.approx((2.0, -0.3))
    assert fit.r_squared == pytest.approx(1.0) and fit.time_constant == pytest.approx(1 / 0.3)
    with_zero = exponential_fit([0.0, 1, 2], [1.0, 0.1, 0.0])  # 0 -> floor 0.01 before log
    assert with_zero.b == pytest.approx(np.log(0.01) / 2)


def test_quadratic_fit_vertex() -> None:
    x = np.linspace(-3, 7, 41)
    fit = quadratic_fit(x, -2 * (x - 2) ** 2 + 5)
    assert (fit.a, fit.vertex_x, fit.vertex_y) == pytest.approx((-2.0, 2.0, 5.0))
    assert fit.concave and fit.r_squared == pytest.approx(1.0)
    far = quadratic_fit(x + 1e4, -2 * (x - 2) ** 2 + 5)  # conditioning with a large offset
    assert far.vertex_x == pytest.approx(2.0 + 1e4, rel=1e-9)
    with pytest.raises(ValueError):
        quadratic_fit([1.0, 1.0, 2.0], [1.0, 2.0, 3.0])


def test_logistic_fit_recovers_parameters() -> None:
    rng = np.random.default_rng(2)
    x = np.linspace(0.3, 1.0, 40)
    y = 0.1 + 0.85 / (1 + np.exp(-25 * (x - 0.65))) + rng.normal(0, 0.01, x.size)
    fit = logistic_fit(x, y)
    assert fit.x0 == pytest.approx(0.65, abs=0.01)
    assert fit.k == pytest.approx(25, rel=0.2)
    assert pytest.approx(0.85, abs=0.05) == fit.L and fit.bottom == pytest.approx(0.1, abs=0.03)
    assert fit.r_squared > 0.98
    falling = logistic_fit(x, 1 - y)
    assert falling.k < 0 and falling.x0 == pytest.approx(0.65, abs=0.01)
