"""Chi-squared goodness of fit, precision/recall, change points."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as sps

from engram_harness.stats import (
    chi_squared_gof,
    detect_change_points,
    precision_recall,
    precision_recall_from_counts,
    robust_sigma,
    transition_matrix_gof,
)


def test_chi_squared_matches_scipy_and_normalises() -> None:
    obs = np.array([18, 22, 30, 30])
    res = chi_squared_gof(obs, [1, 1, 1, 1])  # not normalised on purpose
    ref = sps.chisquare(obs)
    assert res.statistic == pytest.approx(ref.statistic) and res.p_value == pytest.approx(ref.pvalue)
    assert res.dof == 3 and res.min_expected == 25
    impossible = chi_squared_gof([1, 5], [0.0, 1.0])
    assert impossible.statistic == np.inf and impossible.p_value == 0.0


def test_transition_matrix_gof() -> None:
    rng = np.random.default_rng(0)
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    counts = np.vstack([rng.multinomial(2000, p) for p in probs])
    ok = transition_matrix_gof(counts, probs * 2.0)  # rows not summing to 1 are normalised
    assert ok.dof == 6 and ok.p_value > 0.001
    wrong = transition_matrix_gof(counts, probs[::-1])
    assert wrong.p_value < 1e-10
    with_empty_row = counts.copy()
    with_empty_row[1] = 0
    assert transition_matrix_gof(with_empty_row, probs).dof == 4


def test_precision_recall() -> None:
    pr = precision_recall({"a", "b", "c", "x"}, {"a", "b", "c", "d", "e"})
    assert (pr.precision, pr.recall) == pytest.approx((0.75, 0.6))
    assert pr.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert np.isnan(precision_recall([], ["a"]).precision)
    assert precision_recall_from_counts(9, 1, 0).recall == 1.0
    with pytest.raises(ValueError):
        precision_recall_from_counts(-1, 0, 0)


@pytest.mark.parametrize("method", ["pelt", "binseg"])
def test_change_points_found_at_mean_shifts(method: str) -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(100, 2, 300), rng.normal(108, 2, 200), rng.normal(102, 2, 400)])
    cps = detect_change_points(x, method=method)  # type: ignore[arg-type]
    assert len(cps) == 2
    assert abs(cps[0] - 300) <= 3 and abs(cps[1] - 500) <= 3


@pytest.mark.parametrize("method", ["pelt", "binseg"])
def test_change_points_rarely_fire_on_noise(method: str) -> None:
    rng = np.random.default_rng(2)
    hits = sum(bool(detect_change_points(rng.normal(0, 1, 600), method=method)) for _ in range(30))  # type: ignore[arg-type]
    assert hits <= 2


def test_change_points_edge_cases() -> None:
    assert detect_change_points([]) == []
    assert detect_change_points(np.ones(100)) == []
    step = np.r_[np.zeros(50), np.ones(50)]
    assert detect_change_points(step) == [50]  # noise-free step
    long = np.random.default_rng(3).normal(0, 1, 50_000)
    long[30_000:] += 1.0
    assert detect_change_points(long) == pytest.approx([30_000], abs=20)  # auto -> binary segmentation
    with pytest.raises(ValueError):
        detect_change_points([1.0, 2.0], method="other")  # type: ignore[arg-type]


def test_transition_matrix_gof_sums_scipys_row_tests() -> None:
    rng = np.random.default_rng(4)
    probs = np.array([[0.6, 0.4, 0.0], [0.2, 0.5, 0.3], [0.25, 0.25, 0.5]])
    counts = np.vstack([rng.multinomial(n, p) for n, p in zip((300, 500, 80), probs, strict=True)])
    res = transition_matrix_gof(counts, probs)
    rows = [sps.chisquare(counts[0, :2], counts[0].sum() * probs[0, :2])] + [
        sps.chisquare(counts[i], counts[i].sum() * probs[i]) for i in (1, 2)
    ]
    stat = sum(float(r.statistic) for r in rows)
    assert res.statistic == pytest.approx(stat) and res.dof == 1 + 2 + 2
    assert res.p_value == pytest.approx(float(sps.chi2.sf(stat, 5)))
    assert res.min_expected == pytest.approx(80 * 0.25)
    assert chi_squared_gof([7, 0], [1.0, 0.0]).p_value == 1.0  # the one possible outcome, every time
    with pytest.raises(ValueError):
        transition_matrix_gof(counts, probs[:2])


def _optimal_cost(z: np.ndarray, pen: float, min_size: int) -> float:
    """Brute-force optimal partitioning (O(n^2)): the target PELT solves."""
    n = z.size
    s1 = np.concatenate(([0.0], np.cumsum(z)))
    s2 = np.concatenate(([0.0], np.cumsum(z * z)))
    best = np.full(n + 1, np.inf)
    best[0] = -pen
    for t in range(min_size, n + 1):
        s = np.arange(0, t - min_size + 1)
        best[t] = np.min(best[s] + (s2[t] - s2[s]) - (s1[t] - s1[s]) ** 2 / (t - s) + pen)
    return float(best[n])


def _cost(z: np.ndarray, cps: list[int], pen: float) -> float:
    bounds = [0, *cps, z.size]
    return sum(
        float(((z[a:b] - z[a:b].mean()) ** 2).sum()) for a, b in itertools.pairwise(bounds)
    ) + pen * len(cps)


@pytest.mark.parametrize("seed", range(25))
def test_pelt_reaches_the_optimal_penalised_cost(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 300))
    x = rng.normal(0, 1, n)
    for start in rng.integers(0, n, int(rng.integers(0, 4))):
        x[start:] += rng.normal(0, 3)
    sigma = robust_sigma(x)
    z = (x - x.mean()) / sigma
    pen = 2 * np.log(n)
    cps = detect_change_points(x, method="pelt", min_size=1)
    assert _cost(z, cps, pen) == pytest.approx(_optimal_cost(z, pen, 1), abs=1e-6)
    # binary segmentation is greedy: its segmentation can never cost less than the optimum
    greedy = detect_change_points(x, method="binseg", min_size=1)
    assert _cost(z, greedy, pen) >= _optimal_cost(z, pen, 1) - 1e-6
