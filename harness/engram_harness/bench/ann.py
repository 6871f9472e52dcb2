"""ANN benchmark: Engram's HNSW next to hnswlib and FAISS ``IndexHNSWFlat`` on the same vectors.

For each dataset and size, the three indexes are built in the same run with the same M and
ef_construction, then queried single-threaded, one query per call (the way an application asks),
at several ef values so recall-vs-QPS curves can be compared at equal recall. Recall@k is measured
against exact brute force (cosine). Each query pass is repeated; per-query latency median and P99
are reported with their spread across repeats.

Build threads: hnswlib and FAISS are set to ``threads`` (``set_num_threads`` /
``omp_set_num_threads``). Engram's ``remember_batch`` links with TBB over every core the process
may use; the result rows record both counts so an unequal comparison is visible.

Run: ``python -m engram_harness.bench.ann --sizes 10000,100000 --json out.json --markdown out.md``
(``engram-harness bench ann`` calls :func:`main`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from engram_harness.stats.quantiles import quantile
from engram_harness.vectors import DATASETS, exact_knn

F32 = npt.NDArray[np.float32]
LIBRARIES = ("engram", "hnswlib", "faiss")


@dataclass
class AnnConfig:
    sizes: Sequence[int] = (10_000, 100_000)
    dim: int = 768
    datasets: Sequence[str] = ("lowrank", "gaussian")
    libraries: Sequence[str] = LIBRARIES
    M: int = 16
    ef_construction: int = 200
    efs: Sequence[int] = (16, 32, 64, 128, 256)
    k: int = 10
    queries: int = 1000
    repeats: int = 5
    threads: int = 2
    seed: int = 0
    recall_targets: Sequence[float] = field(default_factory=lambda: (0.9, 0.95, 0.99))


class _Index:
    """One library's index behind a common face: build once, then search one query at a time."""

    name: str
    build_threads: int

    def build(self, base: F32) -> None:
        raise NotImplementedError

    def searcher(self, ef: int, k: int) -> Callable[[F32], npt.NDArray[np.int64]]:
        """A function that answers one query with row indices into ``base``."""
        raise NotImplementedError


class _Engram(_Index):
    name = "engram"

    def __init__(self, cfg: AnnConfig) -> None:
        import engram

        self.build_threads = (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        )
        self._eng = engram.Engine(dim=cfg.dim, M=cfg.M, ef_construction=cfg.ef_construction)
        self._sp = self._eng.create_space("bench")
        self._first = 0

    def build(self, base: F32) -> None:
        ids = self._sp.remember_batch(base)
        # Ids of one batch are contiguous, so a row index is id - first id (checked, not assumed).
        self._first = int(ids[0])
        if not np.array_equal(ids, np.arange(self._first, self._first + len(base))):
            raise RuntimeError(
                "remember_batch returned non-contiguous ids; the benchmark's id mapping needs them"
            )

    def searcher(self, ef: int, k: int) -> Callable[[F32], npt.NDArray[np.int64]]:
        search, first = self._sp.search, self._first
        return lambda q: search(q, k, ef)[0] - first

    def validate(self) -> dict[str, Any]:
        return self._sp.validate()

    def close(self) -> None:
        self._eng.close()


class _Hnswlib(_Index):
    name = "hnswlib"

    def __init__(self, cfg: AnnConfig) -> None:
        import hnswlib

        self._cfg = cfg
        self.build_threads = cfg.threads
        self._index = hnswlib.Index(space="cosine", dim=cfg.dim)

    def build(self, base: F32) -> None:
        cfg = self._cfg
        self._index.init_index(
            max_elements=len(base), M=cfg.M, ef_construction=cfg.ef_construction, random_seed=cfg.seed
        )
        self._index.set_num_threads(cfg.threads)
        self._index.add_items(base, np.arange(len(base)))
        self._index.set_num_threads(1)

    def searcher(self, ef: int, k: int) -> Callable[[F32], npt.NDArray[np.int64]]:
        self._index.set_ef(ef)
        query = self._index.knn_query
        return lambda q: query(q, k=k)[0][0]


class _Faiss(_Index):
    name = "faiss"

    def __init__(self, cfg: AnnConfig) -> None:
        import faiss

        self._faiss = faiss
        self._cfg = cfg
        self.build_threads = cfg.threads
        self._index = faiss.IndexHNSWFlat(cfg.dim, cfg.M, faiss.METRIC_INNER_PRODUCT)
        self._index.hnsw.efConstruction = cfg.ef_construction

    def build(self, base: F32) -> None:
        # Inner product on unit vectors is cosine similarity; the datasets are already unit norm.
        self._faiss.omp_set_num_threads(self._cfg.threads)
        self._index.add(base)
        self._faiss.omp_set_num_threads(1)

    def searcher(self, ef: int, k: int) -> Callable[[F32], npt.NDArray[np.int64]]:
        self._index.hnsw.efSearch = ef
        search = self._index.search
        return lambda q: search(q[None, :], k)[1][0]


_FACTORIES: dict[str, Callable[[AnnConfig], _Index]] = {
    "engram": _Engram,
    "hnswlib": _Hnswlib,
    "faiss": _Faiss,
}


def _recall(found: list[npt.NDArray[np.int64]], truth: npt.NDArray[np.int64], k: int) -> float:
    hits = sum(len(np.intersect1d(f[:k], t[:k])) for f, t in zip(found, truth, strict=True))
    return hits / (k * len(truth))


def _warm(search: Callable[[F32], npt.NDArray[np.int64]], queries: F32) -> None:
    """Warm caches and lazily built state before timing."""
    for q in queries[: min(50, len(queries))]:
        search(q)


def _one_pass(
    search: Callable[[F32], npt.NDArray[np.int64]], queries: F32, found: list[npt.NDArray[np.int64]] | None
) -> tuple[npt.NDArray[np.float64], float]:
    """Per-query wall latencies (seconds) and the thread's CPU seconds of one pass over ``queries``.

    On a shared machine wall time includes time the thread was preempted; CPU time does not, so
    both are kept: wall QPS is what a caller sees, CPU QPS is the steadier comparison. Results
    are appended to ``found`` when it is given.
    """
    lat = np.empty(len(queries), dtype=np.float64)
    clock = time.perf_counter_ns
    c0 = time.thread_time()
    for i, q in enumerate(queries):
        t0 = clock()
        res = search(q)
        lat[i] = clock() - t0
        if found is not None:
            found.append(np.asarray(res, dtype=np.int64))
    return lat * 1e-9, time.thread_time() - c0


def _summarise(passes: list[npt.NDArray[np.float64]], cpu_s: list[float]) -> dict[str, float]:
    qps = [len(p) / float(p.sum()) for p in passes]
    cpu_qps = [len(p) / c for p, c in zip(passes, cpu_s, strict=True)]
    p50 = [quantile(p, 0.5) * 1e6 for p in passes]
    p99 = [quantile(p, 0.99) * 1e6 for p in passes]
    return {
        "qps": quantile(qps, 0.5),
        "qps_min": min(qps),
        "qps_max": max(qps),
        "cpu_qps": quantile(cpu_qps, 0.5),
        "p50_us": quantile(p50, 0.5),
        "p50_us_min": min(p50),
        "p50_us_max": max(p50),
        "p99_us": quantile(p99, 0.5),
        "p99_us_min": min(p99),
        "p99_us_max": max(p99),
    }


def run_ann_benchmark(
    cfg: AnnConfig | None = None,
    log: Callable[[str], None] | None = None,
    on_row: Callable[[list[dict[str, Any]]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every (dataset, size, library, ef) combination; one result dict per combination.

    ``on_row`` is called with all rows so far after each new row (long runs save as they go).
    """
    cfg = cfg or AnnConfig()
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    unknown = [d for d in cfg.datasets if d not in DATASETS] + [
        x for x in cfg.libraries if x not in _FACTORIES
    ]
    if unknown:
        raise ValueError(
            f"unknown dataset or library {unknown}; "
            f"expected datasets {sorted(DATASETS)}, libraries {list(_FACTORIES)}"
        )
    results: list[dict[str, Any]] = []
    for dataset in cfg.datasets:
        for n in cfg.sizes:
            base, queries = DATASETS[dataset](n, cfg.queries, cfg.dim, cfg.seed)
            truth = exact_knn(base, queries, cfg.k)[0]
            # Every library's index is built first and kept, then the query passes alternate
            # between libraries (the order rotating each repeat), so a slow spell of a shared
            # machine, or whatever ran just before, falls on all of them alike.
            built: list[tuple[str, _Index, float, dict[str, Any]]] = []
            for lib in cfg.libraries:
                try:
                    index = _FACTORIES[lib](cfg)
                except ImportError as exc:
                    log(f"skipping {lib}: {exc} (pip install 'engram[bench]')")
                    continue
                gc.collect()
                t0 = time.perf_counter()
                index.build(base)
                build_s = time.perf_counter() - t0
                extra: dict[str, Any] = {}
                if isinstance(index, _Engram):
                    v = index.validate()
                    extra["validate_ok"] = bool(v.get("ok", True))
                log(f"{dataset} n={n} {lib}: built in {build_s:.2f} s ({index.build_threads} threads)")
                built.append((lib, index, build_s, extra))
            for ef in cfg.efs:
                searchers = [index.searcher(ef, cfg.k) for _, index, _, _ in built]
                for search in searchers:
                    _warm(search, queries)
                found: list[list[npt.NDArray[np.int64]]] = [[] for _ in built]
                passes: list[list[npt.NDArray[np.float64]]] = [[] for _ in built]
                cpu_s: list[list[float]] = [[] for _ in built]
                for r in range(cfg.repeats):
                    for j in range(len(built)):
                        i = (j + r) % len(built)
                        lat, cpu = _one_pass(searchers[i], queries, found[i] if r == 0 else None)
                        passes[i].append(lat)
                        cpu_s[i].append(cpu)
                for i, (lib, index, build_s, extra) in enumerate(built):
                    row = {
                        "dataset": dataset,
                        "n": n,
                        "dim": cfg.dim,
                        "library": lib,
                        "M": cfg.M,
                        "ef_construction": cfg.ef_construction,
                        "ef": ef,
                        "k": cfg.k,
                        "build_s": build_s,
                        "build_threads": index.build_threads,
                        "queries": len(queries),
                        "repeats": cfg.repeats,
                        "interleaved": True,
                        f"recall@{cfg.k}": _recall(found[i], truth, cfg.k),
                        **_summarise(passes[i], cpu_s[i]),
                        **extra,
                    }
                    results.append(row)
                    if on_row is not None:
                        on_row(results)
                    log(
                        f"  {lib} ef={ef:4d} recall@{cfg.k}={row[f'recall@{cfg.k}']:.4f} qps={row['qps']:.0f} "
                        f"cpu_qps={row['cpu_qps']:.0f} p50={row['p50_us']:.0f}us p99={row['p99_us']:.0f}us"
                    )
            for _, index, _, _ in built:
                if isinstance(index, _Engram):
                    index.close()
            del built
    return results


def machine_info() -> dict[str, Any]:
    """CPU model, cores, SIMD level and library versions, for the record next to the numbers."""
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from engram import _core

        info["engram_simd"] = str(_core.simd_level()) if hasattr(_core, "simd_level") else None
    except ImportError:
        pass
    for mod in ("numpy", "hnswlib", "faiss"):
        try:
            info[f"{mod}_version"] = getattr(__import__(mod), "__version__", "unknown")
        except ImportError:
            info[f"{mod}_version"] = None
    return info


def _at_equal_recall(results: list[dict[str, Any]], targets: Sequence[float], k: int) -> list[str]:
    """Best CPU QPS (wall QPS) each library reaches at or above each recall target (one table).

    Ranked by CPU QPS: on a shared machine wall time also counts preemption, which hits
    whichever library happened to run while others were busy.
    """
    key = f"recall@{k}"
    libs = list(dict.fromkeys(r["library"] for r in results))
    lines = [
        f"| dataset | n | recall@{k} >= | " + " | ".join(f"{lib} CPU QPS / wall (ef)" for lib in libs) + " |",
        "|---|---:|---:|" + "---:|" * len(libs),
    ]
    groups = list(dict.fromkeys((r["dataset"], r["n"]) for r in results))
    for ds, n in groups:
        for t in targets:
            cells = []
            for lib in libs:
                ok = [
                    r for r in results if (r["dataset"], r["n"], r["library"]) == (ds, n, lib) and r[key] >= t
                ]
                best = max(ok, key=lambda r: r["cpu_qps"], default=None)
                cells.append(
                    "—" if best is None else f"{best['cpu_qps']:.0f} / {best['qps']:.0f} ({best['ef']})"
                )
            lines.append(f"| {ds} | {n} | {t:.2f} | " + " | ".join(cells) + " |")
    return lines


def to_markdown(results: list[dict[str, Any]], cfg: AnnConfig) -> str:
    key = f"recall@{cfg.k}"
    lines = [
        f"| dataset | n | library | build s (threads) | ef | {key} | QPS median [min–max] "
        "| CPU QPS | p50 µs | p99 µs median [min–max] |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['dataset']} | {r['n']} | {r['library']} "
            f"| {r['build_s']:.1f} ({r['build_threads']}) | {r['ef']} "
            f"| {r[key]:.4f} | {r['qps']:.0f} [{r['qps_min']:.0f}–{r['qps_max']:.0f}] | {r['cpu_qps']:.0f} "
            f"| {r['p50_us']:.0f} "
            f"| {r['p99_us']:.0f} [{r['p99_us_min']:.0f}–{r['p99_us_max']:.0f}] |"
        )
    lines += [
        "",
        "Best QPS at equal recall (the ef with the highest CPU QPS whose recall reaches the target):",
        "",
    ]
    lines += _at_equal_recall(results, cfg.recall_targets, cfg.k)
    return "\n".join(lines) + "\n"


def _ints(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x.strip()]


def _names(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="engram-harness bench ann", description=__doc__.split("\n\n")[0])
    d = AnnConfig()
    p.add_argument("--sizes", type=_ints, default=list(d.sizes), help="comma-separated base sizes")
    p.add_argument("--dim", type=int, default=d.dim)
    p.add_argument("--datasets", type=_names, default=list(d.datasets), help=f"any of {sorted(DATASETS)}")
    p.add_argument("--libraries", type=_names, default=list(d.libraries), help=f"any of {list(LIBRARIES)}")
    p.add_argument("--M", type=int, default=d.M)
    p.add_argument("--ef-construction", type=int, default=d.ef_construction)
    p.add_argument("--ef", type=_ints, default=list(d.efs), help="comma-separated ef values for search")
    p.add_argument("--k", type=int, default=d.k)
    p.add_argument("--queries", type=int, default=d.queries)
    p.add_argument("--repeats", type=int, default=d.repeats)
    p.add_argument("--threads", type=int, default=d.threads, help="build threads for hnswlib and FAISS")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--json", dest="json_path", help="write machine info, config and rows here")
    p.add_argument("--markdown", dest="md_path", help="write the Markdown tables here (else stdout)")
    a = p.parse_args(argv)
    for name, v in (
        ("--dim", a.dim),
        ("--k", a.k),
        ("--queries", a.queries),
        ("--repeats", a.repeats),
        ("--threads", a.threads),
    ):
        if v < 1:
            p.error(f"{name} must be at least 1, got {v}")
    cfg = AnnConfig(
        sizes=a.sizes,
        dim=a.dim,
        datasets=a.datasets,
        libraries=a.libraries,
        M=a.M,
        ef_construction=a.ef_construction,
        efs=a.ef,
        k=a.k,
        queries=a.queries,
        repeats=a.repeats,
        threads=a.threads,
        seed=a.seed,
    )
    machine = machine_info()
    config = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in vars(cfg).items()}

    def save(rows: list[dict[str, Any]]) -> None:
        if a.json_path:
            with open(a.json_path, "w", encoding="utf-8") as f:
                json.dump({"machine": machine, "config": config, "results": rows}, f, indent=2)

    try:
        results = run_ann_benchmark(cfg, on_row=save)
    except ValueError as exc:
        p.error(str(exc))
    md = to_markdown(results, cfg)
    if a.md_path:
        with open(a.md_path, "w", encoding="utf-8") as f:
            f.write(md)
    else:
        print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
