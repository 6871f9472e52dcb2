from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from workload_helpers import make

from engram_harness.scenarios import Op, Scenario, build_schedule, scenario_data
from engram_harness.vectors import source

POISSON = 'pattern = "poisson"\nlambda = 300'
MIX = "remember = 0.4\nrecall_episodic = 0.2\nsearch = 0.2\nspread = 0.1\ncomplete = 0.05\nconsolidate = 0.05"


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**64 - 1))
def test_same_seed_same_schedule(seed: int) -> None:
    a = build_schedule(make(arrival=POISSON, operations=MIX, seed=seed))
    b = build_schedule(make(arrival=POISSON, operations=MIX, seed=seed))
    assert a.digest() == b.digest()
    for name in ("start_ns", "op", "space", "key", "k", "threshold", "confidence"):
        assert np.array_equal(
            getattr(a, name), getattr(b, name), equal_nan=name in ("threshold", "confidence")
        )


def test_different_seed_different_schedule(scenario_factory: Callable[..., Scenario]) -> None:
    a = build_schedule(scenario_factory(arrival=POISSON, operations=MIX, seed=1))
    b = build_schedule(scenario_factory(arrival=POISSON, operations=MIX, seed=2))
    assert a.digest() != b.digest()


def test_schedule_contents(scenario_factory: Callable[..., Scenario]) -> None:
    sc = scenario_factory(
        operations=MIX, duration=100, extra="preload = 10\n[spaces]\ncount = 3\nweights = [1, 1, 2]"
    )
    s = build_schedule(sc)
    assert len(s) == 10_000 and np.all(np.diff(s.start_ns) > 0) and s.start_ns[-1] < s.duration_ns
    counts = s.counts()
    assert abs(counts["remember"] / len(s) - 0.4) < 0.02 and counts["recall_semantic"] == 0
    rem = s.op == Op.REMEMBER
    assert np.array_equal(s.key[rem], 10 + np.arange(rem.sum()))  # fresh items after the preload
    assert np.all(s.key[s.op == Op.CONSOLIDATE] == -1)
    queries = ~rem & (s.op != Op.CONSOLIDATE)
    assert s.key[queries].max() < 10 + rem.sum()
    assert np.all((s.k[s.op == Op.SEARCH] >= 5) & (s.k[s.op == Op.SEARCH] <= 50))
    thr = s.threshold[s.op == Op.RECALL_EPISODIC]
    assert np.all((thr >= 0.5) & (thr <= 0.9))
    assert np.bincount(s.space, minlength=3)[2] / len(s) == pytest.approx(0.5, abs=0.02)
    assert s.space_names == ("space_0", "space_1", "space_2")
    v = s.vectors(np.arange(20))
    has = s.key[:20] >= 0
    assert np.allclose(np.linalg.norm(v[has], axis=1), 1.0, atol=1e-5)


def test_profile_scale_compresses_time(scenario_factory: Callable[..., Scenario]) -> None:
    sc = scenario_factory(duration=100)
    assert len(build_schedule(sc, profile_scale=0.1)) == len(build_schedule(sc)) // 10
    with pytest.raises(ValueError):
        build_schedule(sc, profile_scale=0)


def test_time_of_day_phases(scenario_factory: Callable[..., Scenario]) -> None:
    ops = (
        "[[operations.phases]]\nhours = [0, 12]\nremember = 1\n"
        "[[operations.phases]]\nhours = [12, 24]\nsearch = 1"
    )
    sc = scenario_factory(operations=ops, duration=24, extra="[clock]\nday_seconds = 24")
    s = build_schedule(sc)
    first_half = s.start_ns < 12e9
    assert np.all(s.op[first_half] == Op.REMEMBER) and np.all(s.op[~first_half] == Op.SEARCH)


def test_embeddings_deterministic_and_clustered() -> None:
    spec = scenario_data(dim=32, clusters=4, sigma=0.05, seed=9)
    full = spec.vectors(np.arange(300))
    assert np.array_equal(spec.vectors([299, 5, 64]), full[[299, 5, 64]])
    assert full.dtype == np.float32 and np.allclose(np.linalg.norm(full, axis=1), 1, atol=1e-5)
    cl = spec.cluster_of(np.arange(300))
    centres = source(spec).centres
    assert np.all(centres >= -1) and np.all(centres <= 1)
    same = full[cl == cl[0]]
    assert (same @ same[0]).min() > 0.8  # sigma 0.05 keeps a cluster tight
    assert not np.array_equal(
        scenario_data(dim=32, seed=10).vectors([0]), scenario_data(dim=32, seed=9).vectors([0])
    )
