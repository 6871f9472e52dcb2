"""Tests of engram_harness.stats.compare and its building blocks (rank test, Hodges-Lehmann, bootstrap)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from engram_harness.stats import (
    SampleTooSmallError,
    Verdict,
    bootstrap_ci,
    bootstrap_quantile,
    compare,
    hodges_lehmann_shift,
    lognormal_latency_source,
    min_attainable_p,
    minimum_sample_size,
)
from engram_harness.stats import hodges_lehmann as hl_module

SOURCE = lognormal_latency_source()


def _draw(seed: int, n: int) -> np.ndarray:
    return np.asarray(SOURCE(np.random.default_rng(seed), n))


def test_identical_distributions_are_not_a_regression() -> None:
    v = compare(_draw(1, 3000), _draw(2, 3000))
    assert isinstance(v, Verdict)
    assert not v.regression
    assert v.n_before == v.n_after == 3000
    assert 0.0 <= v.p_value <= 1.0
    lo, hi = v.median_ratio_ci
    assert lo <= v.median_ratio <= hi


def test_large_slowdown_is_a_regression_with_consistent_fields() -> None:
    before = _draw(3, 3000)
    after = _draw(4, 3000) * 1.3
    v = compare(before, after)
    assert v.regression and v.significant and v.worse and v.material
    assert v.median_ratio == pytest.approx(1.3, rel=0.05)
    assert v.median_ratio_ci[0] > 1.2
    assert v.prob_after_greater > 0.5
    assert v.hodges_lehmann_shift > 0
    assert v.p99_ratio_ci[0] <= v.p99_ratio <= v.p99_ratio_ci[1]


def test_speedup_is_not_a_latency_regression_but_is_a_throughput_one() -> None:
    before = _draw(5, 2000)
    faster = _draw(6, 2000) * 0.7
    assert not compare(before, faster).regression
    assert compare(before, faster, metric="throughput").regression  # lower throughput is worse
    assert not compare(before, _draw(7, 2000) * 1.3, metric="throughput").regression


def test_tiny_significant_change_with_narrow_interval_is_not_material() -> None:
    # 1% slower with a huge sample: significant, but the interval excludes a 5% slowdown.
    rng = np.random.default_rng(8)
    before = 100 * np.exp(0.2 * rng.standard_normal(200_000))
    after = 101 * np.exp(0.2 * rng.standard_normal(200_000))
    v = compare(before, after, n_boot=500)
    assert v.significant and v.worse
    assert not v.material and not v.regression


def test_deterministic_for_a_seed() -> None:
    a, b = _draw(9, 500), _draw(10, 500)
    assert compare(a, b, seed=3) == compare(a, b, seed=3)


def test_to_dict_is_json_serialisable() -> None:
    d = compare(_draw(11, 200), _draw(12, 200) * 1.2).to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["n_before"] == 200
    assert len(back["median_ratio_ci"]) == 2
    assert isinstance(back["regression"], bool)
    assert "REGRESSION" in compare(_draw(11, 200), _draw(12, 200) * 2).summary()


@pytest.mark.parametrize(("n_before", "n_after"), [(0, 10), (3, 3), (4, 4), (4, 5), (1, 50)])
def test_refuses_samples_that_can_never_be_significant(n_before: int, n_after: int) -> None:
    with pytest.raises(SampleTooSmallError) as info:
        compare(np.arange(1.0, n_before + 1), np.arange(1.0, n_after + 1), alpha=0.01)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.minimum == 5
    assert (
        "at least 5" in str(err) and f"n_before={n_before}" in str(err) and f"n_after={n_after}" in str(err)
    )


def test_smallest_allowed_samples_are_accepted_and_can_be_significant() -> None:
    v = compare([1.0, 2, 3, 4, 5], [10.0, 11, 12, 13, 14], alpha=0.01)
    assert v.p_value < 0.01  # exact test: 2 / C(10, 5) = 0.0079
    assert v.regression


def test_minimum_sample_size_matches_exact_bound() -> None:
    assert minimum_sample_size(0.01) == 5
    assert minimum_sample_size(0.05) == 4
    assert min_attainable_p(5, 5) == pytest.approx(2 / 252)
    assert min_attainable_p(4000, 4000) == 0.0 or min_attainable_p(4000, 4000) < 1e-300


@pytest.mark.parametrize("bad", [[1.0, np.nan, 2, 3, 4, 5], [[1.0, 2.0]], [-1.0, 1, 2, 3, 4]])
def test_rejects_bad_input(bad: list) -> None:
    with pytest.raises(ValueError):
        compare(bad, [1.0, 2, 3, 4, 5, 6])


def test_rejects_bad_parameters() -> None:
    a = np.arange(1.0, 11)
    with pytest.raises(ValueError):
        compare(a, a, metric="memory")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        compare(a, a, alpha=0)


def test_p_value_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(13)
    a = rng.integers(1, 20, 300).astype(float)
    b = rng.integers(2, 21, 280).astype(float)
    v = compare(a, b)
    ref = sps.mannwhitneyu(b, a, alternative="two-sided")
    assert v.p_value == pytest.approx(ref.pvalue)
    assert v.u_statistic == pytest.approx(ref.statistic)


def test_hodges_lehmann_bounds_survive_rounding() -> None:
    """x + (y - x) can round below y: the search's outer bounds must still hold every difference."""
    x, y = np.array([-848.0233463927349]), np.array([0.0, 176.0])
    first, second = hl_module._kth_differences(x, y, 1)
    assert 0.5 * (first + second) == pytest.approx(float(np.median(np.subtract.outer(y, x))), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=60),
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=60),
)
def test_hodges_lehmann_selection_matches_brute_force(a: list[float], b: list[float]) -> None:
    x, y = np.sort(np.asarray(a)), np.sort(np.asarray(b))
    expected = float(np.median(np.subtract.outer(y, x)))
    n_pairs = x.size * y.size
    k = (n_pairs + 1) // 2
    first, second = hl_module._kth_differences(x, y, k)
    got = first if n_pairs % 2 else 0.5 * (first + second)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_hodges_lehmann_large_path_matches_brute_force() -> None:
    rng = np.random.default_rng(14)
    x = np.round(SOURCE(rng, 500))  # ties
    y = SOURCE(rng, 400) * 1.1
    assert x.size * y.size > hl_module._BRUTE_FORCE_PAIRS
    assert hodges_lehmann_shift(x, y) == pytest.approx(float(np.median(np.subtract.outer(y, x))), rel=1e-12)


def test_hodges_lehmann_recovers_a_pure_shift() -> None:
    rng = np.random.default_rng(15)
    x = rng.standard_normal(2000)
    assert hodges_lehmann_shift(x, rng.standard_normal(2000) + 0.5) == pytest.approx(0.5, abs=0.1)


def test_order_statistic_bootstrap_matches_resampling() -> None:
    rng = np.random.default_rng(16)
    x = np.sort(SOURCE(rng, 400))
    k = int(np.ceil(0.9 * x.size))
    exact = bootstrap_quantile(x, 0.9, 20_000, rng)
    resampled = np.sort(x[rng.integers(0, x.size, (20_000, x.size))], axis=1)[:, k - 1]
    # Same distribution: two-sample KS test does not reject and quantiles agree.
    assert sps.ks_2samp(exact, resampled).pvalue > 0.001
    assert np.quantile(exact, [0.05, 0.5, 0.95]) == pytest.approx(
        np.quantile(resampled, [0.05, 0.5, 0.95]), rel=0.02
    )


def test_bootstrap_ci_covers_mean_and_is_seeded() -> None:
    rng = np.random.default_rng(17)
    data = rng.normal(10.0, 2.0, 400)
    ci = bootstrap_ci(np.mean, data, n_boot=3000, seed=1)
    assert ci.low < ci.estimate < ci.high
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * 2.0 / np.sqrt(400), rel=0.2)
    assert bootstrap_ci(np.mean, data, n_boot=3000, seed=1) == ci


def test_bootstrap_ci_is_scipys_percentile_bootstrap() -> None:
    rng = np.random.default_rng(21)
    data = rng.lognormal(0, 1, 300)
    ci = bootstrap_ci(np.median, data, n_boot=999, confidence=0.9, seed=5)
    ref = sps.bootstrap(
        (data,), np.median, n_resamples=999, confidence_level=0.9, method="percentile",
        vectorized=True, rng=np.random.default_rng(5),
    )  # fmt: skip
    assert (ci.low, ci.high) == (ref.confidence_interval.low, ref.confidence_interval.high)
    assert ci.estimate == float(np.median(data)) and ci.n_boot == 999
    with pytest.raises(ValueError, match="at least 2"):
        bootstrap_ci(np.mean, [1.0])
    with pytest.raises(ValueError):
        bootstrap_ci(np.mean, data, confidence=1.0)


def test_bootstrap_ci_two_samples_difference() -> None:
    rng = np.random.default_rng(18)
    a, b = rng.normal(0, 1, 300), rng.normal(1, 1, 300)
    ci = bootstrap_ci(lambda x, y, axis: np.mean(y, axis=axis) - np.mean(x, axis=axis), a, b, seed=2)
    assert ci.low < 1.0 < ci.high
    assert ci.low > 0.5


@pytest.mark.parametrize("quantum", [1.0, 20.0])
def test_hodges_lehmann_with_heavy_ties_matches_brute_force(
    quantum: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Force the selection path (and its tie stepping) on quantised data.
    monkeypatch.setattr(hl_module, "_BRUTE_FORCE_PAIRS", 0)
    monkeypatch.setattr(hl_module, "_ENUMERATE_BELOW", 10)
    rng = np.random.default_rng(19)
    x = np.ceil(SOURCE(rng, 700) / quantum)
    y = np.ceil(SOURCE(rng, 650) / quantum)
    assert hodges_lehmann_shift(x, y) == float(np.median(np.subtract.outer(y, x)))
