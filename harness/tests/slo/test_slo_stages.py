"""The per-window stage budget from two scrapes (engram_harness.slo.stages)."""

from __future__ import annotations

import math

import pytest

from engram_harness.slo.prom import parse_exposition
from engram_harness.slo.stages import format_budgets, stage_budget


def scrape(engine: tuple[int, float], wal: tuple[int, float], requests: int, lock_wait: float) -> str:
    lines = []
    for stage, (n, total) in (("engine", engine), ("wal_sync", wal)):
        lines += [
            f'engram_http_request_stage_seconds_bucket{{stage="{stage}",le="0.001"}} {n}',
            f'engram_http_request_stage_seconds_bucket{{stage="{stage}",le="+Inf"}} {n}',
            f'engram_http_request_stage_seconds_sum{{stage="{stage}"}} {total}',
            f'engram_http_request_stage_seconds_count{{stage="{stage}"}} {n}',
        ]
    route = 'method="POST",route="/r",status="200"'
    lines += [
        f'engram_http_request_duration_seconds_bucket{{{route},le="0.0005"}} {requests}',
        f'engram_http_request_duration_seconds_bucket{{{route},le="+Inf"}} {requests}',
        f"engram_http_request_duration_seconds_sum{{{route}}} {requests * 0.002}",
        f"engram_http_request_duration_seconds_count{{{route}}} {requests}",
        f'engram_lock_wait_seconds_total{{lock="wal.io"}} {lock_wait}',
        'engram_lock_wait_seconds_total{lock="space.records"} 0.5',
    ]
    return "\n".join(lines) + "\n"


def test_budget_differences_two_scrapes_and_names_the_biggest_stage() -> None:
    before = parse_exposition(scrape((100, 0.1), (40, 0.2), 100, 1.0))
    after = parse_exposition(scrape((300, 0.2), (140, 0.5), 300, 1.25))
    b = stage_budget(before, after)
    rows = {r.stage: r for r in b.rows}
    assert rows["engine"].count == 200 and rows["engine"].mean_ms == pytest.approx(0.5)
    assert rows["wal_sync"].share == pytest.approx(0.75)
    assert rows["parse"].count == 0 and math.isnan(rows["parse"].share)
    assert b.dominant() is not None and b.dominant().stage == "wal_sync"  # type: ignore[union-attr]
    assert b.available and b.observed == 200 and b.requests == 200
    assert b.top_lock() == ("wal.io", pytest.approx(0.25))
    assert "wal_sync 75%" in b.describe()
    assert "wal.io" in format_budgets([("w0", b)])


def test_without_stage_histograms_nothing_is_observed() -> None:
    text = scrape((1, 0.1), (1, 0.1), 5, 0.0)
    bare = parse_exposition("\n".join(ln for ln in text.splitlines() if "stage_seconds" not in ln))
    b = stage_budget(bare, bare)
    assert not b.available and b.observed == 0 and b.dominant() is None
    assert b.describe() == "no stage histograms observed"
