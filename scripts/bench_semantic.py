"""Latency benchmark for recall (each mode), consolidation, completion, and store P99 with and
without the background consolidator. Prints a table and writes JSON.

    PYTHONPATH=. python3 scripts/bench_semantic.py --n 10000 --out results/bench_semantic.json

Timings include the Python call overhead (a few microseconds); the engine releases the GIL.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt

import engram


def clustered(rng: np.random.Generator, n: int, dim: int, clusters: int) -> npt.NDArray[np.float32]:
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    labels = rng.integers(clusters, size=n)
    return (centres[labels] + 0.5 * rng.standard_normal((n, dim))).astype(np.float32)


def pct(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples) * 1e3
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)), "n": len(samples)}


def timed(fn: Any, reps: int) -> dict[str, float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return pct(out)


def store_latencies(sp: engram.Space, vecs: npt.NDArray[np.float32]) -> list[float]:
    out = []
    for v in vecs:
        t = time.perf_counter()
        sp.remember(v)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--clusters", type=int, default=100)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--stores", type=int, default=4000)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    res: dict[str, Any] = {"n": a.n, "dim": a.dim, "clusters": a.clusters, "simd": engram.simd_level()}
    uncapped = {"max_concepts_per_run": 100000, "max_formations_per_hour": 0}
    with engram.Engine(dim=a.dim) as eng:
        sp = eng.create_space("bench")
        x = clustered(rng, a.n, a.dim, a.clusters)
        t = time.perf_counter()
        sp.remember_batch(x)
        res["ingest_s"] = time.perf_counter() - t
        t = time.perf_counter()
        rep = sp.consolidate(**uncapped)
        res["consolidate_cold"] = {"seconds": time.perf_counter() - t, "formed": rep.concepts_formed,
                                   "bound": rep.episodes_bound}  # fmt: skip
        res["consolidate_rerun"] = timed(lambda: sp.consolidate(**uncapped), 5)
        # Incremental run: 1% new episodes.
        sp.remember_batch(clustered(rng, a.n // 100, a.dim, a.clusters))
        t = time.perf_counter()
        inc = sp.consolidate(**uncapped)
        res["consolidate_incremental_1pct"] = {
            "seconds": time.perf_counter() - t,
            "updated": inc.concepts_updated,
        }
        cues = x[rng.integers(a.n, size=a.reps)] + 0.1 * rng.standard_normal((a.reps, a.dim)).astype(
            np.float32
        )
        for mode in ("episodic", "semantic", "blended"):
            it = iter(cues)
            res[f"recall_{mode}"] = timed(lambda m=mode, it=it: sp.recall(next(it), k=10, mode=m), a.reps)
        it = iter(cues)
        res["search_k10"] = timed(lambda it=it: sp.search(next(it), k=10), a.reps)
        masks = rng.random((a.reps, a.dim)) < 0.5
        it2 = iter(zip(cues, masks, strict=True))

        def comp() -> None:
            c, m = next(it2)
            sp.complete(np.where(m, c, np.nan), m)

        res["complete_50pct"] = timed(comp, a.reps)

        # Store P99 without, then with, the background consolidator (same space, fresh vectors).
        sp2 = eng.create_space("writes")
        sp2.remember_batch(clustered(rng, a.n, a.dim, a.clusters))
        sp2.consolidate(**uncapped)
        eng.create_space("idle")
        runs: list[dict[str, Any]] = []
        for trial in range(3):
            for background in (False, True):
                if background:
                    eng.start_consolidation(0.05, **uncapped)
                lat = store_latencies(sp2, clustered(rng, a.stores, a.dim, a.clusters))
                if background:
                    st = eng.consolidation_status()
                    eng.stop_consolidation()
                runs.append({"trial": trial, "background": background, **pct(lat),
                             "cycles": st["cycles"] if background else 0})  # fmt: skip
        res["store"] = runs
        res["store_p99_ms_without"] = float(np.median([r["p99_ms"] for r in runs if not r["background"]]))
        res["store_p99_ms_with"] = float(np.median([r["p99_ms"] for r in runs if r["background"]]))
        res["consolidation_runs"] = sp2.consolidation_counters()["runs"]
    print(json.dumps(res, indent=2))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=2)
    _ = threading  # the consolidator is a C++ thread; nothing to join here


if __name__ == "__main__":
    main()
