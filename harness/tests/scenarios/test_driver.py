from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from engram_harness.driver import ABANDONED, NOT_STARTED, InMemoryTarget, OpenLoopDriver
from engram_harness.scenarios import Scenario, build_schedule


class Stall:
    """Hook that stalls the ``at``-th call for ``seconds`` and raises on chosen calls."""

    def __init__(self, at: int = -1, seconds: float = 0.0, fail: dict[int, Exception] | None = None) -> None:
        self.at, self.seconds, self.fail = at, seconds, fail or {}
        self.n = 0
        self.lock = threading.Lock()

    def __call__(self, name: str) -> None:
        with self.lock:
            i = self.n
            self.n += 1
        if i == self.at:
            time.sleep(self.seconds)
        if i in self.fail:
            raise self.fail[i]


def test_latency_is_measured_from_the_intended_start(scenario_factory: Callable[..., Scenario]) -> None:
    # 200 ops/s for 1 s with one worker; call 20 stalls 300 ms: everything queued behind it waits
    sched = build_schedule(scenario_factory(arrival='pattern = "constant"\nrate = 200', duration=1))
    target = InMemoryTarget(8, hook=Stall(at=20, seconds=0.3))
    res = OpenLoopDriver(target, workers=1).run(sched)
    assert res.errors == 0 and len(res) == 200
    lat_ms = res.latency_ns / 1e6
    assert lat_ms[20] >= 300
    # op 30 was due 50 ms after op 20 started: it waited at least ~250 ms although it took microseconds
    assert lat_ms[30] >= 200
    assert np.all(lat_ms[21:60] >= 300 - (np.arange(21, 60) - 20) * 5 - 5)
    service = res.latency_ns - (res.actual_start_ns - res.intended_start_ns)
    assert np.median(service[21:60]) < 20e6  # the delay is queueing, not service time
    assert np.median(lat_ms[150:]) < 20  # and the backlog drains
    assert res.wall_time_s == pytest.approx(1.0, abs=0.2)


def test_errors_are_counted_and_classified(scenario_factory: Callable[..., Scenario]) -> None:
    sched = build_schedule(scenario_factory(arrival='pattern = "constant"\nrate = 500', duration=0.2))
    fail = {3: KeyError("gone"), 4: ValueError("bad"), 7: ValueError("worse")}
    res = OpenLoopDriver(InMemoryTarget(8, hook=Stall(fail=fail)), workers=1).run(sched)
    assert res.error_counts() == {"KeyError": 1, "ValueError": 2}
    assert res.errors == 3 and res.error_rate == pytest.approx(3 / len(res))
    assert res.error_samples["ValueError"] == "bad"
    table = res.error_table()
    assert table["count"].sum() == 3
    assert res.op_summary().set_index("op").loc["all", "errors"] == 3


def test_deadline_bounds_the_run(scenario_factory: Callable[..., Scenario]) -> None:
    # one worker stuck for 2 s on the first call, a lag budget of 0.2 s and a drain of 0.3 s
    sched = build_schedule(scenario_factory(arrival='pattern = "constant"\nrate = 100', duration=0.5))
    target = InMemoryTarget(8, hook=Stall(at=0, seconds=2.0))
    t0 = time.monotonic()
    res = OpenLoopDriver(target, workers=1, queue_depth=2, max_lag_s=0.2, drain_timeout_s=0.3).run(sched)
    assert time.monotonic() - t0 < 1.8
    counts = res.error_counts()
    assert counts.get(ABANDONED, 0) == 1 and counts.get(NOT_STARTED, 0) > 0
    assert res.errors == len(res)  # every operation accounted for, none dropped
    assert res.latency_ns[0] >= 0.9e9  # abandoned: a lower bound on its latency


def test_all_operation_types_reach_the_target(scenario_factory: Callable[..., Scenario]) -> None:
    ops = "remember = 0.3\nrecall_episodic = 0.1\nrecall_semantic = 0.1\nrecall_blended = 0.1\nsearch = 0.1\n"
    ops += "spread = 0.1\ncomplete = 0.1\nconsolidate = 0.1"
    sched = build_schedule(
        scenario_factory(arrival='pattern = "constant"\nrate = 1000', operations=ops, duration=0.3)
    )
    target = InMemoryTarget(8)
    res = OpenLoopDriver(target, workers=2, progress=lambda done, total: None).run(sched)
    assert res.errors == 0
    assert set(target.calls) == {"remember", "recall", "search", "spread", "complete", "consolidate"}
    assert sum(target.calls.values()) == len(sched)
