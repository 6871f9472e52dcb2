"""Ramp rates, stop rules, breaking point, sustainable rate and knee on synthetic steps."""

from __future__ import annotations

import math

import pytest

from engram_harness.capacity.ramp import (
    Ramp,
    Step,
    StopRule,
    breaking_point,
    find_knee,
    geometric_rates,
    linear_rates,
    max_sustainable,
    refine,
    run_ramp,
)


def curve(rate: float, capacity: float = 3000.0) -> Step:
    """An M/M/1-like server: P99 grows as 1 / (1 - utilisation); errors past capacity."""
    u = rate / capacity
    p99 = 2.0 / (1 - u) if u < 1 else 5000.0
    err = 0.0 if u < 1 else 0.3
    return Step(offered=rate, achieved=min(rate, capacity), p99_ms=p99, error_rate=err, ops=int(rate))


def test_geometric_and_linear_rates() -> None:
    assert geometric_rates(100, 1.25, 200) == [100, 125, 156.2, 195.3]
    assert linear_rates(100, 100, 500) == [100, 200, 300, 400, 500]
    assert linear_rates(100, 100, 5000)[-1] == 5000 and len(linear_rates(100, 100, 5000)) == 50
    with pytest.raises(ValueError):
        geometric_rates(100, 1.0, 200)
    with pytest.raises(ValueError):
        linear_rates(100, 0, 200)


def test_stop_rule() -> None:
    rule = StopRule()
    assert rule.broken(Step(1000, 1000, 99.0, 0.05)) is None
    assert "P99" in (rule.broken(Step(1000, 1000, 101.0, 0.0)) or "")
    assert "error" in (rule.broken(Step(1000, 900, 5.0, 0.051)) or "")
    assert rule.broken(Step(1000, 0, math.nan, 1.0)) is not None  # nothing measured breaks it


def test_run_ramp_stops_at_the_first_broken_step() -> None:
    seen: list[float] = []

    def step(rate: float) -> Step:
        seen.append(rate)
        return curve(rate)

    ramp = run_ramp(step, linear_rates(500, 500, 10_000))
    assert ramp.broke and ramp.stop_reason.startswith("error rate")  # both rules broke; errors reported first
    assert seen == [500, 1000, 1500, 2000, 2500, 3000]  # 2 / (1 - 2500/3000) = 12 ms holds; 3000 breaks
    bp = breaking_point(ramp)
    # the crossing of 100 ms lies between the last rate that held and the first that broke
    assert 2500 < bp < 3000


def test_run_ramp_deadline_and_last_rate() -> None:
    t = iter(range(100))
    ramp = run_ramp(curve, [100, 200, 300], deadline_s=2, clock=lambda: float(next(t)))
    assert ramp.stop_reason == "deadline" and len(ramp.steps) == 1 and not ramp.broke
    assert math.isnan(breaking_point(ramp))
    ramp = run_ramp(curve, [100, 200])
    assert ramp.stop_reason == "last rate" and not ramp.broke


def test_breaking_point_interpolates_log_p99_and_errors() -> None:
    rule = StopRule()
    r = Ramp([Step(1000, 1000, 10.0, 0.0), Step(2000, 2000, 1000.0, 0.0)], "P99", rule)
    assert breaking_point(r) == pytest.approx(1500.0)  # log-midway: 100 ms is the geometric mean
    r = Ramp([Step(1000, 1000, 10.0, 0.0), Step(2000, 1500, 50.0, 0.15)], "errors", rule)
    assert breaking_point(r) == pytest.approx(1000 + 1000 * 0.05 / 0.15)
    r = Ramp([Step(1000, 0, math.nan, 1.0)], "errors", rule)
    assert math.isnan(breaking_point(r))  # below the ramp: not measured


def test_max_sustainable_needs_every_lower_step() -> None:
    steps = [curve(r) for r in (500, 1000, 1500, 2000, 2500)]
    # 2 / (1 - u) < 10 ms while u < 0.8: 2,000 holds (u = 0.67), 2,500 does not (12 ms)
    assert max_sustainable(steps, 10.0) == 2000
    lucky = [Step(500, 500, 20.0, 0.0), Step(1000, 1000, 5.0, 0.0)]
    assert max_sustainable(lucky, 10.0) == 0.0
    short = [Step(500, 400, 5.0, 0.0)]  # under 95 % delivered
    assert max_sustainable(short, 10.0) == 0.0
    errs = [Step(500, 500, 5.0, 0.001)]
    assert max_sustainable(errs, 10.0) == 0.0


def test_knee_is_where_latency_turns_up() -> None:
    steps = [curve(r) for r in range(300, 3000, 300)]
    knee = find_knee(steps)
    assert knee is not None and 1800 <= knee.offered <= 2700
    flat = [Step(r, r, 5.0, 0.0) for r in (100, 200, 300)]
    assert find_knee(flat) is None
    assert find_knee(steps[:2]) is None
    # latency rising from the first step (concave): no knee inside the ramp
    concave = [Step(r, r, p, 0.0) for r, p in ((800, 29.0), (1000, 76.0), (1250, 110.0), (1562, 130.0))]
    assert find_knee(concave) is None
    noisy = [Step(r, r, p, 0.0) for r, p in ((800, 29.3), (1000, 76.2), (1250, 91.1), (1562, 187.6))]
    assert (k := find_knee(noisy)) is not None and k.offered == 1250


def test_refine_bisects_the_bracket_and_narrows_the_breaking_point() -> None:
    # P99 crosses 100 ms at u = 0.98, i.e. 2,940 ops/s; x1.25 steps bracket it between 2,441 and 3,052
    coarse = run_ramp(curve, geometric_rates(800, 1.25, 20_000))
    assert coarse.bracket() == (coarse.steps[-2], coarse.steps[-1])
    seen: list[float] = []

    def step(rate: float) -> Step:
        seen.append(rate)
        return curve(rate)

    fine = refine(step, run_ramp(curve, geometric_rates(800, 1.25, 20_000)), 3)
    assert len(seen) == 3 and all(2441 < r < 3052 for r in seen)
    lo, hi = fine.bracket()
    assert lo.offered < 2940 < hi.offered and hi.offered / lo.offered <= 1.25 ** (1 / 8) * 1.001
    # the refined estimate is nearer the true crossing than the coarse one
    assert abs(breaking_point(fine) - 2940) <= abs(breaking_point(coarse) - 2940)
    assert refine(step, Ramp([curve(4000)], "P99", StopRule()), 2).refinement == []  # broke at once
