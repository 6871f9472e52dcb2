"""Multiple-comparison corrections, Cohen's d, descriptive helpers."""

from __future__ import annotations

import numpy as np
import pytest
from engram_harness.stats import (
    adjust_pvalues,
    coefficient_of_variation,
    cohens_d,
    rolling_mean,
    zscore_anomalies,
)
from hypothesis import given, settings
from hypothesis import strategies as st

pvals = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=30)


def test_bonferroni_and_holm_known_values() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    assert adjust_pvalues(p, "bonferroni") == pytest.approx([0.04, 0.16, 0.12, 0.02])
    # Holm: sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    assert adjust_pvalues(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])


@settings(max_examples=60, deadline=None)
@given(pvals)
def test_holm_is_between_raw_and_bonferroni(p: list[float]) -> None:
    raw = np.asarray(p)
    holm = adjust_pvalues(raw, "holm")
    bonf = adjust_pvalues(raw, "bonferroni")
    assert np.all(holm >= raw - 1e-15)
    assert np.all(holm <= bonf + 1e-15)
    assert np.all((holm >= 0) & (holm <= 1))
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(holm[order]) >= -1e-15)  # monotone in the raw order


def test_adjust_pvalues_validation() -> None:
    with pytest.raises(ValueError):
        adjust_pvalues([0.1, 1.5])
    with pytest.raises(ValueError):
        adjust_pvalues([0.1], method="fdr")  # type: ignore[arg-type]
    assert adjust_pvalues([]).size == 0


def test_cohens_d() -> None:
    a = np.array([2.0, 4, 6, 8])
    b = np.array([1.0, 3, 5, 7])
    sd = np.std(a, ddof=1)
    assert cohens_d(a, b) == pytest.approx(1.0 / sd)
    assert cohens_d(b, a) == pytest.approx(-1.0 / sd)
    rng = np.random.default_rng(0)
    assert cohens_d(rng.normal(0.5, 1, 20000), rng.normal(0, 1, 20000)) == pytest.approx(0.5, abs=0.03)
    assert cohens_d([1.0, 1.0], [1.0, 1.0]) == 0.0


def test_coefficient_of_variation() -> None:
    x = np.array([98.0, 100, 102])
    assert coefficient_of_variation(x) == pytest.approx(2.0 / 100)
    with pytest.raises(ValueError):
        coefficient_of_variation([-1.0, 1.0, -1.0])


def test_zscore_anomalies() -> None:
    rng = np.random.default_rng(1)
    baseline = rng.normal(100, 5, 1000)
    series = np.full(50, 100.0)
    series[[7, 30]] = [130.0, 60.0]
    assert zscore_anomalies(series, baseline=baseline).tolist() == [7, 30]
    self_ref = np.r_[np.zeros(100), 10.0]
    assert zscore_anomalies(self_ref).tolist() == [100]
    assert zscore_anomalies(np.ones(5)).size == 0


def test_rolling_mean() -> None:
    assert rolling_mean([1.0, 2, 3, 4, 5], 2) == pytest.approx([1.5, 2.5, 3.5, 4.5])
    assert rolling_mean([1.0, 2], 3).size == 0
