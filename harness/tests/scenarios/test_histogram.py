from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram_harness.driver import LatencyHistogram
from engram_harness.stats import quantile

QS = [0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999]


def _true(sorted_x: np.ndarray, q: float) -> float:
    """The exact order statistic (the one percentile definition) the histogram approximates."""
    return quantile(sorted_x, q)


def test_quantiles_within_hdr_error_bound() -> None:
    x = (np.random.default_rng(1).lognormal(12, 1.5, 200_003)).astype(np.int64) + 1_000
    h = LatencyHistogram()
    h.record(x)
    s = np.sort(x)
    assert h.relative_error == 1 / 2048
    for q in QS:
        assert h.quantile(q) == pytest.approx(_true(s, q), rel=h.relative_error)
        assert h.quantile(q) == pytest.approx(np.percentile(x, q * 100, method="inverted_cdf"), rel=2e-3)
    assert h.quantile(1.0) == x.max() and h.total == len(x) and h.overflow == 0
    assert h.mean_ns == pytest.approx(x.mean())


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.integers(1_000, 60_000_000_000), min_size=1, max_size=300),
    q=st.floats(0.0, 1.0),
)
def test_any_quantile_within_bound(values: list[int], q: float) -> None:
    h = LatencyHistogram()
    h.record(np.array(values))
    assert h.quantile(q) == pytest.approx(_true(np.sort(values), q), rel=h.relative_error)


def test_merge_equals_recording_everything() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.integers(1_000, 10**9, 5000), rng.integers(10**4, 10**7, 3000)
    ha, hb, hall = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    ha.record(a)
    hb.record(b)
    hall.record(np.concatenate([a, b]))
    merged = LatencyHistogram.merged([ha, hb])
    assert np.array_equal(merged.counts, hall.counts)
    assert (merged.total, merged.min_ns, merged.max_ns) == (hall.total, hall.min_ns, hall.max_ns)
    with pytest.raises(ValueError):
        ha.merge(LatencyHistogram(significant_digits=2))


def test_overflow_is_counted_not_dropped() -> None:
    h = LatencyHistogram()
    h.record([5_000, 61_000_000_000, 120_000_000_000, -3])
    assert h.total == 4 and h.overflow == 2 and h.min_ns == 0
    assert h.quantile(0.99) == 120_000_000_000  # a rank in the overflow reports the exact maximum
    assert h.count_above(10**10) == 2


def test_vectorised_equals_one_by_one_and_bucket_round_trip() -> None:
    x = np.random.default_rng(3).integers(1, 10**10, 500)
    hv, h1 = LatencyHistogram(), LatencyHistogram()
    hv.record(x)
    for v in x:
        h1.record([v])
    assert np.array_equal(hv.counts, h1.counts)
    low, width, count = hv.buckets()
    assert np.all(width <= np.maximum(low / 1024, 1))
    back = LatencyHistogram.from_buckets(low, count, min_ns=hv.min_ns, max_ns=hv.max_ns)
    assert np.array_equal(back.counts, hv.counts)
    assert LatencyHistogram().quantile(0.5) != LatencyHistogram().quantile(0.5)  # NaN when empty
