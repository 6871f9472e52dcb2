"""Workflow 110 (plan numbering; master 112): latency budget under sustained production load.

What runs: a real engramd on a durable store in ``tmp_path`` (``--durability group``, the default,
since production is durable; ``--metrics-per-space`` so the per-space consolidation and memory
series are scraped), its background consolidation started at a 60 s interval through the admin API
(``POST /api/v1/consolidation/start``; engramd has no command-line flag for it), 768-d
memories preloaded over the batch route into the scenario's 4 spaces, then the C++ open-loop load
generator (``engram_harness.driver.native_http.run_http``, 16 keep-alive connections, latency from
each intended start; in 5-minute segments when the run's embeddings would not fit in memory at
once: 11 GiB for full's hour, 265 GiB for the soak's day, ``engram_harness.driver.segmented``) drives
``acceptance/scenarios/diurnal.toml``: the production day's shape
(rate = B x (1 + 2 x (1 + cos)/2): trough B at 03:00, peak 3 B at 14:00, mean 2 B, Poisson
arrivals) and its hour-banded production mix (remember / recall / search, 20-40 / 40-50 / 20-30 %),
hot-spot keys. The whole day is compressed into the run.

Rate: the scenario's own rates (B = 500: trough 500, mean 1,000, peak 1,500 ops/s; the mean is the
seeds' production load, the baseline's 1,000 ops/s), under half of what engramd sustains for the mix
on a quiet 2-core host (~3,400 ops/s, docs/performance.md "Serving over HTTP"), the load generator
sharing those cores. ``ENGRAM_SLO_RATE_SCALE`` scales them (e.g. 0.5 on a host other jobs share: at
load 9-11 from other builds the unscaled day queued for seconds with the server at 26-35 % CPU,
waiting for a core, which measures the neighbours rather than the server).

Judged, per window of the run (quick 15 s, full and soak 60 s), from the per-operation latencies:
P50 < 5 ms, P95 < 15 ms, P99 < 50 ms, each the maximum over operation types and never below the
pooled value (docs/acceptance.md decision 4), and vector-query (search) P99 < 2 ms; the worst window
of each is the check, with the windows that missed listed. Then the seeds' baseline budget in its
own window on the same server: ``acceptance/scenarios/baseline.toml`` (constant 1,000 ops/s,
50 / 42.5 / 7.5 %, space ``default``) for 10 s quick (the quick baseline's 10,000 operations) or
60 s full, P99 <= 0.526 ms. Known miss: over HTTP the P99 is milliseconds (docs/performance.md),
the gap issue 18 (engine performance) owns: ``xfail`` with the figure in quick, a failure in full.

Resources, sampled every second (``engram_harness.slo.sampler``): server CPU share = CPU seconds /
(wall x cores) < 80 % over the run; RSS growth < 1 %/h from a Theil-Sen fit after a warm-up (the
first quarter of the run, at most 30 min: allocator arenas, HNSW levels and WAL buffers settle).
The workload stores a memory in every third operation, so RSS grows with the data by design; the
physically meaningful reading of the 24 h plan's "RSS growth < 1 %/h" (docs/acceptance.md: take
the physically meaningful reading) is that memory the engine does not account for as data does not
grow: the check is on RSS minus the engine's accounted bytes (``engram_memory_bytes``), relative to
the RSS; the raw RSS growth is printed beside it. Judged in full and soak only: 1 %/h is 0.03 % of
the RSS over quick's 2 minutes, below what the warm-up alone moves; quick prints it. Consolidation cadence: the per-space
``engram_consolidation_last_run_timestamp_seconds`` (cycle ends) and ``engram_consolidator_cycles``
are read every second; intervals between cycles within 60 +/- 2 s for >= 95 % of cycles, judged in
full (>= 40 intervals in the hour); quick prints what it saw (one or two cycles) without a check.

Stage budget: ``engram_http_request_stage_seconds{stage}`` (receive, queue, parse, engine,
wal_sync, serialise) and the engine's lock-wait counters are scraped every second; the scrapes
nearest each window boundary (within half a second; the boundary is placed from the run's end and
its wall time) are differenced per window: per stage mean, P99 from the buckets and share of the
stage time, printed per window; a window that misses names its biggest stage. Checked: the stage
histograms saw >= 99 % of the requests the server timed over the run (fails while engramd lacks
them: nothing measured).

Sizes: quick 2 minutes (8 windows of 15 s), 10K memories preloaded, ~2.5 min in all with preload;
full 1 hour (60 windows of 60 s), 100K preloaded (~30 s over HTTP). The 24 h run (soak profile:
a real day, 60 s windows, 100K preloaded) is::

    CI=1 python -m pytest acceptance/service_levels/test_110_latency_budget.py --profile soak -q \\
        -p no:cacheprovider -rA -s

``ENGRAM_SLO_DURATION_S=<seconds>`` overrides the duration of any profile (the day is compressed
into it); ``-s`` shows the per-window tables as the run ends.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path

import numpy as np
import pytest

from engram.client import Client
from engram_harness.bench.http import ensure_spaces, server_command
from engram_harness.driver.native_http import HttpRun, preload_http
from engram_harness.driver.native_http import available as http_target_available
from engram_harness.driver.segmented import run_http_segmented
from engram_harness.scenarios import Scenario, build_schedule, load_scenario
from engram_harness.server import running_server_process
from engram_harness.slo import (
    LatencySlo,
    ProcessSampler,
    StageBudget,
    WindowStats,
    cadence,
    cpu_share,
    cycle_ends,
    format_windows,
    rss_growth,
    stage_budget,
    window_stats,
)
from engram_harness.slo.stages import FAMILIES, format_budgets
from engram_harness.suite import CheckRecorder, Profile, SessionResults, missing_component

pytestmark = pytest.mark.workflow

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
SLO = LatencySlo(p50_ms=5.0, p95_ms=15.0, p99_ms=50.0, op_p99_ms={"search": 2.0})
BASELINE_P99_MS = 0.526  # the seeds' budget at 1,000 ops/s (M18.1), never loosened
MAX_CPU_SHARE = 0.80
MAX_RSS_GROWTH_PCT_H = 1.0
CONSOLIDATION_S, CADENCE_TOL_S, CADENCE_SHARE = 60.0, 2.0, 0.95
CONNECTIONS = 16
SAMPLE_FAMILIES = (
    *FAMILIES,
    "engram_consolidation_last_run_timestamp_seconds",
    "engram_consolidator_cycles",
    "engram_memory_bytes",
)


def duration_s(profile: Profile) -> float:
    raw = os.environ.get("ENGRAM_SLO_DURATION_S", "")
    if raw:
        value = float(raw)
        if not value >= 60:
            raise ValueError(f"ENGRAM_SLO_DURATION_S={raw!r}: expected seconds >= 60")
        return value
    return float(profile.pick(quick=120, full=3600, soak=86400))


def rate_scale() -> float:
    raw = os.environ.get("ENGRAM_SLO_RATE_SCALE", "")
    value = float(raw) if raw else 1.0
    if not 0 < value <= 4:
        raise ValueError(f"ENGRAM_SLO_RATE_SCALE={raw!r}: expected a factor in (0, 4]")
    return value


def production_day(duration: float, preload: int, scale: float) -> Scenario:
    """diurnal.toml with its whole day compressed into ``duration``, its rates x ``scale`` and
    ``preload`` memories."""
    sc = load_scenario(SCENARIOS / "diurnal.toml")
    arrival = sc.arrival
    return dataclasses.replace(
        sc, duration_s=duration, preload=preload,
        arrival=dataclasses.replace(arrival, day_seconds=duration,  # type: ignore[call-arg]
                                    baseline_ops=arrival.baseline_ops * scale),  # type: ignore[attr-defined]
        clock=dataclasses.replace(sc.clock, day_seconds=duration),
    )  # fmt: skip


def timed_run(
    schedule_scenario: Scenario, url: str, pid: int, scale: float = 1.0
) -> tuple[HttpRun, float, float]:
    """Run a scenario's schedule; returns the run and the monotonic times of its start and end
    (start = return time minus the run's wall time: bodies serialised before the clock starts,
    up to 1 GiB, are not part of the run)."""
    schedule = dataclasses.replace(build_schedule(schedule_scenario, profile_scale=scale), preload=0)
    # In segments when the embeddings would not fit in memory at once (full: 11 GiB, soak: 265 GiB)
    run = run_http_segmented(schedule, url, connections=CONNECTIONS, server_pid=pid)
    end = time.monotonic()
    return run, end - run.result.wall_time_s, end


def window_budgets(sampler: ProcessSampler, t0: float, windows: list[WindowStats]) -> list[StageBudget]:
    out = []
    for w in windows:
        a = sampler.nearest(t0 + w.t_start_s)
        b = sampler.nearest(t0 + w.t_start_s + w.width_s)
        out.append(stage_budget(sampler.samples_at(a), sampler.samples_at(b)))
    return out


def test_latency_budget(profile: Profile, checks: CheckRecorder, session_results: SessionResults,
                        tmp_path: Path) -> None:  # fmt: skip
    if not http_target_available():
        missing_component(
            "engram built without the C++ HTTP load target (Boost): install libboost-dev and rebuild"
        )
    duration = duration_s(profile)
    window = float(profile.pick(quick=15, full=60))
    preload = int(profile.pick(quick=10_000, full=100_000))
    baseline_s = float(profile.pick(quick=10, full=60))
    warmup_s = min(0.25 * duration, 1800.0)
    scenario = production_day(duration, preload, rate_scale())
    baseline = load_scenario(SCENARIOS / "baseline.toml")
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()[0]

    t_start = time.monotonic()
    with running_server_process(
        tmp_path / "store", log_dir=tmp_path, command=server_command(), no_auth=True, dim=768,
        durability="group", log_level="warning", max_inflight=1024, metrics_per_space=True,
    ) as sp:  # fmt: skip
        pid = sp.proc.pid
        full_schedule = build_schedule(scenario)
        ensure_spaces(sp.url, full_schedule, 768)
        ensure_spaces(sp.url, build_schedule(baseline, profile_scale=baseline_s / baseline.duration_s), 768)
        preload_s = preload_http(full_schedule, sp.url)
        with Client(sp.url, timeout=30.0) as client:
            client.start_consolidation(CONSOLIDATION_S)
        with ProcessSampler(pid, sp.url, families=SAMPLE_FAMILIES, period_s=1.0,
                            max_samples=int(duration + baseline_s + 600)) as sampler:  # fmt: skip
            run, t0, t1 = timed_run(scenario, sp.url, pid)
            base_run, b0, _ = timed_run(baseline, sp.url, pid, scale=baseline_s / baseline.duration_s)
        # Stopped here and timed, so that a slow shutdown is a check beside the run's figures instead of
        # an exception that discards them: at full's ~1.3M memories the stop (a full-snapshot final
        # checkpoint of 3.3 GB, then a close that waits for the running consolidation) took > 600 s.
        stop_limit_s = float(profile.pick(quick=30, full=600, soak=1800))
        t_stop = time.monotonic()
        try:
            stop_code: int | None = sp.stop(timeout_s=stop_limit_s)
        except AssertionError:  # killed after the limit
            stop_code = sp.exit_code = sp.proc.returncode
        stop_s = time.monotonic() - t_stop

    t_served = time.monotonic()
    store_bytes = sum(f.stat().st_size for f in (tmp_path / "store").rglob("*") if f.is_file())
    host = f"host load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {cores} logical CPUs"
    result = run.result
    windows = window_stats(result.intended_start_ns, result.latency_ns, result.failed, result.op,
                           result.op_names, window_s=window, duration_s=result.duration_s)  # fmt: skip
    budgets = window_budgets(sampler, t0, windows)
    whole = stage_budget(sampler.samples_at(sampler.nearest(t0)), sampler.samples_at(sampler.nearest(t1)))

    # --- latency SLO, every window: the worst window of each quantile is the check -------------
    missed = {w.index: w.misses(SLO) for w in windows if w.misses(SLO)}
    notes = {}
    for w in windows:
        # the server's CPU share and the host's load in the window: a miss at a low share on a busy
        # host is the server waiting for a core, not its own work
        a, b = (
            sampler.samples[sampler.nearest(t0 + w.t_start_s)],
            sampler.samples[sampler.nearest(t0 + w.t_start_s + w.width_s)],
        )
        notes[w.index] = (
            f"server CPU {100 * cpu_share(b.cpu_s - a.cpu_s, b.t - a.t, cores):.0f}%, load {b.load1:.1f}"
        )
        if w.index in missed:
            dom = budgets[w.index].dominant()
            notes[w.index] += (
                f"; biggest stage: {dom.stage} {100 * dom.share:.0f}%" if dom else "; no stage histograms"
            )
    for key, limit in (("p50_ms", SLO.p50_ms), ("p95_ms", SLO.p95_ms), ("p99_ms", SLO.p99_ms)):
        vals = [w.judged_ms[key] for w in windows]
        worst = max(vals, key=lambda v: -math.inf if math.isnan(v) else v) if vals else math.nan
        worst = math.nan if any(math.isnan(v) for v in vals) else worst  # an empty window measured nothing
        where = [w.index for w in windows if not w.judged_ms[key] < limit]
        checks.check(f"worst {window:g} s window {key.removesuffix('_ms').upper()} (max over op types)", worst,
                     "<", limit, unit="ms", note=f"{len(windows)} windows; missed in {where or 'none'}; {host}")  # fmt: skip
    for op, limit in SLO.op_p99_ms.items():
        vals = [w.op_p99_ms.get(op, math.nan) for w in windows]
        worst = math.nan if not vals or any(math.isnan(v) for v in vals) else max(vals)
        where = [w.index for w in windows if not w.op_p99_ms.get(op, math.nan) < limit]
        checks.check(f"worst {window:g} s window {op} P99", worst, "<", limit, unit="ms",
                     note=f"missed in windows {where or 'none'}")  # fmt: skip
    # The P50/P95/P99 budget window by window (the vector-query budget has its own check above), with
    # each missing window's misses and biggest stage in the note.
    general = [w.index for w in windows if any(not w.judged_ms[k] < v for k, v in
                                               (("p50_ms", SLO.p50_ms), ("p95_ms", SLO.p95_ms), ("p99_ms", SLO.p99_ms)))]  # fmt: skip
    checks.check("windows missing the P50/P95/P99 budget", len(general), "==", 0,
                 note=" | ".join(f"w{i}: {', '.join(m)} ({notes[i]})" for i, m in missed.items()) or "none")  # fmt: skip
    max_err = scenario.thresholds.max_error_rate
    checks.check("error rate, production day", result.error_rate, "<=", max_err if max_err is not None else 0.01,
                 note=str(result.error_counts()))  # fmt: skip
    offered = len(result) / duration
    checks.check("ops sent / scheduled, production day", run.ops_sent / max(len(result), 1), ">=", 0.999,
                 note=f"offered mean {offered:.0f} ops/s")  # fmt: skip

    # --- the seeds' baseline budget in its own window ------------------------------------------
    bres = base_run.result
    bsum = bres.op_summary().set_index("op")
    base_p99 = float(bsum["p99_ms"].max()) if len(bsum) else math.nan  # max over ops and "all"
    checks.check("baseline window P99 (1,000 ops/s, max over op types)", base_p99, "<=", BASELINE_P99_MS,
                 unit="ms", note=f"{baseline_s:g} s, {len(bres)} ops, errors {bres.errors}; {host}")  # fmt: skip
    checks.check("baseline window errors", bres.errors, "==", 0, note=str(bres.error_counts()))
    checks.check("server exit status after SIGTERM (drain, final checkpoint, close)", stop_code, "==", 0,
                 note=f"exited {stop_s:.1f} s after SIGTERM (limit {stop_limit_s:g} s); store "
                 f"{store_bytes / 2**30:.2f} GiB on disk after it")  # fmt: skip

    # --- resources ----------------------------------------------------------------------------
    share = cpu_share(run.server_cpu_s, t1 - t0, cores)
    checks.check("server CPU share over the run", share, "<", MAX_CPU_SHARE,
                 note=f"{run.server_cpu_s:.1f} CPU s over {t1 - t0:.0f} s x {cores} cores; driver "
                      f"{run.driver_cpu_s:.1f} CPU s")  # fmt: skip
    run_samples = [s for s in sampler.samples if t0 - 0.5 <= s.t <= t1 + 0.5]
    t_rss = np.asarray([s.t for s in run_samples]) - t0
    rss = np.asarray([s.rss for s in run_samples], dtype=np.float64)
    t_eng, eng = sampler.family_sum("engram_memory_bytes")
    in_run = (t_eng >= t0 - 0.5) & (t_eng <= t1 + 0.5)
    # accounted bytes and RSS of the same sample (each sample's scrape follows its RSS read)
    rss_at = {round(s.t, 6): s.rss for s in run_samples}
    paired = [(t - t0, rss_at[round(t, 6)] - e) for t, e in zip(t_eng[in_run], eng[in_run], strict=True)
              if round(t, 6) in rss_at]  # fmt: skip
    raw = rss_growth(t_rss, rss, warmup_s=warmup_s)
    resid = rss_growth([p[0] for p in paired], [p[1] for p in paired], warmup_s=warmup_s)
    resid_pct = 100.0 * resid.slope_per_h / raw.level if raw.level > 0 else math.nan
    # A rate of 1 %/h is 0.03 % over the quick profile's 2 minutes, below what an allocator's arenas and
    # the warm-up move in that time: judged in full (an hour) and soak; quick prints what it saw.
    if not profile.quick:
        checks.check("RSS growth not accounted as data (RSS - engine bytes)", resid_pct, "<", MAX_RSS_GROWTH_PCT_H,
                     unit="%/h", note=f"Theil-Sen over {resid.n} samples after {warmup_s:.0f} s warm-up; raw "
                     f"RSS {raw.pct_per_h:.1f} %/h ({raw.slope_per_h / 2**20:.1f} MiB/h at {raw.level / 2**20:.0f} "
                     f"MiB), data grows with the stores")  # fmt: skip

    # --- consolidation cadence ----------------------------------------------------------------
    # per space: a cycle consolidates the spaces one after another, each stamping its own last run
    per_space = sampler.family_series("engram_consolidation_last_run_timestamp_seconds")
    cad = cadence(
        [cycle_ends(v) for _, v in per_space.values()], target_s=CONSOLIDATION_S, tolerance_s=CADENCE_TOL_S
    )
    _, cycles = sampler.series("engram_consolidator_cycles")
    cycles_seen = int(cycles.max() - cycles.min()) if len(cycles) else 0
    if not profile.quick:
        checks.check("consolidation intervals within 60 +/- 2 s", cad.fraction_within, ">=", CADENCE_SHARE,
                     note=cad.describe())  # fmt: skip
        checks.check("consolidation intervals observed", cad.cycles, ">=", int(0.66 * duration / CONSOLIDATION_S),
                     note=f"consolidator cycles counted: {cycles_seen}")  # fmt: skip

    # --- stage budget -------------------------------------------------------------------------
    checks.check("requests seen by the stage histograms / requests timed", whole.observed / whole.requests
                 if whole.requests > 0 else math.nan, ">=", 0.99,
                 note=f"{whole.observed:.0f} / {whole.requests:.0f}; {whole.describe()}")  # fmt: skip

    labels = [f"w{w.index}" for w in windows]
    b_budget = stage_budget(sampler.samples_at(sampler.nearest(b0)),
                            sampler.samples_at(sampler.nearest(b0 + baseline_s)))  # fmt: skip
    print(
        f"\nworkflow 110, {profile.name}: {duration:g} s production day (mean offered {offered:.0f} ops/s), "
        f"{preload} memories preloaded in {preload_s:.1f} s, windows of {window:g} s; {host}"
    )
    print(format_windows(windows, SLO, notes))
    print("\nserver-side stage budget per window (engram_http_request_stage_seconds, scrape differences):")
    print(format_budgets([*zip(labels, budgets, strict=True), ("run", whole), ("baseline", b_budget)]))
    print(f"\nbaseline window: P99 {base_p99:.3f} ms (budget {BASELINE_P99_MS}), {b_budget.describe()}")
    print(f"server CPU share {100 * share:.1f} %; RSS {raw.level / 2**20:.0f} MiB, raw growth {raw.pct_per_h:.1f} %/h, "
          f"unaccounted growth {resid_pct:.2f} %/h; consolidation: {cad.describe()}, cycles {cycles_seen}; "
          f"scrape errors {len(sampler.scrape_errors)}")  # fmt: skip

    extra = {"host": host, "window_s": window, "preload": preload, "preload_s": round(preload_s, 2),
             "cpu_share": round(share, 4), "rss_growth_pct_h": raw.pct_per_h, "unaccounted_growth_pct_h": resid_pct,
             "consolidation": cad.describe(), **run.resources()}  # fmt: skip
    session_results.add_run(
        result, scenario=scenario, name="latency-budget", checks=list(checks.checks), extra=extra
    )
    session_results.add_run(bres, scenario=baseline, name="latency-budget-baseline",
                            profile_scale=baseline_s / baseline.duration_s, checks=[], extra=base_run.resources())  # fmt: skip

    print(f"phases: start + preload {t0 - t_start:.1f} s, run {t1 - t0:.1f} s, baseline + stop "
          f"{t_served - t1:.1f} s (stop {stop_s:.1f} s), analysis + results {time.monotonic() - t_served:.1f} s")  # fmt: skip
    failed = checks.failed
    known = ["baseline window P99", f"worst {window:g} s window search P99"]

    # A P50/P95/P99 window miss is a known gap only where the server's own stage budget puts it on the
    # WAL: fsync waits and the queue behind them at least 40 % of the window's stage time, and wal.io
    # the lock waited on most (the fsync tail of this shared virtio disk; issue 18's WAL target).
    # Seen once in four quiet quick runs (P99 50.6 ms in the window where the day rose to 1,266 ops/s).
    def wal_bound(i: int) -> bool:
        rows = {r.stage: r.share for r in budgets[i].rows}
        top = budgets[i].top_lock()
        return (
            rows.get("wal_sync", 0.0) + rows.get("queue", 0.0) >= 0.4
            and top is not None
            and top[0] == "wal.io"
        )

    if general and all(wal_bound(i) for i in general):
        known += [f"worst {window:g} s window P", "windows missing the P50/P95/P99 budget"]
    if profile.quick and failed and all(c.name.startswith(tuple(known)) for c in failed):
        # The known gaps, never loosened thresholds: engramd's P99 over HTTP is milliseconds against
        # the seeds' 0.526 ms, a search's P99 under the mix 2-4 ms against 2 ms (docs/performance.md),
        # and WAL-bound window tails (above); issue 18 (engine performance: the in-process budget,
        # search latency, the WAL) owns them. Full fails.
        pytest.xfail("known engine gaps (issue 18): " + "; ".join(c.describe() for c in failed))
    checks.assert_all()
