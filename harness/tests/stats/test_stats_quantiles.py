"""The one percentile definition: order statistics as ``np.quantile(method="inverted_cdf")``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram_harness.checks import Check, CheckRecorder
from engram_harness.stats import (
    group_quantiles,
    measured_quantile,
    order_statistic_rank,
    percent_to_fraction,
    percentile_table,
    quantile,
    quantiles,
    samples_beyond,
)
from engram_harness.workflows.latency import LatencyLog

#: Fractions where float64 ``q * n`` lands a hair off an integer for some n (0.07 * 100 = 7.000000000000001).
AWKWARD = (0.07, 0.29, 0.57, 0.58, 0.1, 0.3, 0.7, 0.9990000000000001, 0.9998999999999999)


def _numpy_rank(n: int, q: float) -> int:
    """The 1-based rank of the element numpy's inverted-CDF quantile picks (of 0..n-1, so value + 1)."""
    return int(np.quantile(np.arange(n, dtype=np.float64), q, method="inverted_cdf")) + 1


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2_000_000), st.floats(0.0, 1.0))
def test_order_statistic_rank_picks_numpys_element(n: int, q: float) -> None:
    assert order_statistic_rank(n, q) == _numpy_rank(n, q)


def test_order_statistic_rank_agrees_with_numpy_on_a_grid() -> None:
    fractions = (0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 0.99999, 1.0, *AWKWARD)
    for n in [*range(1, 1200), 9_999, 10_000, 10_001, 100_000, 1_000_000]:
        for q in fractions:
            assert order_statistic_rank(n, q) == _numpy_rank(n, q), (n, q)
    assert order_statistic_rank(100, 0.07) == 8  # numpy's float64 product, not a tolerance
    with pytest.raises(ValueError):
        order_statistic_rank(0, 0.5)
    with pytest.raises(ValueError):
        order_statistic_rank(10, 1.5)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=300), st.floats(0.0, 1.0))
def test_quantile_is_numpys_inverted_cdf(values: list[float], q: float) -> None:
    expected = float(np.quantile(np.asarray(values), q, method="inverted_cdf"))
    assert quantile(values, q) == expected
    assert quantile(values, q) == float(np.sort(values)[order_statistic_rank(len(values), q) - 1])
    assert quantiles(values, [q, 0.5])[0] == expected


def test_quantile_is_a_recorded_value_not_an_interpolation() -> None:
    x = [1.0, 2.0, 3.0, 4.0]
    assert quantile(x, 0.5) == 2.0  # np.median would say 2.5
    assert quantile(x, 0.99) == 4.0  # np.percentile(x, 99) would say 3.97
    assert quantile(x, 0.0) == 1.0 and quantile(x, 1.0) == 4.0
    with pytest.raises(ValueError):
        quantile([], 0.5)
    with pytest.raises(ValueError):
        quantile([1.0, math.nan], 0.5)


def test_percentages_become_the_intended_fraction() -> None:
    assert percent_to_fraction(99.9) == 0.999 != 99.9 / 100
    assert percent_to_fraction(50) == 0.5 and percent_to_fraction(99.999) == 0.99999
    x = np.arange(1.0, 1001.0)
    assert quantile(x, percent_to_fraction(99.9)) == 999.0  # 99.9 / 100 would pick the maximum
    with pytest.raises(ValueError):
        percent_to_fraction(101)


def test_percentile_table() -> None:
    x = np.arange(1.0, 100_001.0)
    q = percentile_table(x)
    assert q["p50"] == 50_000.0
    assert q["p99"] == 99_000.0
    assert q["p99.9"] == 99_900.0
    assert q["p99.999"] == 99_999.0
    assert list(q) == ["p50", "p90", "p95", "p99", "p99.9", "p99.99", "p99.999"]
    assert samples_beyond(100_000, 99.99) == 10
    sparse = percentile_table(np.arange(1.0, 1001.0), min_tail_samples=5)
    assert np.isnan(sparse["p99.99"]) and np.isnan(sparse["p99.9"]) and sparse["p99"] == 990.0


def test_empty_measurement_is_nan_and_fails_its_check() -> None:
    assert math.isnan(measured_quantile([], 0.99))
    assert np.isnan(quantiles([], [0.5, 0.99])).all()
    assert measured_quantile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert not Check("p99 of nothing", measured_quantile([], 0.99), 50.0, "<", "ms").passed
    rec = CheckRecorder("suite")
    assert not rec.check(
        "remember p99 while consolidation runs", LatencyLog("none").p99_ms(), "<", 50.0, "ms"
    )
    assert rec.failed and "FAIL" in rec.failed[0].describe()
    with pytest.raises(AssertionError, match="thresholds missed"):
        rec.assert_all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 10**9)), max_size=200), st.floats(0.0, 1.0))
def test_group_quantiles_are_the_quantile_of_each_group(pairs: list[tuple[int, int]], q: float) -> None:
    g = np.array([p[0] for p in pairs], dtype=np.int64)
    v = np.array([p[1] for p in pairs], dtype=np.int64)
    got = group_quantiles(g, v, 8, q)
    for k in range(8):
        members = v[g == k]
        if members.size:
            assert got[k] == quantile(members, q)
        else:
            assert np.isnan(got[k])


def test_exports_resolve_and_the_driver_does_not_load_scipy() -> None:
    """The driver computes quantiles on every run; only the analyses need SciPy, statsmodels, ruptures."""
    import subprocess
    import sys

    code = (
        "import importlib, pkgutil, sys, types, engram_harness.driver\n"
        "assert 'scipy' not in sys.modules, 'the driver imported SciPy'\n"
        "import engram_harness.stats as s\n"
        "for m in pkgutil.iter_modules(s.__path__):\n"
        "    importlib.import_module(f'engram_harness.stats.{m.name}')\n"
        "assert 'statsmodels' not in sys.modules and 'ruptures' not in sys.modules\n"
        "# a submodule named like an export would shadow it once imported\n"
        "shadowed = [n for n in s.__all__ if isinstance(getattr(s, n), types.ModuleType)]\n"
        "assert not shadowed, shadowed\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
