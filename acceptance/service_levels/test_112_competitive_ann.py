"""Workflow 112 (plan numbering; master 114), ANN and hybrid half, and suite 015's committed history.

``test_ann_against_competitors``: Engram's HNSW, hnswlib, FAISS ``IndexHNSWFlat`` and ``IndexIVFFlat``
and USearch, installed from their registries, built in the same run on the same vectors (768-d
``lowrank`` data: 100 clusters in a 32-d subspace) with the same M = 16 and ef_construction = 200 (IVF:
nlist = 4 x sqrt(N), k-means on the base), then swept over ef (nprobe for IVF) single-threaded (one query
per call) and with all cores (each library's batch search; a thread pool for Engram).
:mod:`engram_harness.bench.ann` measures (interleaved repeats, medians). Equal recall is enforced by
comparing QPS at recall@10 = 0.95 and 0.99 on each library's Pareto front (log-QPS interpolated between
the two sweep points bracketing the target): our ratio = Engram's QPS / the competitor's. Qdrant is left
out (crates.io holds only a placeholder and its Python local mode is a brute-force scan; see
docs/performance.md).

``test_hybrid_vector_then_graph``: top-10 by HNSW then one hop along a scale-free graph (average degree
10), Engram (search + neighbors) against hnswlib + NetworkX on the same vectors and edges
(:mod:`engram_harness.bench.hybrid`).

Checks: every library reaches recall@10 0.99 within its sweep (else no equal-recall figure exists);
Engram's neighbours equal the graph's; equal hybrid recall; the seeds' goals where we stand (ANN P99
< 20 ms, > 800 QPS single-threaded, recall@10 >= 0.995; hybrid P99 < 10 ms, > 1000 QPS; the seeds state
them at 1M x 768 and 100K, the run's sizes are in each check's name); and against the history
(:mod:`engram_harness.bench.competitive`): each ratio compared with the last recorded run of the same
workload, failing on a > 10% regression, and failing when there was nothing to compare with. The
10% rule holds the steady figures: single-threaded CPU QPS (ANN at both recall targets; hybrid). The
all-cores QPS and the hybrid P99 ratios are recorded in the history and tabled but not gated: on two
shared cores they moved by 30-90% between runs an hour apart.

History: full runs append to the committed ``docs/bench/history/competitive.csv`` (and measure the
quick sizes too, so CI's quick run has rows of its own sizes to compare with); quick runs compare with
it and append to a copy in the run's results directory. Tables, the history verdicts and a Pareto plot
(QPS vs recall) per workload go to ``results/<run-id>/competitive/``; full runs also write them to
``docs/bench/``.

Quick: ANN 10K x 768, 1000 queries, 3 repeats per sweep setting, ef up to 128, each library's sweep
stopping at its first setting with recall@10 >= 0.995, then 7 paired rounds per recall target; hybrid
10K x 768, 1000 queries, 5 repeats (53-61 s and 13 s on 2 quiet cores, 2026-12-07). Full: the quick sizes with the quick settings (so the committed rows of those sizes are
measured as CI measures them), then ANN and hybrid 100K x 768 with 1000 queries and 5 repeats (30 min). The seeds' 1M x 768 build is
a documented manual command (docs/performance.md), beyond a nightly's time on small machines.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

import pytest

from engram_harness.suite import CheckRecorder, Profile, SessionResults, require_modules

pytestmark = pytest.mark.workflow
ROOT = Path(__file__).resolve().parents[2]
DIM = 768
DATASET = "lowrank"
TARGETS = (0.95, 0.99)
#: Sweeps fine enough that interpolating between neighbours is accurate, starting low enough that
#: recall 0.95 lies inside them at 10K.
EFS = (8, 12, 16, 24, 32, 64, 128, 256)
#: At the quick size every library reaches recall 0.99 by ef 128; ef 256 would only add time.
EFS_QUICK = EFS[:-1]
NPROBES = (1, 2, 3, 4, 6, 8, 16, 64)
COMPETITORS = ("hnswlib", "faiss-hnsw", "faiss-ivf", "usearch")
QUICK_SIZES = (10_000,)
FULL_SIZES = (100_000,)
# Seed goals (requirements section 5): ANN at 1M x 768, hybrid at 100K.
ANN_P99_MS, ANN_QPS, ANN_RECALL = 20.0, 800.0, 0.995
HYBRID_P99_MS, HYBRID_QPS = 10.0, 1000.0
GOAL = "(goal at"


def _out_dirs(profile: Profile, session_results: SessionResults) -> list[Path]:
    dirs = [session_results.run_dir / "competitive"]
    if not profile.quick:
        dirs.append(ROOT / "docs" / "bench")
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def _run_id(profile: Profile, session_results: SessionResults) -> str:
    return f"{session_results.run_id}-{profile.name}"


def _record_history(
    comparisons: list[Any],
    profile: Profile,
    session_results: SessionResults,
    checks: CheckRecorder,
    label: str,
) -> list[Any]:
    from engram_harness.bench.competitive import (
        history_paths,
        plot_history,
        record_and_compare,
        record_checks,
    )

    src, dst = history_paths(profile.name, session_results.run_dir, ROOT)
    verdicts = record_and_compare(comparisons, src, append_path=dst, run_id=_run_id(profile, session_results))
    record_checks(checks, verdicts, label=label)
    # Our ratio to each competitor over time, from the history this run appended to.
    plot_history(dst, session_results.run_dir / "competitive" / "ratios")
    return verdicts


def _finish(profile: Profile, checks: CheckRecorder) -> None:
    """Fail on every missed check, except that in the quick profile a miss of the seeds' goals alone
    (stated at 1M x 768 and 100K, measured here at 10K on shared cores) is an xfail carrying the
    figures: issue 18 (engine performance) owns them. The full profile fails on them."""
    missed = checks.failed
    if missed and profile.quick and all(GOAL in c.name for c in missed):
        pytest.xfail("seed goals not met (issue 18): " + "; ".join(c.describe() for c in missed))
    checks.assert_all()


def test_ann_against_competitors(
    profile: Profile, checks: CheckRecorder, session_results: SessionResults
) -> None:
    require_modules("hnswlib", "faiss", "usearch", "matplotlib")
    from engram_harness.bench.ann import AnnConfig, equal_recall_table, run_ann_benchmark, to_markdown
    from engram_harness.bench.competitive import Comparison, plot_pareto, verdict_table, workload_name

    rows: list[dict[str, Any]] = []
    for n in profile.pick(QUICK_SIZES, (*QUICK_SIZES, *FULL_SIZES)):
        small = n in QUICK_SIZES
        cfg = AnnConfig(
            sizes=(n,),
            dim=DIM,
            datasets=(DATASET,),
            libraries=("engram", *COMPETITORS),
            efs=EFS_QUICK if small else EFS,
            nprobes=NPROBES,
            # A quick size runs with the quick settings in every profile, so that the rows a full run
            # commits for it are measured as CI's quick run measures (same queries, same repeats).
            # 1,000 queries a pass (not 200): a 20 ms pass moved a library's QPS by up to 2x between
            # runs on a quiet host, which no 10% rule survives; 50-200 ms passes hold it to a few %.
            queries=1000,
            # The sweep's passes are tabled, not gated (the gate reads the paired rounds below): 3
            # repeats give each setting a median and spread; the paired rounds stay 7.
            repeats=3 if small else 5,
            # the gated quick size builds single-threaded: the same graphs on every run (ann.py)
            threads=1 if small else 2,
            all_cores=True,
            recall_targets=TARGETS,
            paired_targets=TARGETS,
            # The quick size stops each library's sweep at its first setting reaching the highest recall
            # a check reads (the seeds' 0.995): the settings past it were half the suite's time and fed
            # no check. The full size sweeps everything, for the whole Pareto curve.
            stop_recall=ANN_RECALL if small else None,
        )
        rows += run_ann_benchmark(cfg)
    paired = [r for r in rows if r["mode"] == "paired"]
    rows = [r for r in rows if r["mode"] != "paired"]
    table = equal_recall_table(rows, TARGETS, cfg.k)
    key = f"recall@{cfg.k}"
    version = {r["library"]: r["version"] for r in rows}
    comparisons: list[Comparison] = []
    groups = sorted({(r["dataset"], r["n"], r["mode"]) for r in rows}, key=lambda g: (g[1], g[2]))
    for ds, n, mode in groups:
        for lib in ("engram", *COMPETITORS):
            best = max(
                (
                    r[key]
                    for r in rows
                    if (r["dataset"], r["n"], r["mode"], r["library"]) == (ds, n, mode, lib)
                ),
                default=0.0,
            )
            checks.check(f"{lib} {ds} {n}x{DIM} {mode}: best recall@10 in its sweep", best, ">=", max(TARGETS),
                         note="below it, no equal-recall figure exists at the higher target")  # fmt: skip
        for t in TARGETS:
            ours = table.get((ds, n, mode, "engram", t))
            for comp in COMPETITORS:
                theirs = table.get((ds, n, mode, comp, t))
                if ours is None or theirs is None:
                    continue  # the recall check above has failed already
                comparisons.append(
                    Comparison(
                        workload=workload_name(
                            "ann", ds, n, DIM, f"r{t}", "1t" if mode == "single" else "allcores"
                        ),
                        metric="qps",
                        competitor=comp,
                        engram_value=ours.qps,
                        competitor_value=theirs.qps,
                        engram_version=version["engram"],
                        competitor_version=version[comp],
                        engram_settings=f"M={cfg.M},efc={cfg.ef_construction},{ours.settings},{ours.method}",
                        competitor_settings=(
                            ("" if comp == "faiss-ivf" else f"M={cfg.M},efc={cfg.ef_construction},")
                            + f"{theirs.settings},{theirs.method}"
                        ),
                        # Recorded and tabled, not held to the 10% rule: all-cores ratios (two workers
                        # on two shared cores) moved by 30-44% between runs an hour apart, and the
                        # single-threaded ones interpolated between sweep steps by 20-35% on a quiet
                        # host (the host's speed drifts between steps); the gate takes the paired
                        # passes below instead.
                        gated=False,
                    )
                )
            # The gated figure: each library at the cheapest setting of its sweep that reaches t,
            # timed in rounds of back-to-back passes (engram_harness.bench.ann._paired).
            if mode == "single":
                pe = next((r for r in paired if (r["dataset"], r["n"], r["library"], r["target"]) == (ds, n, "engram", t)), None)  # fmt: skip
                for comp in COMPETITORS:
                    pc = next((r for r in paired if (r["dataset"], r["n"], r["library"], r["target"]) == (ds, n, comp, t)), None)  # fmt: skip
                    if pe is None or pc is None:
                        continue  # the recall check above has failed already
                    comparisons.append(
                        Comparison(
                            workload=workload_name("ann", ds, n, DIM, f"r{t}", "1t", "paired"),
                            metric="qps",
                            competitor=comp,
                            engram_value=pe["cpu_qps"],
                            competitor_value=pc["cpu_qps"],
                            engram_version=version["engram"],
                            competitor_version=version[comp],
                            engram_settings=f"M={cfg.M},efc={cfg.ef_construction},{pe['knob']}={pe['ef']},"
                            f"rounds={pe['repeats']}",
                            competitor_settings=f"{pc['settings']},rounds={pc['repeats']}",
                            engram_rounds=tuple(pe["cpu_qps_passes"]),
                            competitor_rounds=tuple(pc["cpu_qps_passes"]),
                        )
                    )
        # The seeds' ANN goals, at the cheapest ef whose recall reaches 0.995 (single-threaded).
        if mode == "single":
            ok = sorted((r for r in rows if (r["dataset"], r["n"], r["mode"], r["library"]) == (ds, n, mode, "engram") and r[key] >= ANN_RECALL), key=lambda r: r["ef"])  # fmt: skip
            at = ok[0] if ok else None
            checks.check(
                f"engram ANN {n}x{DIM}: recall@10 reached (goal at 1M)",
                at[key] if at else 0.0,
                ">=",
                ANN_RECALL,
            )
            checks.check(f"engram ANN {n}x{DIM}: P99 at recall >= {ANN_RECALL} (goal at 1M)",
                         at["p99_us"] / 1e3 if at else math.inf, "<", ANN_P99_MS, unit="ms",
                         note=f"ef={at['ef']}" if at else "recall never reached")  # fmt: skip
            checks.check(f"engram ANN {n}x{DIM}: QPS single-threaded at recall >= {ANN_RECALL} (goal at 1M)",
                         at["qps"] if at else 0.0, ">", ANN_QPS, unit="QPS",
                         note=f"wall QPS, ef={at['ef']}" if at else "recall never reached")  # fmt: skip

    dirs = _out_dirs(profile, session_results)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")
    prefix = f"competitive-ann-{profile.name}-{stamp}"
    for ds, n, mode in groups:
        curves = {
            lib: [(r[key], r["cpu_qps" if mode == "single" else "qps"]) for r in rows
                  if (r["dataset"], r["n"], r["mode"], r["library"]) == (ds, n, mode, lib)]
            for lib in ("engram", *COMPETITORS)
        }  # fmt: skip
        qps_kind = "CPU QPS, 1 thread" if mode == "single" else f"wall QPS, {cfg.batch_threads} threads"
        for d in dirs:
            plot_pareto(curves, d / f"{prefix}-{ds}-{n}-{mode}.png",
                        title=f"ANN {ds} {n}x{DIM}, {mode} ({qps_kind}); M=16, efc=200", ylabel=qps_kind)  # fmt: skip
    verdicts = _record_history(comparisons, profile, session_results, checks, "ANN history")
    report = (
        to_markdown(rows, cfg) + "\nOur ratio against the last recorded run:\n\n" + verdict_table(verdicts)
    )
    for d in dirs:
        (d / f"{prefix}.md").write_text(report, encoding="utf-8")
        (d / f"{prefix}.json").write_text(json.dumps({"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items()}, "results": rows}, indent=1, default=str), encoding="utf-8")  # fmt: skip
    print(report)
    _finish(profile, checks)


def test_hybrid_vector_then_graph(
    profile: Profile, checks: CheckRecorder, session_results: SessionResults
) -> None:
    require_modules("hnswlib", "networkx")
    from engram_harness.bench.competitive import Comparison, verdict_table, workload_name
    from engram_harness.bench.hybrid import COMPETITOR, HybridConfig, run_hybrid

    comparisons: list[Comparison] = []
    reports: list[dict[str, Any]] = []
    for n in profile.pick(QUICK_SIZES, (*QUICK_SIZES, *FULL_SIZES)):
        cfg = HybridConfig(n=n, dim=DIM, dataset=DATASET, queries=1000, repeats=5)
        r = run_hybrid(cfg)
        reports.append(r)
        ours, theirs = r["stats"]["engram"], r["stats"][COMPETITOR]
        checks.check(f"hybrid {n}: engram edges equal the graph's", r["engram_edges"], "==", r["edges"])
        checks.check(f"hybrid {n}: engram neighbours differing from the graph's", r["neighbour_mismatches"], "==", 0,
                     note=f"of {r['neighbour_sample']} sampled nodes")  # fmt: skip
        checks.check(f"hybrid {n}: engram hybrid recall minus the competitor's", ours["hybrid_recall"] - theirs["hybrid_recall"],
                     ">=", -0.01, note="equal recall: same M, ef_construction and ef on both sides")  # fmt: skip
        checks.check(f"hybrid {n}x{DIM}: engram P99 (goal at 100K)", ours["p99_ms"], "<", HYBRID_P99_MS, unit="ms",
                     note=f"median of {cfg.repeats} repeats, range {ours['p99_ms_min']:.2f}-{ours['p99_ms_max']:.2f}")  # fmt: skip
        checks.check(
            f"hybrid {n}x{DIM}: engram QPS single-threaded (goal at 100K)",
            ours["qps"],
            ">",
            HYBRID_QPS,
            unit="QPS",
        )
        workload = workload_name("hybrid", DATASET, n, DIM, f"deg{cfg.degree}", "1hop")
        for metric, ev, cv in (
            ("p99_ms", ours["p99_ms"], theirs["p99_ms"]),
            ("qps", ours["cpu_qps"], theirs["cpu_qps"]),
        ):
            comparisons.append(
                Comparison(
                    workload,
                    metric,
                    COMPETITOR,
                    ev,
                    cv,
                    r["versions"]["engram"],
                    r["versions"][COMPETITOR],
                    r["settings"],
                    r["settings"],
                    # A P99 ratio on two shared cores moved by 90% between runs (the tail is the
                    # scheduler's): recorded, not held to the 10% rule; CPU QPS is.
                    gated=metric == "qps",
                    engram_rounds=tuple(ours["cpu_qps_rounds"]) if metric == "qps" else (),
                    competitor_rounds=tuple(theirs["cpu_qps_rounds"]) if metric == "qps" else (),
                )
            )
    verdicts = _record_history(comparisons, profile, session_results, checks, "hybrid history")
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")
    report = verdict_table(verdicts)
    for d in _out_dirs(profile, session_results):
        (d / f"competitive-hybrid-{profile.name}-{stamp}.json").write_text(json.dumps(reports, indent=1, default=str), encoding="utf-8")  # fmt: skip
        (d / f"competitive-hybrid-{profile.name}-{stamp}.md").write_text(report, encoding="utf-8")
    print(json.dumps([x["stats"] for x in reports], indent=1))
    print(report)
    _finish(profile, checks)
