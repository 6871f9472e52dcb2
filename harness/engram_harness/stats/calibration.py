"""Calibration of :func:`engram_harness.stats.compare`: false-alarm rate on A/A and power on an injected slowdown.

:func:`calibrate` draws ``n_trials`` pairs of samples from a *sample source* and runs two comparisons per
trial:

* A/A: ``before`` and ``after`` both drawn from the source unchanged - every ``regression=True`` is a false
  alarm;
* A/B: ``after`` drawn from the source and then made worse by ``slowdown`` - latencies multiplied by
  ``1 + slowdown``, throughputs by ``1 - slowdown`` - every ``regression=True`` is a detection.

A sample source is a callable ``source(rng, n) -> 1-D array`` or an array of recorded values (treated as
:func:`pooled_source`). Synthetic shapes (:func:`lognormal_latency_source`) check the statistics; recorded
engine latencies (:func:`pooled_source`, :func:`runs_source`) check them on the real shape. Note that iid
draws from one pool only calibrate the *statistics*: it cannot see run-to-run drift of a real machine. Feed
:func:`runs_source` several independently recorded runs to include that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as _sps

from ._validation import SeedLike, as_sample, rng_from
from .verdict import DEFAULT_N_BOOT, DEFAULT_SAMPLE_SIZE, Metric, compare

__all__ = [
    "CalibrationResult",
    "SampleSource",
    "calibrate",
    "lognormal_latency_source",
    "pooled_source",
    "runs_source",
]

SampleSource = Callable[[np.random.Generator, int], ArrayLike]


@dataclass(frozen=True)
class CalibrationResult:
    """Rates measured by :func:`calibrate`, with exact (Clopper-Pearson) 95% bounds.

    ``false_alarm_upper`` is a one-sided 95% upper bound on the true A/A false-alarm rate and
    ``detection_lower`` a one-sided 95% lower bound on the true detection rate.
    """

    n_trials: int
    sample_size: int
    slowdown: float
    alpha: float
    threshold: float
    metric: str
    false_alarms: int
    detections: int
    false_alarm_rate: float
    detection_rate: float
    false_alarm_upper: float
    detection_lower: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """One-sided ``level`` bounds (lower, upper) of a proportion: each end of the exact two-sided
    interval at ``2 * level - 1`` (``scipy.stats.binomtest(...).proportion_ci``)."""
    ci = _sps.binomtest(k, n).proportion_ci(confidence_level=2.0 * level - 1.0, method="exact")
    return float(ci.low), float(ci.high)


def lognormal_latency_source(
    *,
    median: float = 250.0,
    sigma: float = 0.4,
    tail_fraction: float = 0.02,
    tail_alpha: float = 1.5,
    quantum: float | None = None,
) -> SampleSource:
    """A synthetic latency distribution: a log-normal body with a Pareto tail.

    With probability ``1 - tail_fraction`` a value is ``median * exp(sigma * Z)``; otherwise it is a Pareto
    (shape ``tail_alpha``, infinite variance for ``tail_alpha <= 2``) draw starting at the body's P99 -
    stalls, page faults and lock waits. ``quantum`` rounds values up to a multiple (e.g. 1.0 for integer
    microseconds, which creates ties like a histogram does).
    """
    if median <= 0 or sigma <= 0 or not 0 <= tail_fraction < 1 or tail_alpha <= 0:
        raise ValueError("need median > 0, sigma > 0, 0 <= tail_fraction < 1, tail_alpha > 0")
    start = median * float(np.exp(sigma * 2.3263478740408408))  # body P99

    def source(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        values = median * np.exp(sigma * rng.standard_normal(n))
        tail = rng.random(n) < tail_fraction
        k = int(tail.sum())
        if k:
            values[tail] = start * (1.0 + rng.pareto(tail_alpha, k))
        if quantum is not None:
            values = np.ceil(values / quantum) * quantum
        return values

    return source


def pooled_source(samples: ArrayLike) -> SampleSource:
    """Draws from one pool of recorded values: without replacement when the pool holds at least ``n``
    values, otherwise with replacement. Two draws are then iid from the pool's empirical distribution."""
    pool = as_sample(samples, "samples")

    def source(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        return rng.choice(pool, size=n, replace=n > pool.size)

    return source


def runs_source(runs: Sequence[ArrayLike]) -> SampleSource:
    """Draws ``n`` values from one randomly chosen recorded run per call (as :func:`pooled_source` does).

    With runs recorded separately (different processes, ideally different times), A/A comparisons include
    the run-to-run variation a real gate faces. Two calls may pick the same run (probability 1/len(runs)).
    """
    pools = [as_sample(r, f"run {i}") for i, r in enumerate(runs)]
    if not pools:
        raise ValueError("runs_source needs at least one run")

    def source(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        pool = pools[int(rng.integers(len(pools)))]
        return rng.choice(pool, size=n, replace=n > pool.size)

    return source


def calibrate(
    sample_source: SampleSource | ArrayLike,
    n_trials: int = 200,
    slowdown: float = 0.05,
    *,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    alpha: float = 0.01,
    threshold: float = 0.05,
    metric: Metric = "latency",
    n_boot: int = DEFAULT_N_BOOT,
    seed: SeedLike = 0,
) -> CalibrationResult:
    """Measure the A/A false-alarm rate and the detection rate of ``compare`` for ``slowdown``.

    Each trial draws four independent samples of ``sample_size`` values (two for A/A, two for A/B) and
    calls :func:`engram_harness.stats.compare` with the given ``alpha``, ``threshold``, ``metric`` and ``n_boot``.
    Deterministic for a fixed ``seed`` (and a deterministic source).
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be positive, got {n_trials}")
    if not 0.0 <= slowdown < 1.0:
        raise ValueError(f"slowdown must be in [0, 1), got {slowdown}")
    source: SampleSource = sample_source if callable(sample_source) else pooled_source(sample_source)
    rng = rng_from(seed)
    factor = 1.0 + slowdown if metric == "latency" else 1.0 - slowdown

    def draw() -> NDArray[np.float64]:
        return as_sample(source(rng, sample_size), "source output", min_size=sample_size)

    false_alarms = 0
    detections = 0
    for _ in range(n_trials):
        kw: dict[str, Any] = {"alpha": alpha, "threshold": threshold, "metric": metric, "n_boot": n_boot}
        if compare(draw(), draw(), seed=rng, **kw).regression:
            false_alarms += 1
        if compare(draw(), draw() * factor, seed=rng, **kw).regression:
            detections += 1
    return CalibrationResult(
        n_trials=n_trials,
        sample_size=sample_size,
        slowdown=slowdown,
        alpha=alpha,
        threshold=threshold,
        metric=metric,
        false_alarms=false_alarms,
        detections=detections,
        false_alarm_rate=false_alarms / n_trials,
        detection_rate=detections / n_trials,
        false_alarm_upper=_clopper_pearson(false_alarms, n_trials)[1],
        detection_lower=_clopper_pearson(detections, n_trials)[0],
    )
