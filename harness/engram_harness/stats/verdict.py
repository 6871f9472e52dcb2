"""Before/after comparison of two performance samples: the regression verdict used by the gate.

Decision rule (documented here because the gate depends on it). With ``ratio`` = median(after) /
median(before) and its percentile-bootstrap confidence interval ``[low, high]`` at ``confidence``:

* ``significant``: the two-sided Mann-Whitney U p-value is below ``alpha``;
* ``worse``: the test's direction is the bad one - for ``metric="latency"`` (lower is better) ``after``
  tends to be larger (U / (n_before * n_after) > 0.5); for ``metric="throughput"`` (higher is better)
  ``after`` tends to be smaller;
* ``material``: a change of at least ``threshold`` in the bad direction is inside the interval, i.e. it is
  not ruled out by the data - latency: ``high >= 1 + threshold``; throughput: ``low <= 1 - threshold``;
* ``regression = significant and worse and material``.

Why not "point estimate > 1 + threshold": a true slowdown of exactly the threshold would then be flagged
only about half of the time. The rule above flags it with high power (see
:mod:`engram_harness.stats.calibration`), while a significant but demonstrably small change (the whole interval
below ``1 + threshold``, as happens with very large samples) is not a regression. Under H0 (A/A) the
false-alarm rate is at most ``alpha / 2``: only the bad tail of the two-sided test can trigger.

Assumptions: observations within and between samples are independent (per-request latencies from an
open-loop driver are close to that; per-second windows of a drifting run are not), and values are
non-negative with positive medians (ratios are scale-free). Quantiles use the inverted-CDF definition
(:mod:`engram_harness.stats.quantiles`); their bootstrap replicates are drawn exactly from order-statistic laws
(:func:`engram_harness.stats.bootstrap.bootstrap_quantile`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import SeedLike, as_sample, rng_from
from .bootstrap import bootstrap_quantile, percentile_interval
from .errors import SampleTooSmallError
from .hodges_lehmann import hodges_lehmann_shift
from .quantiles import order_statistic_rank
from .rank_sum import mann_whitney, min_attainable_p, minimum_other_size, minimum_sample_size

__all__ = ["DEFAULT_N_BOOT", "DEFAULT_SAMPLE_SIZE", "Metric", "Verdict", "compare"]

Metric = Literal["latency", "throughput"]

#: Per-sample size at which the calibration requirements (A/A false alarms <= 1%, a 5% slowdown flagged in
#: >= 90% of comparisons, at alpha=0.01 and threshold=0.05) are verified in ``tests/stats`` on log-normal
#: latency shapes with Pareto tails. Power depends on the spread of the body: at 5,000 per side the
#: default shape (sigma 0.4, 2% tail) already passes (~97%) but a wide one (sigma 0.6, 5% tail with
#: shape 1.2) only reaches ~86%; at 10,000 both reach >= 95%. A 60 s run at 1,000 ops/s gives 60,000.
DEFAULT_SAMPLE_SIZE = 10_000

#: Bootstrap replicates for the ratio intervals.
DEFAULT_N_BOOT = 2000


@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`compare`. Ratios are after / before; intervals are percentile bootstrap."""

    metric: str
    regression: bool
    significant: bool
    worse: bool
    material: bool
    alpha: float
    threshold: float
    confidence: float
    n_before: int
    n_after: int
    u_statistic: float
    p_value: float
    prob_after_greater: float
    hodges_lehmann_shift: float
    median_before: float
    median_after: float
    median_ratio: float
    median_ratio_ci: tuple[float, float]
    p99_before: float
    p99_after: float
    p99_ratio: float
    p99_ratio_ci: tuple[float, float]
    n_boot: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: intervals become ``[low, high]`` lists, non-finite floats become ``None``."""

        def clean(v: Any) -> Any:
            if isinstance(v, tuple | list):
                return [clean(e) for e in v]
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        return {k: clean(v) for k, v in asdict(self).items()}

    def summary(self) -> str:
        """One human-readable line, e.g. for a report table."""
        lo, hi = self.median_ratio_ci
        plo, phi = self.p99_ratio_ci
        status = "REGRESSION" if self.regression else "ok"
        return (
            f"{status}: {self.metric} median ratio {self.median_ratio:.4f} [{lo:.4f}, {hi:.4f}], "
            f"P99 ratio {self.p99_ratio:.4f} [{plo:.4f}, {phi:.4f}], Mann-Whitney p={self.p_value:.3g} "
            f"(alpha {self.alpha}), n={self.n_before}/{self.n_after}"
        )


def _check_sizes(n_before: int, n_after: int, alpha: float) -> None:
    if min_attainable_p(n_before, n_after) < alpha:
        return
    minimum = minimum_sample_size(alpha)
    hint = ""
    if n_before >= 1:
        hint = f" (or, keeping n_before={n_before}, at least n_after={minimum_other_size(n_before, alpha)})"
    raise SampleTooSmallError(
        f"samples too small to ever reach significance: with n_before={n_before} and n_after={n_after} the "
        f"smallest attainable two-sided Mann-Whitney p-value is {min_attainable_p(n_before, n_after):.3g}, "
        f"not below alpha={alpha}; need at least {minimum} values in each sample{hint}",
        n_before=n_before,
        n_after=n_after,
        alpha=alpha,
        minimum=minimum,
    )


def _ratio_with_ci(
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
    q: float,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
) -> tuple[float, float, float, tuple[float, float]]:
    qx = float(xs[order_statistic_rank(xs.size, q) - 1])
    qy = float(ys[order_statistic_rank(ys.size, q) - 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.float64(qy) / np.float64(qx))
        reps = bootstrap_quantile(ys, q, n_boot, rng) / bootstrap_quantile(xs, q, n_boot, rng)
    return qx, qy, ratio, percentile_interval(reps, confidence)


def compare(
    before: ArrayLike,
    after: ArrayLike,
    *,
    alpha: float = 0.01,
    threshold: float = 0.05,
    metric: Metric = "latency",
    confidence: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
    seed: SeedLike = 0,
) -> Verdict:
    """Compare two independent samples of a performance metric and decide whether ``after`` regressed.

    Args:
        before: 1-D sample of the baseline (e.g. per-request latencies, or per-second throughputs).
        after: 1-D sample of the candidate.
        alpha: significance level of the two-sided Mann-Whitney U test.
        threshold: relative change that counts as a regression (0.05 = 5%).
        metric: ``"latency"`` (higher is worse) or ``"throughput"`` (lower is worse).
        confidence: coverage of the bootstrap intervals of the median and P99 ratios.
        n_boot: bootstrap replicates.
        seed: seeds the bootstrap; the same inputs and seed give the same verdict.

    Returns:
        A :class:`Verdict`; see the module docstring for the decision rule.

    Raises:
        SampleTooSmallError: the sizes can never give ``p < alpha`` (e.g. fewer than 5 per side at 0.01).
        ValueError: non-1-D, non-finite or negative values, a non-positive median, or bad parameters.
    """
    if metric not in ("latency", "throughput"):
        raise ValueError(f"metric must be 'latency' or 'throughput', got {metric!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    x = as_sample(before, "before", min_size=0)
    y = as_sample(after, "after", min_size=0)
    _check_sizes(x.size, y.size, alpha)
    if np.any(x < 0) or np.any(y < 0):
        raise ValueError("compare expects non-negative values (latencies or throughputs)")
    xs = np.sort(x)
    ys = np.sort(y)
    rng = rng_from(seed)

    mw = mann_whitney(xs, ys)
    med_b, med_a, med_ratio, med_ci = _ratio_with_ci(xs, ys, 0.5, n_boot, confidence, rng)
    if med_b <= 0.0:
        raise ValueError("the median of 'before' is zero; ratios are undefined")
    p99_b, p99_a, p99_ratio, p99_ci = _ratio_with_ci(xs, ys, 0.99, n_boot, confidence, rng)

    significant = mw.p_value < alpha
    if metric == "latency":
        worse = mw.prob_after_greater > 0.5
        material = med_ci[1] >= 1.0 + threshold
    else:
        worse = mw.prob_after_greater < 0.5
        material = med_ci[0] <= 1.0 - threshold
    return Verdict(
        metric=metric,
        regression=bool(significant and worse and material),
        significant=bool(significant),
        worse=bool(worse),
        material=bool(material),
        alpha=alpha,
        threshold=threshold,
        confidence=confidence,
        n_before=int(x.size),
        n_after=int(y.size),
        u_statistic=mw.u_statistic,
        p_value=mw.p_value,
        prob_after_greater=mw.prob_after_greater,
        hodges_lehmann_shift=hodges_lehmann_shift(xs, ys),
        median_before=med_b,
        median_after=med_a,
        median_ratio=med_ratio,
        median_ratio_ci=med_ci,
        p99_before=p99_b,
        p99_after=p99_a,
        p99_ratio=p99_ratio,
        p99_ratio_ci=p99_ci,
        n_boot=n_boot,
    )
