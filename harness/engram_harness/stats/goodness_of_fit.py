"""Chi-squared goodness of fit (``scipy.stats.chisquare``): category counts, and a realised transition
matrix against the one a workload simulation was meant to follow."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as _sps

__all__ = ["ChiSquaredResult", "chi_squared_gof", "transition_matrix_gof"]


@dataclass(frozen=True)
class ChiSquaredResult:
    """Pearson's chi-squared statistic, its degrees of freedom and upper-tail p-value.

    ``min_expected`` is the smallest expected count used: the chi-squared approximation is usually
    trusted when it is at least 5.
    """

    statistic: float
    dof: int
    p_value: float
    min_expected: float


def _row(observed: np.ndarray, probs: np.ndarray) -> tuple[float, int, float]:
    """Statistic, dof and smallest expected count of one multinomial row against ``probs``.

    Categories of probability zero carry no degree of freedom; a count in one is impossible under the
    model (infinite statistic). No observations: statistic 0 with no degrees of freedom.
    """
    total = float(observed.sum())
    if total == 0.0:
        return 0.0, 0, math.inf
    expected = total * probs / probs.sum()
    support = expected > 0
    dof = max(int(support.sum()) - 1, 0)
    min_expected = float(expected[support].min())
    if np.any(observed[~support] > 0):
        return math.inf, dof, min_expected
    if dof == 0:  # one possible outcome, and it happened every time
        return 0.0, 0, min_expected
    res = _sps.chisquare(observed[support], f_exp=expected[support])
    return float(res.statistic), dof, min_expected


def _p_value(stat: float, dof: int) -> float:
    """Upper-tail chi-squared p-value; an impossible observation (infinite statistic) gives 0."""
    if math.isinf(stat):
        return 0.0
    return 1.0 if dof == 0 else float(_sps.chi2.sf(stat, dof))


def _validate_counts(
    observed: ArrayLike, expected_probs: ArrayLike, ndim: int
) -> tuple[np.ndarray, np.ndarray]:
    obs = np.asarray(observed, dtype=np.float64)
    probs = np.asarray(expected_probs, dtype=np.float64)
    if obs.ndim != ndim or obs.shape != probs.shape:
        raise ValueError(
            f"observed and expected must have the same {ndim}-D shape, got {obs.shape} and {probs.shape}"
        )
    if not (np.all(np.isfinite(obs)) and np.all(np.isfinite(probs))):
        raise ValueError("counts and probabilities must be finite")
    if np.any(obs < 0) or np.any(probs < 0):
        raise ValueError("counts and probabilities must be non-negative")
    return obs, probs


def chi_squared_gof(observed: ArrayLike, expected_probs: ArrayLike) -> ChiSquaredResult:
    """Test observed category counts against expected probabilities (normalised to sum to 1).

    ``dof`` = number of categories with positive probability - 1. A count in a zero-probability category
    gives an infinite statistic and p = 0. Assumes independent observations (multinomial sampling).
    """
    obs, probs = _validate_counts(observed, expected_probs, 1)
    if probs.sum() <= 0:
        raise ValueError("expected probabilities sum to zero")
    stat, dof, min_exp = _row(obs, probs)
    return ChiSquaredResult(statistic=stat, dof=dof, p_value=_p_value(stat, dof), min_expected=min_exp)


def transition_matrix_gof(counts: ArrayLike, expected: ArrayLike) -> ChiSquaredResult:
    """Test observed transition counts ``counts[i, j]`` (from state i to j) against a transition matrix.

    Each row of ``expected`` is normalised to sum to 1 (source matrices whose rows do not sum to 1 are
    thus accepted), each row with observations contributes its chi-squared term, and the statistic and
    degrees of freedom are summed over rows. Conditioning on the visits to each state (fixed row totals)
    makes this the standard test of a Markov chain against known transition probabilities.
    """
    obs, probs = _validate_counts(counts, expected, 2)
    stat, dof, min_exp = 0.0, 0, math.inf
    for i in range(obs.shape[0]):
        if obs[i].sum() == 0:
            continue
        if probs[i].sum() <= 0:
            raise ValueError(f"row {i} of the expected matrix is all zero but has observations")
        s, d, m = _row(obs[i], probs[i])
        stat, dof, min_exp = stat + s, dof + d, min(min_exp, m)
    return ChiSquaredResult(statistic=stat, dof=dof, p_value=_p_value(stat, dof), min_expected=min_exp)
