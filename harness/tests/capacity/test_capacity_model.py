"""The capacity model's fits, held-out prediction and table, on synthetic points."""

from __future__ import annotations

import math

import pytest

from engram_harness.capacity import model


def test_linear_memory_fit_predicts_a_held_out_point() -> None:
    pts = [model.Point(n, 50e6 + 3500 * n) for n in (10_000, 100_000, 300_000)]
    f = model.fit(pts, log_n=False)
    assert f.slope == pytest.approx(3500) and f.r2() == pytest.approx(1.0)
    assert model.relative_error(f.predict(30_000), 50e6 + 3500 * 30_000) < 1e-9


def test_log_fit_and_errors() -> None:
    pts = [model.Point(n, 4000 - 200 * math.log(n)) for n in (2_500, 5_000, 15_000)]
    f = model.fit(pts, log_n=True)
    assert f.predict(10_000) == pytest.approx(4000 - 200 * math.log(10_000))
    with pytest.raises(ValueError):
        model.fit([model.Point(10, 1.0), model.Point(10, 2.0)], log_n=False)
    assert math.isnan(model.relative_error(1.0, math.nan))
    assert model.relative_error(115.0, 100.0) == pytest.approx(0.15)


def test_cores_and_table() -> None:
    mem = model.fit([model.Point(1, 1e8), model.Point(2, 1e8 + 4000)], log_n=False)
    cost = model.fit([model.Point(1_000, 500.0), model.Point(100_000, 500.0)], log_n=True)  # us per op
    cm = model.CapacityModel(mem, cost, {10.0: 0.5, 100.0: 0.8})
    assert cm.per_core(10_000) == pytest.approx(2000.0)
    # 1,000 ops/s at 2,000 per core, usable to half of saturation under 10 ms: 1 core
    assert cm.cores(10_000, 1000, 10.0) == pytest.approx(1.0)
    assert cm.cores(10_000, 4000, 100.0) == pytest.approx(2.5)
    assert math.isnan(cm.cores(10_000, 1000, 50.0))
    md = model.table(cm, [10_000], [1000, 4000], [10.0, 100.0])
    lines = md.splitlines()
    assert len(lines) == 2 + 4 and "| 10,000 | 4,000 | 100 | 2.50 | 3 |" in md


def test_cost_grows_with_log_n_and_never_gives_negative_throughput() -> None:
    cost = model.fit([model.Point(n, 100 + 50 * math.log(n)) for n in (2_500, 5_000, 15_000)], log_n=True)
    cm = model.CapacityModel(
        model.fit([model.Point(1, 0.0), model.Point(2, 1.0)], log_n=False), cost, {10.0: 1.0}
    )
    assert cm.per_core(10_000_000) == pytest.approx(1e6 / (100 + 50 * math.log(10_000_000)))
    assert cm.per_core(10_000_000) > 0


def test_table_says_when_no_rate_held_the_bound() -> None:
    mem = model.fit([model.Point(1, 1e8), model.Point(2, 1e8 + 4000)], log_n=False)
    cost = model.fit([model.Point(1_000, 500.0), model.Point(100_000, 500.0)], log_n=True)
    md = model.table(model.CapacityModel(mem, cost, {10.0: 0.0, 100.0: 0.8}), [10_000], [1000], [10.0, 100.0])
    assert "no measured rate held P99 < X" in md.splitlines()[2] and "| 1 |" in md.splitlines()[3]
