"""Calibration of the regression verdict: false alarms on A/A and power on an injected 5% slowdown.

These are honest tests of the statistics and can fail: with a true per-comparison false-alarm rate of at
most alpha / 2 = 0.5%, 200 A/A comparisons exceed 1% (3 or more alarms) for roughly 8% of seeds. The
seeds are fixed, so the outcome is deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from engram_harness.stats import (
    DEFAULT_SAMPLE_SIZE,
    calibrate,
    lognormal_latency_source,
    pooled_source,
    runs_source,
)


def test_default_latency_shape_meets_requirements() -> None:
    """Requirement: <= 1% false alarms over 200 A/A, >= 90% detection of a 5% slowdown, default size."""
    r = calibrate(lognormal_latency_source(), n_trials=200, slowdown=0.05, seed=20260101)
    assert r.sample_size == DEFAULT_SAMPLE_SIZE
    assert r.n_trials == 200
    assert r.false_alarm_rate <= 0.01, r
    assert r.detection_rate >= 0.90, r


@pytest.mark.slow
@pytest.mark.parametrize(
    "shape",
    [
        {"sigma": 0.6, "tail_fraction": 0.05, "tail_alpha": 1.2},  # wide body, heavy tail
        {"sigma": 0.25, "quantum": 1.0},  # narrow body, integer microseconds (ties)
    ],
    ids=["heavy", "ties"],
)
def test_other_latency_shapes_meet_requirements(shape: dict) -> None:
    r = calibrate(lognormal_latency_source(**shape), n_trials=200, seed=7)
    assert r.false_alarm_rate <= 0.01, r
    assert r.detection_rate >= 0.90, r


@pytest.mark.slow
def test_false_alarm_rate_over_many_trials_is_below_half_alpha() -> None:
    r = calibrate(lognormal_latency_source(), n_trials=600, slowdown=0.0, sample_size=1000, seed=11)
    assert r.false_alarm_rate <= 0.01, r
    assert r.detection_rate <= 0.01  # slowdown 0 is another A/A arm


def test_pooled_recorded_samples_and_throughput_metric() -> None:
    rng = np.random.default_rng(3)
    # Stand-in for recorded per-second throughputs: ~1000 ops/s with small noise.
    pool = 1000 + 30 * rng.standard_normal(5000)
    r = calibrate(pool, n_trials=40, slowdown=0.05, sample_size=60, metric="throughput", seed=4)
    assert r.metric == "throughput"
    assert r.false_alarms <= 1
    assert r.detection_rate >= 0.9


def test_runs_source_and_result_fields() -> None:
    rng = np.random.default_rng(5)
    runs = [200 * np.exp(0.3 * rng.standard_normal(3000)) for _ in range(3)]
    r = calibrate(runs_source(runs), n_trials=20, sample_size=500, seed=6)
    d = r.to_dict()
    assert d["n_trials"] == 20 and d["sample_size"] == 500
    assert 0.0 <= r.false_alarm_upper <= 1.0 and 0.0 <= r.detection_lower <= 1.0
    assert r.false_alarm_rate <= r.false_alarm_upper
    assert r.detection_lower <= r.detection_rate


def test_rate_bounds_are_one_sided_clopper_pearson() -> None:
    from engram_harness.stats.calibration import _clopper_pearson

    for k, n in [(0, 200), (3, 200), (195, 200), (200, 200), (1, 1)]:
        low, high = _clopper_pearson(k, n)
        assert high == (1.0 if k == n else pytest.approx(sps.beta.ppf(0.95, k + 1, n - k)))
        assert low == (0.0 if k == 0 else pytest.approx(sps.beta.ppf(0.05, k, n - k + 1)))


def test_sources_and_arguments_are_validated() -> None:
    src = pooled_source([1.0, 2.0, 3.0])
    assert src(np.random.default_rng(0), 10).shape == (10,)
    with pytest.raises(ValueError):
        runs_source([])
    with pytest.raises(ValueError):
        calibrate(lognormal_latency_source(), n_trials=0)
    with pytest.raises(ValueError):
        lognormal_latency_source(sigma=-1)
