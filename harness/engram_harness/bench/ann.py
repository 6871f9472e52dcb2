"""ANN benchmark: Engram's HNSW next to hnswlib, FAISS (HNSW and IVF) and USearch on the same vectors.

For each dataset and size, every index is built in the same run (the HNSW ones with the same M and
ef_construction; FAISS IVF with ``nlist`` = 4 x sqrt(N), k-means trained on the base itself), then
queried at every setting of its search knob (``ef`` for the HNSW indexes, ``nprobe`` for IVF) so the
recall-vs-QPS curves can be compared at equal recall. Recall@k is measured against exact brute force
(cosine; inner product on the unit-norm vectors for FAISS). Two query modes:

- ``single``: one thread, one query per call (the way an application asks); per-query latency median
  and P99 with their spread across repeats, wall QPS and CPU QPS (the thread's CPU time, which a
  shared machine's preemption does not inflate).
- ``batch`` (``all_cores``): every query at once over ``batch_threads`` threads (default: every core
  the process may use): each library's own batch search (hnswlib ``num_threads``, FAISS OpenMP,
  USearch ``threads``); Engram has no batch search, so a thread pool of that size runs its
  single-query ``search`` (the engine releases the GIL while it searches). Wall QPS only.

Every query pass is repeated ``repeats`` times, the libraries' passes interleaved (the order rotating
each repeat) so a slow spell of a shared machine falls on all of them alike; medians are reported.
Each row records the library's version and its settings. :func:`qps_at_recall` reads the
equal-recall figure off a library's Pareto front (see there).

Build threads: hnswlib, FAISS and USearch are set to ``threads``; Engram's ``remember_batch`` links
with TBB over every core the process may use, except with ``threads=1``, where Engram inserts one
vector after another; the rows record both counts so an unequal comparison is visible. With
``threads=1`` every library builds the same graph on every run (parallel builds differ from run to
run, and with them the setting that reaches a recall target, which moved our ratio by 10-20 %
between runs): what a run-to-run regression check needs.

Qdrant is left out: crates.io holds only a placeholder for it and its Python client's local mode is
a brute-force scan, not its HNSW index, so neither measures the engine the seeds compare against.

Run: ``python -m engram_harness.bench.ann --sizes 10000,100000 --json out.json --markdown out.md``
(``engram-harness bench ann`` calls :func:`main`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import itertools
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from engram_harness.stats.quantiles import quantile
from engram_harness.vectors import DATASETS, exact_knn

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
LIBRARIES = ("engram", "hnswlib", "faiss-hnsw", "faiss-ivf", "usearch")
#: Older names still accepted on the command line.
ALIASES = {"faiss": "faiss-hnsw"}
MODES = ("single", "batch")


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass
class AnnConfig:
    sizes: Sequence[int] = (10_000, 100_000)
    dim: int = 768
    datasets: Sequence[str] = ("lowrank", "gaussian")
    libraries: Sequence[str] = LIBRARIES
    M: int = 16
    ef_construction: int = 200
    efs: Sequence[int] = (16, 32, 64, 128, 256)
    #: IVF probes, swept like ``efs`` (step i of the sweep uses ``efs[i]`` and ``nprobes[i]``).
    nprobes: Sequence[int] = (4, 8, 16, 32, 64)
    #: IVF lists = ``nlist_factor`` x sqrt(N) (the usual rule of thumb, 4 to 16 x sqrt(N)).
    nlist_factor: float = 4.0
    k: int = 10
    queries: int = 1000
    repeats: int = 5
    threads: int = 2
    seed: int = 0
    recall_targets: Sequence[float] = field(default_factory=lambda: (0.9, 0.95, 0.99))
    #: Also run the ``batch`` mode (all queries over ``batch_threads`` threads).
    all_cores: bool = False
    batch_threads: int = field(default_factory=_cores)
    #: After the sweep, time each library again at the cheapest setting of its sweep that reaches
    #: each of these recall targets, in ``paired_rounds`` rounds of back-to-back passes (mode
    #: ``paired``): the figure a regression gate compares (see :func:`_paired`).
    paired_targets: Sequence[float] = ()
    paired_rounds: int = 7
    #: Stop a library's sweep (in each mode) after the first setting whose recall reaches this: the
    #: costlier settings beyond it only extend the Pareto curve past every recall a check reads (the
    #: highest is the seeds' 0.995), and at 10K they are most of the sweep's time. ``None`` sweeps all.
    stop_recall: float | None = None


def library_version(lib: str) -> str:
    """The installed version of a library of :data:`LIBRARIES` (``"missing"`` when not installed)."""
    from importlib import metadata

    dist = {"engram": "engram", "hnswlib": "hnswlib", "usearch": "usearch"}.get(lib, "faiss-cpu")
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        try:
            return str(getattr(__import__(dist.split("-")[0]), "__version__", "unknown"))
        except ImportError:
            return "missing"


class _Index:
    """One library's index behind a common face: build once, then search one query at a time or all."""

    name: str
    build_threads: int
    knob = "ef"

    def __init__(self, cfg: AnnConfig) -> None:
        self._cfg = cfg

    def build(self, base: F32) -> None:
        raise NotImplementedError

    def sweep(self) -> Sequence[int]:
        """The values of the search knob to measure."""
        return self._cfg.efs

    def settings(self) -> str:
        """Build parameters, for the record (the knob's value is added per row)."""
        return f"M={self._cfg.M},efc={self._cfg.ef_construction}"

    def searcher(self, value: int, k: int) -> Callable[[F32], I64]:
        """A function that answers one query with row indices into ``base``."""
        raise NotImplementedError

    def batch_searcher(self, value: int, k: int, threads: int) -> Callable[[F32], I64]:
        """A function that answers a matrix of queries with a (queries, k) matrix of row indices."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class _Engram(_Index):
    name = "engram"

    def __init__(self, cfg: AnnConfig) -> None:
        import engram

        super().__init__(cfg)
        self.build_threads = 1 if cfg.threads == 1 else _cores()
        self._eng = engram.Engine(dim=cfg.dim, M=cfg.M, ef_construction=cfg.ef_construction)
        self._sp = self._eng.create_space("bench")
        self._first = 0
        self._pool: Any = None

    def build(self, base: F32) -> None:
        if self.build_threads == 1:
            # one insertion after another: the same graph on every run (a parallel build is not),
            # which a run-to-run comparison needs (see AnnConfig.threads)
            ids = np.asarray([self._sp.remember(v) for v in base], dtype=np.int64)
        else:
            ids = self._sp.remember_batch(base)
        # Ids of one batch are contiguous, so a row index is id - first id (checked, not assumed).
        self._first = int(ids[0])
        if not np.array_equal(ids, np.arange(self._first, self._first + len(base))):
            raise RuntimeError(
                "remember_batch returned non-contiguous ids; the benchmark's id mapping needs them"
            )

    def searcher(self, value: int, k: int) -> Callable[[F32], I64]:
        search, first = self._sp.search, self._first
        return lambda q: search(q, k, value)[0] - first

    def batch_searcher(self, value: int, k: int, threads: int) -> Callable[[F32], I64]:
        # No batch search in the API: a pool of ``threads`` threads, each answering a contiguous slice
        # one query at a time (the engine releases the GIL inside search, so they run in parallel).
        from concurrent.futures import ThreadPoolExecutor

        if self._pool is None or self._pool._max_workers != threads:
            if self._pool is not None:
                self._pool.shutdown()
            self._pool = ThreadPoolExecutor(max_workers=threads)
        pool, one = self._pool, self.searcher(value, k)

        def run(qs: F32) -> I64:
            out = np.full((len(qs), k), -1, dtype=np.int64)

            def part(lo: int, hi: int) -> None:
                for i in range(lo, hi):
                    r = one(qs[i])
                    out[i, : len(r)] = r

            bounds = np.linspace(0, len(qs), threads + 1).astype(int)
            for f in [pool.submit(part, int(a), int(b)) for a, b in itertools.pairwise(bounds)]:
                f.result()
            return out

        return run

    def validate(self) -> dict[str, Any]:
        return self._sp.validate()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        self._eng.close()


class _Hnswlib(_Index):
    name = "hnswlib"

    def __init__(self, cfg: AnnConfig) -> None:
        import hnswlib

        super().__init__(cfg)
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

    def searcher(self, value: int, k: int) -> Callable[[F32], I64]:
        self._index.set_ef(value)
        query = self._index.knn_query
        return lambda q: query(q, k=k)[0][0]

    def batch_searcher(self, value: int, k: int, threads: int) -> Callable[[F32], I64]:
        self._index.set_ef(value)
        query = self._index.knn_query
        return lambda qs: query(qs, k=k, num_threads=threads)[0].astype(np.int64)


class _Faiss(_Index):
    """FAISS ``IndexHNSWFlat``, inner product (cosine on the unit-norm vectors)."""

    name = "faiss-hnsw"

    def __init__(self, cfg: AnnConfig) -> None:
        import faiss

        super().__init__(cfg)
        self._faiss = faiss
        self.build_threads = cfg.threads
        self._index = faiss.IndexHNSWFlat(cfg.dim, cfg.M, faiss.METRIC_INNER_PRODUCT)
        self._index.hnsw.efConstruction = cfg.ef_construction

    def build(self, base: F32) -> None:
        # Inner product on unit vectors is cosine similarity; the datasets are already unit norm.
        self._faiss.omp_set_num_threads(self._cfg.threads)
        self._index.add(base)
        self._faiss.omp_set_num_threads(1)

    def _set(self, value: int) -> None:
        self._index.hnsw.efSearch = value

    def searcher(self, value: int, k: int) -> Callable[[F32], I64]:
        self._faiss.omp_set_num_threads(1)
        self._set(value)
        search = self._index.search
        return lambda q: search(q[None, :], k)[1][0]

    def batch_searcher(self, value: int, k: int, threads: int) -> Callable[[F32], I64]:
        self._set(value)
        faiss, search = self._faiss, self._index.search

        def run(qs: F32) -> I64:
            faiss.omp_set_num_threads(threads)
            try:
                return search(qs, k)[1]
            finally:
                faiss.omp_set_num_threads(1)

        return run


class _FaissIVF(_Faiss):
    """FAISS ``IndexIVFFlat``, inner product, ``nlist`` = nlist_factor x sqrt(N), swept over ``nprobe``."""

    name = "faiss-ivf"
    knob = "nprobe"

    def __init__(self, cfg: AnnConfig) -> None:
        import faiss

        _Index.__init__(self, cfg)
        self._faiss = faiss
        self.build_threads = cfg.threads
        self._nlist = 0
        self._index: Any = None

    def build(self, base: F32) -> None:
        faiss = self._faiss
        self._nlist = max(1, round(self._cfg.nlist_factor * math.sqrt(len(base))))
        quantizer = faiss.IndexFlatIP(self._cfg.dim)
        self._index = faiss.IndexIVFFlat(quantizer, self._cfg.dim, self._nlist, faiss.METRIC_INNER_PRODUCT)
        self._index.cp.seed = self._cfg.seed
        faiss.omp_set_num_threads(self._cfg.threads)
        self._index.train(base)
        self._index.add(base)
        faiss.omp_set_num_threads(1)

    def sweep(self) -> Sequence[int]:
        return [p for p in self._cfg.nprobes if p <= max(self._nlist, 1)]

    def settings(self) -> str:
        return f"nlist={self._nlist}"

    def _set(self, value: int) -> None:
        self._index.nprobe = value


class _USearch(_Index):
    name = "usearch"

    def __init__(self, cfg: AnnConfig) -> None:
        from usearch.index import Index

        super().__init__(cfg)
        self.build_threads = cfg.threads
        self._index = Index(
            ndim=cfg.dim,
            metric="cos",
            dtype="f32",
            connectivity=cfg.M,
            expansion_add=cfg.ef_construction,
            expansion_search=64,
        )

    def build(self, base: F32) -> None:
        self._index.add(np.arange(len(base)), base, threads=self._cfg.threads)

    def searcher(self, value: int, k: int) -> Callable[[F32], I64]:
        self._index.expansion_search = value
        search = self._index.search
        return lambda q: search(q, k, threads=1).keys

    def batch_searcher(self, value: int, k: int, threads: int) -> Callable[[F32], I64]:
        self._index.expansion_search = value
        search = self._index.search
        return lambda qs: np.asarray(search(qs, k, threads=threads).keys, dtype=np.int64)


_FACTORIES: dict[str, Callable[[AnnConfig], _Index]] = {
    "engram": _Engram,
    "hnswlib": _Hnswlib,
    "faiss-hnsw": _Faiss,
    "faiss-ivf": _FaissIVF,
    "usearch": _USearch,
}


def _recall(found: Sequence[npt.ArrayLike], truth: I64, k: int) -> float:
    hits = sum(len(np.intersect1d(np.asarray(f)[:k], t[:k])) for f, t in zip(found, truth, strict=True))
    return hits / (k * len(truth))


def _warm(search: Callable[[F32], I64], queries: F32) -> None:
    """Warm caches and lazily built state before timing."""
    for q in queries[: min(50, len(queries))]:
        search(q)


def _one_pass(
    search: Callable[[F32], I64], queries: F32, found: list[I64] | None
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


def _summarise(passes: list[npt.NDArray[np.float64]], cpu_s: list[float]) -> dict[str, Any]:
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
        "qps_passes": qps,
        "cpu_qps_passes": cpu_qps,
    }


def _summarise_batch(walls: list[float], n: int) -> dict[str, Any]:
    qps = [n / w for w in walls]
    nan = math.nan
    return {
        "qps": quantile(qps, 0.5),
        "qps_min": min(qps),
        "qps_max": max(qps),
        "cpu_qps": nan,
        "p50_us": nan,
        "p50_us_min": nan,
        "p50_us_max": nan,
        "p99_us": nan,
        "p99_us_min": nan,
        "p99_us_max": nan,
        "qps_passes": qps,
        "cpu_qps_passes": [],
    }


def _measure(
    built: list[tuple[str, _Index, float, dict[str, Any]]],
    step: int,
    queries: F32,
    truth: I64,
    cfg: AnnConfig,
    mode: str,
    done: frozenset[int] = frozenset(),
) -> list[tuple[int, int, float, dict[str, Any]]]:
    """One step of every library's sweep in one mode, except the libraries in ``done`` (positions in
    ``built``): (library position, knob value, recall, stats)."""
    active = [
        (i, idx.sweep()[step])
        for i, (_, idx, _, _) in enumerate(built)
        if step < len(idx.sweep()) and i not in done
    ]
    if not active:
        return []
    n = len(active)
    found: list[list[I64]] = [[] for _ in active]
    if mode == "single":
        fns = [built[i][1].searcher(v, cfg.k) for i, v in active]
        for fn in fns:
            _warm(fn, queries)
        passes: list[list[npt.NDArray[np.float64]]] = [[] for _ in active]
        cpu_s: list[list[float]] = [[] for _ in active]
        for r in range(cfg.repeats):
            for j in range(n):
                a = (j + r) % n
                lat, cpu = _one_pass(fns[a], queries, found[a] if r == 0 else None)
                passes[a].append(lat)
                cpu_s[a].append(cpu)
        stats = [_summarise(passes[a], cpu_s[a]) for a in range(n)]
        recalls = [_recall(found[a], truth, cfg.k) for a in range(n)]
    else:
        bfns = [built[i][1].batch_searcher(v, cfg.k, cfg.batch_threads) for i, v in active]
        for fn in bfns:
            fn(queries[: min(50, len(queries))])
        walls: list[list[float]] = [[] for _ in active]
        results: list[I64 | None] = [None] * n
        for r in range(cfg.repeats):
            for j in range(n):
                a = (j + r) % n
                t0 = time.perf_counter()
                res = bfns[a](queries)
                walls[a].append(time.perf_counter() - t0)
                if r == 0:
                    results[a] = np.asarray(res, dtype=np.int64)
        stats = [_summarise_batch(walls[a], len(queries)) for a in range(n)]
        recalls = [_recall(list(results[a]), truth, cfg.k) for a in range(n)]  # type: ignore[arg-type]
    return [(i, v, recalls[a], stats[a]) for a, (i, v) in enumerate(active)]


def _paired(
    built: list[tuple[str, _Index, float, dict[str, Any]]],
    sweep_rows: list[dict[str, Any]],
    queries: F32,
    cfg: AnnConfig,
) -> list[dict[str, Any]]:
    """Each library at the cheapest setting of its sweep reaching each of ``cfg.paired_targets``,
    timed in ``cfg.paired_rounds`` rounds; in each round every library runs one pass, back to back,
    the order rotating. Why: the sweep times a library's settings at different moments, and an
    equal-recall QPS interpolated between two of them moved by 20-35 % between runs on this
    shared host, as the host's speed drifted between sweep steps; passes of all libraries within
    one round see the same drift, so their ratios hold to a few %. One row per library and target
    (``mode`` ``paired``, ``cpu_qps`` the median over rounds, ``cpu_qps_passes`` each round's)."""
    key = f"recall@{cfg.k}"
    out: list[dict[str, Any]] = []
    for target in cfg.paired_targets:
        chosen: list[tuple[int, dict[str, Any]]] = []
        for i, (lib, _, _, _) in enumerate(built):
            ok = [r for r in sweep_rows if r["library"] == lib and r["mode"] == "single" and r[key] >= target]
            if ok:
                chosen.append((i, min(ok, key=lambda r: r["ef"])))
        if not chosen:
            continue
        fns = [built[i][1].searcher(int(r["ef"]), cfg.k) for i, r in chosen]
        for fn in fns:
            _warm(fn, queries)
        n = len(chosen)
        passes: list[list[npt.NDArray[np.float64]]] = [[] for _ in chosen]
        cpu_s: list[list[float]] = [[] for _ in chosen]
        for rnd in range(cfg.paired_rounds):
            for j in range(n):
                a = (j + rnd) % n
                lat, cpu = _one_pass(fns[a], queries, None)
                passes[a].append(lat)
                cpu_s[a].append(cpu)
        for a, (_, r) in enumerate(chosen):
            out.append({**{k: v for k, v in r.items() if not k.startswith(("qps", "cpu_qps", "p50", "p99"))},
                        "mode": "paired", "target": target, "repeats": cfg.paired_rounds,
                        **_summarise(passes[a], cpu_s[a])})  # fmt: skip
    return out


def run_ann_benchmark(
    cfg: AnnConfig | None = None,
    log: Callable[[str], None] | None = None,
    on_row: Callable[[list[dict[str, Any]]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every (dataset, size, library, knob value, mode) combination; one result dict for each.

    ``on_row`` is called with all rows so far after each new row (long runs save as they go).
    """
    cfg = cfg or AnnConfig()
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    libraries = [ALIASES.get(x, x) for x in cfg.libraries]
    unknown = [d for d in cfg.datasets if d not in DATASETS] + [x for x in libraries if x not in _FACTORIES]
    if unknown:
        raise ValueError(
            f"unknown dataset or library {unknown}; "
            f"expected datasets {sorted(DATASETS)}, libraries {list(_FACTORIES)}"
        )
    modes = MODES if cfg.all_cores else MODES[:1]
    versions = {lib: library_version(lib) for lib in libraries}
    results: list[dict[str, Any]] = []
    for dataset in cfg.datasets:
        for n in cfg.sizes:
            base, queries = DATASETS[dataset](n, cfg.queries, cfg.dim, cfg.seed)
            truth = exact_knn(base, queries, cfg.k)[0]
            # Every library's index is built first and kept, then the query passes alternate
            # between libraries (the order rotating each repeat), so a slow spell of a shared
            # machine, or whatever ran just before, falls on all of them alike.
            built: list[tuple[str, _Index, float, dict[str, Any]]] = []
            for lib in libraries:
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
            steps = max((len(idx.sweep()) for _, idx, _, _ in built), default=0)
            for mode in modes:
                done: set[int] = set()  # libraries whose sweep reached cfg.stop_recall in this mode
                for step in range(steps):
                    for i, value, recall, stats in _measure(
                        built, step, queries, truth, cfg, mode, frozenset(done)
                    ):
                        if cfg.stop_recall is not None and recall >= cfg.stop_recall:
                            done.add(i)
                        lib, index, build_s, extra = built[i]
                        row = {
                            "dataset": dataset,
                            "n": n,
                            "dim": cfg.dim,
                            "library": lib,
                            "version": versions[lib],
                            "mode": mode,
                            "threads": cfg.batch_threads if mode == "batch" else 1,
                            "M": cfg.M,
                            "ef_construction": cfg.ef_construction,
                            "knob": index.knob,
                            "ef": value,
                            "settings": f"{index.settings()},{index.knob}={value}",
                            "k": cfg.k,
                            "build_s": build_s,
                            "build_threads": index.build_threads,
                            "queries": len(queries),
                            "repeats": cfg.repeats,
                            "interleaved": True,
                            f"recall@{cfg.k}": recall,
                            **stats,
                            **extra,
                        }
                        results.append(row)
                        if on_row is not None:
                            on_row(results)
                        log(
                            f"  {mode} {lib} {index.knob}={value:4d} recall@{cfg.k}={recall:.4f} "
                            f"qps={row['qps']:.0f} cpu_qps={row['cpu_qps']:.0f} p99={row['p99_us']:.0f}us"
                        )
            if cfg.paired_targets:
                sweep_rows = [r for r in results if (r["dataset"], r["n"]) == (dataset, n)]
                for row in _paired(built, sweep_rows, queries, cfg):
                    results.append(row)
                    log(f"  paired {row['library']} r>={row['target']} {row['knob']}={row['ef']} "
                        f"cpu_qps={row['cpu_qps']:.0f} [{min(row['cpu_qps_passes']):.0f}-"
                        f"{max(row['cpu_qps_passes']):.0f}]")  # fmt: skip
                if on_row is not None:
                    on_row(results)
            for _, index, _, _ in built:
                index.close()
            del built
    return results


@dataclass(frozen=True)
class EqualRecall:
    """A library's QPS at a recall target, read off its Pareto front (:func:`qps_at_recall`)."""

    qps: float
    #: ``interpolated`` (between two front points), ``exact`` (a point sits on the target) or
    #: ``cheapest`` (every point is above the target: the cheapest one's QPS, a lower bound).
    method: str
    #: The knob values whose points were used (one or two), e.g. ``ef=48..64``.
    settings: str
    recall: float


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (recall, qps) points no other point beats on both, by rising recall (falling QPS)."""
    front: list[tuple[float, float]] = []
    for rec, qps in sorted(points, key=lambda p: (-p[0], -p[1])):
        if not front or qps > front[-1][1]:
            front.append((rec, qps))
    return front[::-1]


def qps_at_recall(points: Sequence[tuple[float, float, str]], target: float) -> EqualRecall | None:
    """QPS at recall ``target`` from (recall, qps, setting) points of one library (None if never reached).

    Interpolated on the Pareto front: between the two front points bracketing the target, log(QPS)
    linearly in recall (QPS falls roughly geometrically as recall rises). Interpolation rather than
    "the cheapest setting reaching the target" because a sweep's coarse steps would otherwise move
    the figure by a whole step whenever a run's recall lands just below or above the target, which
    on its own would exceed the 10% regression band.
    """
    by_point = {(r, q): s for r, q, s in points}
    front = pareto_front([(r, q) for r, q, _ in points])
    if not front or front[-1][0] < target:
        return None
    for (r0, q0), (r1, q1) in itertools.pairwise(front):
        if r0 < target <= r1:
            if r1 == target:
                return EqualRecall(q1, "exact", by_point[(r1, q1)], r1)
            f = (target - r0) / (r1 - r0)
            qps = math.exp(math.log(q0) + f * (math.log(q1) - math.log(q0)))
            return EqualRecall(qps, "interpolated", f"{by_point[(r0, q0)]}..{by_point[(r1, q1)]}", target)
    r, q = front[0]
    return EqualRecall(q, "exact" if r == target else "cheapest", by_point[(r, q)], r)


def equal_recall_table(
    results: Sequence[Mapping[str, Any]], targets: Sequence[float], k: int = 10, qps_key: str | None = None
) -> dict[tuple[str, int, str, str, float], EqualRecall | None]:
    """:func:`qps_at_recall` for every (dataset, n, mode, library, target) of ``results``.

    QPS is CPU QPS in ``single`` mode (steadier on a shared machine) and wall QPS in ``batch`` mode
    (a thread's CPU time says nothing about a pool's throughput), unless ``qps_key`` names one.
    """
    key = f"recall@{k}"
    out: dict[tuple[str, int, str, str, float], EqualRecall | None] = {}
    groups = dict.fromkeys((r["dataset"], r["n"], r.get("mode", "single"), r["library"]) for r in results)
    for ds, n, mode, lib in groups:
        qk = qps_key or ("cpu_qps" if mode == "single" else "qps")
        pts = [
            (float(r[key]), float(r[qk]), f"{r.get('knob', 'ef')}={r['ef']}")
            for r in results
            if (r["dataset"], r["n"], r.get("mode", "single"), r["library"]) == (ds, n, mode, lib)
        ]
        for t in targets:
            out[(ds, n, mode, lib, t)] = qps_at_recall(pts, t)
    return out


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
    try:
        info["numpy_version"] = np.__version__
    except AttributeError:
        info["numpy_version"] = None
    for lib in ("hnswlib", "faiss-hnsw", "usearch"):
        info[f"{lib.split('-')[0]}_version"] = library_version(lib)
    return info


def _at_equal_recall(results: list[dict[str, Any]], targets: Sequence[float], k: int) -> list[str]:
    """QPS each library reaches at each recall target (:func:`equal_recall_table`), one table.

    Single mode ranks by CPU QPS: on a shared machine wall time also counts preemption, which hits
    whichever library happened to run while others were busy; batch mode by wall QPS.
    """
    table = equal_recall_table(results, targets, k)
    libs = list(dict.fromkeys(r["library"] for r in results))
    lines = [
        f"| dataset | n | mode | recall@{k} >= | "
        + " | ".join(f"{lib} QPS (settings)" for lib in libs)
        + " |",
        "|---|---:|---|---:|" + "---:|" * len(libs),
    ]
    groups = list(dict.fromkeys((r["dataset"], r["n"], r.get("mode", "single")) for r in results))
    for ds, n, mode in groups:
        for t in targets:
            cells = []
            for lib in libs:
                e = table.get((ds, n, mode, lib, t))
                cells.append(
                    "—"
                    if e is None
                    else f"{e.qps:.0f} ({e.settings}{'' if e.method != 'cheapest' else ', above'})"
                )
            lines.append(f"| {ds} | {n} | {mode} | {t:.2f} | " + " | ".join(cells) + " |")
    return lines


def to_markdown(results: list[dict[str, Any]], cfg: AnnConfig) -> str:
    key = f"recall@{cfg.k}"
    lines = [
        f"| dataset | n | mode | library | version | build s (threads) | setting | {key} | QPS median [min–max] "
        "| CPU QPS | p50 µs | p99 µs median [min–max] |",
        "|---|---:|---|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['dataset']} | {r['n']} | {r.get('mode', 'single')} | {r['library']} | {r.get('version', '')} "
            f"| {r['build_s']:.1f} ({r['build_threads']}) | {r.get('knob', 'ef')}={r['ef']} "
            f"| {r[key]:.4f} | {r['qps']:.0f} [{r['qps_min']:.0f}–{r['qps_max']:.0f}] | {r['cpu_qps']:.0f} "
            f"| {r['p50_us']:.0f} "
            f"| {r['p99_us']:.0f} [{r['p99_us_min']:.0f}–{r['p99_us_max']:.0f}] |"
        )
    lines += [
        "",
        "QPS at equal recall (CPU QPS single-threaded, wall QPS in batch mode; log-QPS interpolated on each "
        "library's Pareto front between the two settings bracketing the target; 'above': every setting "
        "exceeds the target, the cheapest one's QPS):",
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
    p.add_argument("--nprobe", type=_ints, default=list(d.nprobes), help="comma-separated IVF nprobe values")
    p.add_argument("--all-cores", action="store_true", help="also run the batch mode over every core")
    p.add_argument("--k", type=int, default=d.k)
    p.add_argument("--queries", type=int, default=d.queries)
    p.add_argument("--repeats", type=int, default=d.repeats)
    p.add_argument("--threads", type=int, default=d.threads, help="build threads for hnswlib and FAISS")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--stop-recall", type=float, default=d.stop_recall,
                   help="stop a library's sweep at the first setting reaching this recall (default: sweep all)")  # fmt: skip
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
    if a.stop_recall is not None and not 0.0 < a.stop_recall <= 1.0:
        p.error(f"--stop-recall must be in (0, 1], got {a.stop_recall}")
    cfg = AnnConfig(
        sizes=a.sizes,
        dim=a.dim,
        datasets=a.datasets,
        libraries=a.libraries,
        M=a.M,
        ef_construction=a.ef_construction,
        efs=a.ef,
        nprobes=a.nprobe,
        all_cores=a.all_cores,
        k=a.k,
        queries=a.queries,
        repeats=a.repeats,
        threads=a.threads,
        seed=a.seed,
        stop_recall=a.stop_recall,
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
