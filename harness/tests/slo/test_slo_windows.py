"""Per-window latency quantiles and their SLO verdict (engram_harness.slo.windows)."""

from __future__ import annotations

import math

import numpy as np

from engram_harness.slo.windows import LatencySlo, format_windows, window_stats

MS = 1_000_000


def test_windows_take_the_worst_operation_type_and_name_the_misses() -> None:
    # window 0: search fast, remember slow; window 1: everything fast; a 0.2 s tail is dropped
    t = np.array([0.1, 0.2, 0.3, 0.4, 1.1, 1.2, 1.3, 1.4, 2.1]) * 1e9
    lat = np.array([1, 1, 30, 30, 1, 1, 1, 3, 100]) * MS
    op = np.array([1, 1, 0, 0, 1, 1, 0, 1, 0])
    ws = window_stats(t, lat, np.zeros(9, bool), op, ("remember", "search"), window_s=1.0, duration_s=2.2)
    assert len(ws) == 2
    w0, w1 = ws
    assert w0.count == 4 and w0.rate == 4.0
    assert w0.judged_ms["p50_ms"] == 30.0  # remember's P50, above the pooled P50 (1 ms)
    assert w0.pooled_ms["p50_ms"] == 1.0
    slo = LatencySlo(p50_ms=5, p95_ms=15, p99_ms=50, op_p99_ms={"search": 2.0})
    assert w0.misses(slo) == ["P50 30.00 ms >= 5", "P95 30.00 ms >= 15"]
    assert w1.misses(slo) == ["search P99 3.00 ms >= 2"]
    table = format_windows(ws, slo, {0: "biggest stage: wal_sync 80%"})
    assert "MISS P50" in table and "wal_sync" in table


def test_failed_operations_are_counted_not_timed_and_an_empty_window_misses() -> None:
    t = np.array([0.5, 0.6]) * 1e9
    ws = window_stats(t, np.array([1, -1]) * MS, np.array([False, True]), np.zeros(2, int), ("search",),
                      window_s=1.0, duration_s=2.0)  # fmt: skip
    assert ws[0].errors == 1 and ws[0].ok == 1
    assert ws[1].count == 0 and math.isnan(ws[1].judged_ms["p99_ms"])
    assert len(ws[1].misses(LatencySlo())) == 4  # nothing measured is never a pass
