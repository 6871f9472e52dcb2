"""The Prometheus reader and bucket arithmetic of engram_harness.slo.prom."""

from __future__ import annotations

import math

import pytest

from engram_harness.slo.prom import Histogram, counters, histograms, parse_exposition

TEXT = """# HELP h a histogram
# TYPE h histogram
h_bucket{stage="engine",route="a",le="0.001"} 1
h_bucket{stage="engine",route="a",le="0.01"} 3
h_bucket{stage="engine",route="a",le="+Inf"} 4
h_sum{stage="engine",route="a"} 0.05
h_count{stage="engine",route="a"} 4
h_bucket{stage="engine",route="b",le="0.001"} 1
h_bucket{stage="engine",route="b",le="0.01"} 1
h_bucket{stage="engine",route="b",le="+Inf"} 1
h_sum{stage="engine",route="b"} 0.0005
h_count{stage="engine",route="b"} 1
other_total{lock="wal.io"} 7
other_total{lock="space.append"} 2.5
"""


def test_parse_keeps_only_the_named_families() -> None:
    s = parse_exposition(TEXT, ["other_"])
    assert s == {
        ("other_total", (("lock", "wal.io"),)): 7.0,
        ("other_total", (("lock", "space.append"),)): 2.5,
    }
    assert len(parse_exposition(TEXT)) == 12


def test_a_malformed_line_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_exposition('h_sum 1\nh_sum{x="1"} notanumber\n')


def test_histograms_sum_series_that_share_the_label() -> None:
    h = histograms(parse_exposition(TEXT), "h", "stage")["engine"]
    assert h.le == (0.001, 0.01, math.inf)
    assert h.cumulative == (2.0, 4.0, 5.0)
    assert h.count == 5 and h.sum == pytest.approx(0.0505)
    assert counters(parse_exposition(TEXT), "other_total", "lock") == {"wal.io": 7.0, "space.append": 2.5}


def test_difference_and_quantile_interpolate_like_prometheus() -> None:
    before = Histogram((1.0, 2.0, math.inf), (10.0, 10.0, 10.0), 5.0, 10.0)
    after = Histogram((1.0, 2.0, math.inf), (10.0, 110.0, 110.0), 155.0, 110.0)
    d = after.minus(before)
    assert d.cumulative == (0.0, 100.0, 100.0) and d.count == 100
    assert d.mean == pytest.approx(1.5)
    assert d.quantile(0.5) == pytest.approx(1.5)  # halfway through the (1, 2] bucket
    assert d.quantile(0.99) == pytest.approx(1.99)
    with pytest.raises(ValueError, match="bounds changed"):
        after.minus(Histogram((1.0, math.inf), (0.0, 0.0), 0.0, 0.0))


def test_rank_in_the_inf_bucket_gives_the_largest_finite_bound_and_empty_is_nan() -> None:
    h = Histogram((1.0, 2.0, math.inf), (0.0, 1.0, 10.0), 100.0, 10.0)
    assert h.quantile(0.99) == 2.0
    empty = Histogram((1.0, math.inf), (0.0, 0.0), 0.0, 0.0)
    assert math.isnan(empty.quantile(0.5)) and math.isnan(empty.mean)
