"""RSS growth, CPU share, consolidation cadence and the process sampler (engram_harness.slo)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from engram_harness.slo.sampler import ProcessSampler, rss_bytes
from engram_harness.slo.trends import cadence, cpu_share, cycle_ends, rss_growth

MIB = 2**20


def test_theil_sen_finds_a_one_percent_per_hour_growth_through_noise_and_outliers() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(0, 3600.0)
    level = 500 * MIB * (1 + 0.01 * t / 3600) + rng.normal(0, 0.2 * MIB, t.size)
    level[::97] += 50 * MIB  # allocator spikes
    level[:300] -= 40 * MIB  # warm-up, excluded
    g = rss_growth(t, level, warmup_s=300)
    assert g.pct_per_h == pytest.approx(1.0, abs=0.1)
    flat = rss_growth(t, 500 * MIB + rng.normal(0, 0.2 * MIB, t.size), warmup_s=300)
    assert abs(flat.pct_per_h) < 0.1


def test_too_few_points_after_warm_up_measure_nothing() -> None:
    g = rss_growth([0, 1, 2, 3], [1, 2, 3, 4], warmup_s=1)
    assert math.isnan(g.pct_per_h) and g.n == 3


def test_cpu_share() -> None:
    assert cpu_share(96.0, 60.0, 2) == pytest.approx(0.8)
    assert math.isnan(cpu_share(1.0, 0.0, 2))


def test_cadence_pools_intervals_per_space() -> None:
    a = cycle_ends([0, 0, 100.0, 100.0, 160.5, 160.5, 224.0])
    assert list(a) == [100.0, 160.5, 224.0]
    b = cycle_ends([103.0, 163.0, 223.0])
    c = cadence([a, b], target_s=60, tolerance_s=2)
    assert c.cycles == 4 and c.within == 3 and c.fraction_within == pytest.approx(0.75)
    assert "3/4 intervals" in c.describe()
    assert math.isnan(cadence([[5.0]], target_s=60, tolerance_s=2).fraction_within)


def test_sampler_reads_rss_and_cpu_of_a_process() -> None:
    assert rss_bytes(os.getpid()) > MIB
    with ProcessSampler(os.getpid(), None, period_s=0.01, max_samples=5) as s:
        for _ in range(200):  # bounded wait for the 5 samples
            if len(s.samples) >= 5:
                break
            s._stop.wait(0.01)
    assert len(s.samples) == 5
    assert all(x.scrape == -1 and x.rss > 0 for x in s.samples)
    assert s.samples[-1].cpu_s >= s.samples[0].cpu_s
