"""The server-side latency budget of a window, by stage, from two scrapes of engramd's /metrics.

engramd observes ``engram_http_request_stage_seconds{stage}`` for every matched request, once per
stage the request went through: ``receive`` (reading the body), ``queue`` (admission wait and
worker-pool queue), ``parse`` (decoding the body), ``engine`` (the handler's engine work, excluding
parse, WAL sync and serialise), ``wal_sync`` (waiting for the WAL's fsync) and ``serialise``
(building the response). The difference of two scrapes is what the window observed; a stage's
share is its time over the time of every stage, so a missed window names where its time went.
The engine's lock-wait counters (``engram_lock_wait_seconds_total{lock}``) are differenced the
same way and say which lock class the engine stage waited on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from engram_harness.slo.prom import Histogram, Samples, counters, histograms

STAGE_METRIC = "engram_http_request_stage_seconds"
REQUEST_METRIC = "engram_http_request_duration_seconds"
LOCK_WAIT_METRIC = "engram_lock_wait_seconds_total"
LOCK_CONTENDED_METRIC = "engram_lock_contended_total"
STAGES = ("receive", "queue", "parse", "engine", "wal_sync", "serialise")
#: the families a run scrapes every second for the budget (prefixes for :func:`parse_exposition`)
FAMILIES = (STAGE_METRIC, REQUEST_METRIC, "engram_lock_")


@dataclass(frozen=True)
class StageRow:
    stage: str
    count: float  # requests that went through the stage in the window
    mean_ms: float
    p99_ms: float  # from the buckets (histogram_quantile), so as coarse as the bucket layout
    total_s: float
    share: float  # of the summed time of every stage


@dataclass(frozen=True)
class StageBudget:
    rows: Sequence[StageRow]
    requests: float  # requests the server timed end to end in the window (every route)
    request_mean_ms: float
    lock_wait_s: Mapping[str, float] = field(default_factory=dict)
    lock_contended: Mapping[str, float] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        """Whether the server exposes the stage histograms at all (and observed something)."""
        return any(r.count > 0 for r in self.rows)

    @property
    def observed(self) -> float:
        """Requests the stage histograms saw (the most of any stage: every request has some stage)."""
        return max((r.count for r in self.rows), default=0.0)

    def dominant(self) -> StageRow | None:
        """The stage with the largest share of the window's time (None when nothing was observed)."""
        rows = [r for r in self.rows if r.total_s > 0]
        return max(rows, key=lambda r: r.total_s) if rows else None

    def top_lock(self) -> tuple[str, float] | None:
        waited = [(k, v) for k, v in self.lock_wait_s.items() if v > 0]
        return max(waited, key=lambda kv: kv[1]) if waited else None

    def describe(self) -> str:
        """``engine 61% (mean 0.31 ms), wal_sync 30%...; locks: space.append 0.12 s``."""
        if not self.available:
            return "no stage histograms observed"
        rows = sorted((r for r in self.rows if r.count > 0), key=lambda r: -r.total_s)
        text = ", ".join(
            f"{r.stage} {100 * r.share:.0f}% (mean {r.mean_ms:.3f} ms, P99 {r.p99_ms:.2f} ms)" for r in rows
        )
        lock = self.top_lock()
        return text + (f"; most lock wait: {lock[0]} {lock[1]:.3f} s" if lock else "")


def _merge(hists: Mapping[str, Histogram]) -> Histogram | None:
    """Every series of a family merged (their buckets line up: one layout per family)."""
    items = list(hists.values())
    if not items:
        return None
    le = items[0].le
    same = [h for h in items if h.le == le]
    return Histogram(
        le,
        tuple(sum(h.cumulative[i] for h in same) for i in range(len(le))),
        sum(h.sum for h in same),
        sum(h.count for h in same),
    )


def stage_budget(before: Samples, after: Samples, stages: Sequence[str] = STAGES) -> StageBudget:
    """The budget of what the server observed between the scrapes ``before`` and ``after``."""
    b = histograms(before, STAGE_METRIC, "stage")
    a = histograms(after, STAGE_METRIC, "stage")
    diffs = {s: h.minus(b.get(s)) for s, h in a.items()}
    total = sum(max(d.sum, 0.0) for d in diffs.values())
    names = list(stages) + sorted(s for s in diffs if s not in stages)
    rows = []
    for s in names:
        d = diffs.get(s)
        if d is None:
            rows.append(StageRow(s, 0.0, math.nan, math.nan, 0.0, math.nan))
            continue
        rows.append(StageRow(s, d.count, 1e3 * d.mean, 1e3 * d.quantile(0.99), d.sum,
                             d.sum / total if total > 0 else math.nan))  # fmt: skip
    req_after = _merge(histograms(after, REQUEST_METRIC, "route"))
    req_before = _merge(histograms(before, REQUEST_METRIC, "route"))
    req = req_after.minus(req_before) if req_after is not None and (req_before is None or req_before.le == req_after.le) else None  # fmt: skip
    wait_b, wait_a = counters(before, LOCK_WAIT_METRIC, "lock"), counters(after, LOCK_WAIT_METRIC, "lock")
    cont_b, cont_a = (
        counters(before, LOCK_CONTENDED_METRIC, "lock"),
        counters(after, LOCK_CONTENDED_METRIC, "lock"),
    )
    return StageBudget(
        rows=rows,
        requests=req.count if req is not None else 0.0,
        request_mean_ms=1e3 * req.mean if req is not None else math.nan,
        lock_wait_s={k: v - wait_b.get(k, 0.0) for k, v in wait_a.items()},
        lock_contended={k: v - cont_b.get(k, 0.0) for k, v in cont_a.items()},
    )


def format_budgets(budgets: Sequence[tuple[str, StageBudget]], stages: Sequence[str] = STAGES) -> str:
    """One line per window: each stage's mean / P99 (ms) and share, then the top lock class."""
    head = f"{'window':>8} " + " ".join(f"{s:>22}" for s in stages) + "  top lock wait"
    lines = [head, f"{'':>8} " + " ".join(f"{'mean/P99 ms (share)':>22}" for _ in stages)]
    for label, bud in budgets:
        by = {r.stage: r for r in bud.rows}
        cells = []
        for s in stages:
            r = by.get(s)
            if r is None or r.count <= 0:
                cells.append(f"{'-':>22}")
            else:
                cells.append(f"{f'{r.mean_ms:.3f}/{r.p99_ms:.2f} ({100 * r.share:.0f}%)':>22}")
        lock = bud.top_lock()
        lines.append(f"{label:>8} " + " ".join(cells) + (f"  {lock[0]} {lock[1]:.3f} s" if lock else "  -"))
    return "\n".join(lines)
