from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engram_harness.scenarios import KeyPopularity, sample_zipf, zipf_pmf


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 10_000), s=st.floats(0.0, 3.0), seed=st.integers(0, 1000))
def test_zipf_is_bounded(n: int, s: float, seed: int) -> None:
    keys = sample_zipf(np.random.default_rng(seed), 2000, n, s)
    assert keys.min() >= 0 and keys.max() < n


def test_zipf_frequencies_follow_the_pmf() -> None:
    n, s, size = 100, 1.0, 200_000
    keys = sample_zipf(np.random.default_rng(1), size, n, s)
    freq = np.bincount(keys, minlength=n) / size
    assert np.allclose(freq[:5], zipf_pmf(n, s)[:5], rtol=0.05)


def test_hotspot_and_uniform() -> None:
    rng = np.random.default_rng(2)
    hot = KeyPopularity(distribution="hotspot", hot_keys=1, hot_probability=0.5).sample(rng, 100_000, 1000)
    assert abs((hot == 0).mean() - 0.5) < 0.01
    uni = KeyPopularity().sample(rng, 100_000, 10)
    assert set(np.unique(uni)) == set(range(10))
