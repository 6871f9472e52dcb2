"""Workflow 112 (plan numbering; master 114), graph-traversal half: Engram against NetworkX, Kuzu and
Neo4j embedded on the same scale-free graph, in the same run, on the same machine.

The graph is Barabasi-Albert with 10 edges per new node, each oriented by a coin (average out-degree 10,
heavy-tailed in- and out-degrees; weights in [0.1, 1]; a category 0..9 per node). Every system loads the
same arrays: Engram in process (a memory per node with an 8-d embedding -- the benchmark is about
traversal -- and one ``link`` call per edge, there is no batch link API), NetworkX (``DiGraph``), Kuzu
(``COPY`` from CSV, on disk) and Neo4j 5 Community embedded from Maven Central (``Neo4jBench.java`` in
its own JVM; :func:`engram_harness.bench.graph.prepare_neo4j` fetches the jars once into
``build/neo4j-bench/``). Queries, from a fixed seeded set of start nodes (:mod:`engram_harness.bench.graph`
says exactly what each system runs): one hop with a 10%-selective filter on a node property, the distinct
2-hop and 3-hop reachable sets, and Engram's spreading activation against a weighted 3-hop expansion
with per-hop aggregation. Each runs single-threaded and with all cores (NetworkX: one thread, GIL),
interleaved over rounds.

Checks: every system's per-query results equal the reference computed on the arrays (counts; the
correctness check); Neo4j ran (its absence is a failing check with the reason, not a skip); the seeds'
goals where we stand (Engram's traversal P99 < 15 ms per query type, one-hop at least 10x Kuzu and 100x
Neo4j by median latency; the seeds state them at 100K nodes / 1M edges, the run's size is in each check's
name); and our ratio to each competitor against the last recorded run (:mod:`engram_harness.bench.
competitive`: single-threaded CPU QPS -- queries per CPU-second, best of the interleaved rounds --
because on two cores shared with other jobs wall-clock ratios of one build moved by 10-40% between runs
minutes apart; fails on a > 10% regression and when there is nothing to compare with). The all-cores
figures moved by up to 50% between identical runs even in CPU time, so they are reported (tables,
JSON), not gated. Wall-clock P50, P99 and QPS are in the tables. A missed goal is, in the quick profile only and only when it is the sole
failure, an xfail naming issue 18 (engine performance); the full profile fails on it.

History: full runs measure the quick size too and append to the committed
``docs/bench/history/competitive.csv``; quick runs compare with it and append to a copy in the run's
results directory. Tables go to ``results/<run-id>/competitive/`` (full runs also to ``docs/bench/``).

Quick: 10,000 nodes / ~100K edges, 1000 / 200 / 40 / 20 start nodes (one hop / two / three / spread), 3
rounds (55-90 s on 2 shared cores depending on their load, 20-40 s of it Neo4j's JVM start and load,
overlapped with the other loads). Full: 10K as in quick (3 rounds), then 100,000 nodes / ~1M edges, 3000 / 400 / 60 / 30 start
nodes, 3 rounds (5-8 minutes; Neo4j's start and load alone 0.7-2.5 minutes).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from engram_harness.suite import CheckRecorder, Profile, SessionResults, require_modules

pytestmark = pytest.mark.workflow
ROOT = Path(__file__).resolve().parents[2]
SEED = 112
DEGREE = 10  # edges per new node = average out-degree
THREADS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
# Seed goals (requirements section 5 / issue 17), stated at 100K nodes / 1M edges.
TRAVERSAL_P99_MS = 15.0
ONE_HOP_VS_KUZU = 10.0
ONE_HOP_VS_NEO4J = 100.0
GOAL = "goal"  # prefix of the goal checks: the only ones the quick profile may xfail on


def _size_label(n: int) -> str:
    return f"{n // 1000}K nodes"


def _run_size(
    n: int,
    starts_per: dict[str, int],
    rounds: int,
    deadline_s: float,
    tmp: Path,
    checks: CheckRecorder,
) -> tuple[Any, list[str]]:
    """Build, load and measure one graph size; records the result and availability checks."""
    from engram_harness.bench import graph as G

    notes: list[str] = []
    g = G.scale_free_graph(n, DEGREE, SEED)
    csv_dir = tmp / "csv"
    G.write_csv(g, csv_dir)
    starts = {w: G.start_nodes(g, k, SEED * 100 + i) for i, (w, k) in enumerate(starts_per.items())}
    runners: list[Any] = []
    neo4j: Any = None
    neo4j_reason = ""
    try:
        # Neo4j first: its JVM starts and loads in its own process while the others load here.
        try:
            t0 = time.perf_counter()
            setup = G.prepare_neo4j()
            notes.append(
                f"neo4j setup (jars from Maven Central or build/neo4j-bench, javac) {time.perf_counter() - t0:.1f} s"
            )
            heap = 1024 if n <= 20_000 else 4096
            neo4j = G.Neo4jRunner(setup, tmp, csv_dir, heap_mb=heap, pagecache_mb=heap // 2)
        except G.Neo4jUnavailable as exc:
            neo4j_reason = str(exc)
        eng = G.EngramRunner(g, seed=SEED)
        runners.append(eng)
        notes.append(
            f"engram load at {_size_label(n)}: {eng.remember_s:.1f} s for {n:,} memories (remember_batch), "
            f"{eng.link_s:.1f} s for {g.edges:,} links (one call each)"
        )
        runners.append(G.NetworkXRunner(g))
        runners.append(G.KuzuRunner(g, tmp, csv_dir))
        if neo4j is not None:
            try:
                runners.append(neo4j.wait_ready())
                notes.append(f"neo4j JVM start + load + index at {_size_label(n)}: {neo4j.start_s:.1f} s")
            except G.Neo4jUnavailable as exc:
                neo4j_reason = str(exc)
        if neo4j_reason:
            notes.append(f"Neo4j embedded did not run: {neo4j_reason}")
        # The decision is explicit: without Neo4j the comparison the seed asks for is missing, so the
        # suite fails (in CI and locally), with the reason as the check's note.
        checks.check(
            f"neo4j embedded ran at {_size_label(n)}",
            0 if neo4j_reason else 1,
            "==",
            1,
            note=neo4j_reason or "Neo4j Community embedded from Maven Central",
        )
        # Warm-up: every start of the cheap workloads, a few of the costly ones (see run_benchmark).
        warmup = {"one_hop_filter": starts_per["one_hop_filter"], "two_hop": starts_per["two_hop"],
                  "three_hop": 10, "spread": 5}  # fmt: skip
        result = G.run_benchmark(
            g, runners, starts, threads=THREADS, rounds=rounds, warmup=warmup, deadline_s=deadline_s
        )
    finally:
        G.close_all([*runners, *([neo4j] if neo4j is not None else [])])
    result.notes[:0] = notes
    for system in result.systems:
        for w in starts:
            checks.check(
                f"{system} {w} results differing from the reference at {_size_label(n)}",
                result.mismatches(system, w),
                "==",
                0,
                unit="queries",
                note=f"{len(starts[w])} start nodes; counts of the reference on the edge arrays",
            )
    return result, notes


def _goal_checks(result: Any, checks: CheckRecorder) -> None:
    size = _size_label(result.nodes)
    for w in result.starts:
        m = result.get("engram", w, 1)
        checks.check(
            f"{GOAL}: engram {w} P99 single-threaded at {size}",
            m.quantile_ms(0.99) if m is not None else float("nan"),
            "<",
            TRAVERSAL_P99_MS,
            unit="ms",
            note="seed: traversal P99 < 15 ms at 100K nodes / 1M edges",
        )
    ours = result.get("engram", "one_hop_filter", 1)
    for system, goal in (("kuzu", ONE_HOP_VS_KUZU), ("neo4j", ONE_HOP_VS_NEO4J)):
        theirs = result.get(system, "one_hop_filter", 1)
        speedup = (
            theirs.quantile_ms(0.5) / ours.quantile_ms(0.5)
            if ours is not None and theirs is not None
            else float("nan")
        )
        checks.check(
            f"{GOAL}: engram one-hop speedup over {system} (P50, single-threaded) at {size}",
            speedup,
            ">=",
            goal,
            unit="x",
            note="seed: one-hop at least 10x Kuzu and 100x Neo4j",
        )


def test_graph_traversal_against_competitors(
    profile: Profile, checks: CheckRecorder, session_results: SessionResults, tmp_path: Path
) -> None:
    require_modules("networkx", "kuzu")
    from engram_harness.bench import graph as G
    from engram_harness.bench.competitive import (
        history_paths,
        record_and_compare,
        record_checks,
        verdict_table,
    )

    sizes = profile.pick((10_000,), (10_000, 100_000))
    # One-hop and two-hop queries are cheap: enough of them that a pass costs each system tens of
    # milliseconds of CPU or more, so that its CPU time is a stable figure.
    full_starts = {"one_hop_filter": 3000, "two_hop": 400, "three_hop": 60, "spread": 30}
    quick_starts = {"one_hop_filter": 1000, "two_hop": 200, "three_hop": 40, "spread": 20}
    out_dirs = [session_results.run_dir / "competitive"]
    if not profile.quick:
        out_dirs.append(ROOT / "docs" / "bench")
    for d in out_dirs:
        d.mkdir(parents=True, exist_ok=True)
    run_id = f"{session_results.run_id}-{profile.name}"
    src, dst = history_paths(profile.name, session_results.run_dir, ROOT)
    tables: list[str] = []
    results: list[Any] = []
    for n in sizes:
        small = n <= 10_000
        result, _ = _run_size(
            n,
            quick_starts if small else full_starts,
            3,  # quick and full alike: the quick run compares with the full run's 10K rows, same estimator
            profile.pick(60.0, 90.0 if small else 480.0),
            tmp_path / f"g{n}",
            checks,
        )
        results.append(result)
        _goal_checks(result, checks)
        comps = G.comparisons(result, DEGREE)
        if profile.quick:
            # Recorded and compared (the table below), held to the 10% rule in full only: with quick's
            # 3 rounds, two release-wheel runs in CI 20 minutes apart differed by up to 22% beyond the
            # rounds' own spread (one-hop to NetworkX and Kuzu, 2026-12-07), so the quick gate failed on
            # noise. The ANN ratios (7 paired rounds, deterministic builds) stay gated in quick.
            comps = [dataclasses.replace(c, gated=False) for c in comps]
        verdicts = record_and_compare(comps, src, append_path=dst, run_id=run_id)
        if profile.quick:
            compared = sum(v.status != "no-baseline" for v in verdicts)
            checks.check(f"graph {_size_label(n)}: ratios compared with a previous recorded run (gated in full)",
                         compared, ">=", len(verdicts), note=f"{compared} of {len(verdicts)} had a baseline")  # fmt: skip
        else:
            record_checks(checks, verdicts, label=f"graph {_size_label(n)}")
        tables.append(
            G.markdown_table(result) + "\nAgainst the last recorded run:\n\n" + verdict_table(verdicts)
        )
        for d in out_dirs:
            stem = f"competitive-graph-{profile.name}-" + (
                "" if profile.quick else f"{time.strftime('%Y-%m-%d')}-"
            )
            stem += f"{n // 1000}k"
            (d / f"{stem}.json").write_text(json.dumps(G.to_json(result), indent=1, default=float) + "\n")
            (d / f"{stem}.md").write_text(tables[-1])
    print("\n\n".join(tables))
    missed = checks.failed
    if missed and profile.quick and all(c.name.startswith(f"{GOAL}:") for c in missed):
        # Known gaps, never loosened thresholds: measured where we stand; issue 18 (engine performance)
        # owns them. The full profile fails on them.
        pytest.xfail("graph goals not met (issue 18): " + "; ".join(c.describe() for c in missed))
    checks.assert_all()
