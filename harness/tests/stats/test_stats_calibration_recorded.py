"""Calibration of the regression verdict on real latencies recorded from the engine.

Requirement (issue 5): over 200 simulated A/A comparisons the false-alarm rate stays at or below 1%,
and an injected 5% slowdown is flagged in at least 90% of comparisons at the default sample size,
using latency samples recorded from the engine rather than only synthetic distributions.

The pools are per-call wall times of ``Space.remember`` and ``Space.search`` measured here, in this
process (a few thousand of each, with whatever tail this machine produces). Resampling one pool
calibrates the statistics on the real shape (ties, skew, stalls); run-to-run drift of a machine is
what the A/B-interleaved gate (``nox -s gate``) is for, not something a pool can show.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
import pytest

import engram
from engram_harness.stats import DEFAULT_SAMPLE_SIZE, calibrate, pooled_source, quantile

POOL = 3000  # recorded calls per operation type
DIM = 128


@pytest.fixture(scope="module")
def recorded() -> dict[str, npt.NDArray[np.float64]]:
    """Wall time (µs) of each remember and search call against a growing in-memory space."""
    rng = np.random.default_rng(2026)
    centres = rng.standard_normal((10, DIM)).astype(np.float32)
    vectors = centres[rng.integers(10, size=2 * POOL)] + 0.3 * rng.standard_normal((2 * POOL, DIM)).astype(
        np.float32
    )
    out: dict[str, list[float]] = {"remember": [], "search": []}
    with engram.Engine(path=None, dim=DIM) as eng:
        sp = eng.create_space("calibration")
        clock = time.perf_counter_ns
        for v in vectors[:POOL]:
            t0 = clock()
            sp.remember(v, content="x")
            out["remember"].append((clock() - t0) / 1e3)
        for v in vectors[POOL:]:
            t0 = clock()
            sp.search(v, k=10)
            out["search"].append((clock() - t0) / 1e3)
    return {op: np.asarray(v, dtype=np.float64) for op, v in out.items()}


def test_pools_are_real_engine_latencies(recorded: dict[str, npt.NDArray[np.float64]]) -> None:
    for op, pool in recorded.items():
        assert pool.size == POOL, op
        assert np.all(pool > 0), f"{op}: a call took no measurable time"
        assert np.unique(pool).size > POOL // 10, f"{op}: pool has almost no distinct values"


@pytest.mark.parametrize("op", ["search", "remember"])
def test_recorded_latencies_meet_calibration_requirements(
    recorded: dict[str, npt.NDArray[np.float64]], op: str
) -> None:
    pool = recorded[op]
    r = calibrate(pooled_source(pool), n_trials=200, slowdown=0.05, seed=20261123)
    shape = f"{op} pool: median {quantile(pool, 0.5):.1f} µs, P99 {quantile(pool, 0.99):.1f} µs"
    print(f"{shape}: {r.false_alarms}/200 A/A false alarms, {r.detections}/200 detections of +5%")
    assert r.sample_size == DEFAULT_SAMPLE_SIZE and r.n_trials == 200
    assert r.false_alarm_rate <= 0.01, f"{shape}; {r}"
    assert r.detection_rate >= 0.90, f"{shape}; {r}"
