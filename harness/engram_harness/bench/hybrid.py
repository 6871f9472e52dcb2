"""Hybrid vector-then-graph queries: Engram against hnswlib + NetworkX on the same vectors and graph.

A query is the top-``k`` nearest memories (HNSW, same M, ef_construction and ef on both sides) expanded
one hop along the graph: the answer is the hits plus every out-neighbour of a hit. Engram runs both
steps in the engine (``Space.search``, then ``Space.neighbors`` per hit, through the Python binding an
application uses); the competitor answers with ``hnswlib.Index.knn_query`` and the adjacency of a
``networkx.DiGraph`` holding the same edges.

The graph is Barabasi-Albert (scale free: a few hubs with hundreds of neighbours, most with ``m``),
``m`` = ``degree`` / 2 so the average degree is ``degree``; each undirected edge is stored in both
directions. Correctness is checked, not assumed: Engram's neighbours of a sample of hits must equal the
graph's, and each side's answer is scored against the exact answer (exact top-``k`` expanded the same
way), as hybrid recall.

Timing: single-threaded, one query per call, interleaved repeats (the order alternating); per-query
latency median and P99 (wall) and CPU QPS, as :mod:`engram_harness.bench.ann` measures.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engram_harness.bench.ann import library_version
from engram_harness.stats.quantiles import quantile
from engram_harness.vectors import DATASETS, exact_knn

F32 = npt.NDArray[np.float32]
COMPETITOR = "hnswlib+networkx"


@dataclass
class HybridConfig:
    n: int = 10_000
    dim: int = 768
    dataset: str = "lowrank"
    degree: int = 10
    k: int = 10
    M: int = 16
    ef_construction: int = 200
    ef: int = 64
    queries: int = 200
    repeats: int = 3
    threads: int = 2
    seed: int = 0


def _graph(cfg: HybridConfig) -> Any:
    import networkx as nx

    g = nx.barabasi_albert_graph(cfg.n, max(1, cfg.degree // 2), seed=cfg.seed)
    return nx.DiGraph(g)  # both directions of every edge, as Engram stores them


def run_hybrid(cfg: HybridConfig | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Build both sides, time the hybrid query on each; returns per-system stats and the checks' inputs."""
    import hnswlib

    import engram

    cfg = cfg or HybridConfig()
    log = log or (lambda s: None)
    base, queries = DATASETS[cfg.dataset](cfg.n, cfg.queries, cfg.dim, cfg.seed)
    graph = _graph(cfg)
    adj = graph.adj

    eng = engram.Engine(dim=cfg.dim, M=cfg.M, ef_construction=cfg.ef_construction)
    try:
        sp = eng.create_space("hybrid")
        t0 = time.perf_counter()
        ids = sp.remember_batch(base)
        first = int(ids[0])
        if not np.array_equal(ids, np.arange(first, first + cfg.n)):
            raise RuntimeError("remember_batch returned non-contiguous ids")
        for u, v in graph.edges():
            sp.link(first + int(u), first + int(v))
        engram_build = time.perf_counter() - t0

        gc.collect()
        t0 = time.perf_counter()
        hn = hnswlib.Index(space="cosine", dim=cfg.dim)
        hn.init_index(max_elements=cfg.n, M=cfg.M, ef_construction=cfg.ef_construction, random_seed=cfg.seed)
        hn.set_num_threads(cfg.threads)
        hn.add_items(base, np.arange(cfg.n))
        hn.set_num_threads(1)
        hn.set_ef(cfg.ef)
        hnswlib_build = time.perf_counter() - t0
        log(f"hybrid n={cfg.n}: engram built in {engram_build:.1f} s, hnswlib in {hnswlib_build:.1f} s")

        search, neighbors, k, ef = sp.search, sp.neighbors, cfg.k, cfg.ef

        def ours(q: F32) -> set[int]:
            hits = search(q, k, ef)[0]
            out = {int(h) - first for h in hits}
            for h in hits:
                out.update(nb.id - first for nb in neighbors(int(h)))
            return out

        knn = hn.knn_query

        def theirs(q: F32) -> set[int]:
            hits = knn(q, k=k)[0][0]
            out = {int(h) for h in hits}
            for h in hits:
                out.update(adj[int(h)])
            return out

        # Correctness of Engram's graph step: its neighbours equal the graph's for a sample of nodes.
        rng = np.random.default_rng(cfg.seed)
        sample = rng.choice(cfg.n, size=min(500, cfg.n), replace=False)
        mismatched = sum(
            1 for u in sample if {nb.id - first for nb in neighbors(first + int(u))} != set(adj[int(u)])
        )

        truth = exact_knn(base, queries, k)[0]
        exact = [set(map(int, t)).union(*(adj[int(h)] for h in t)) for t in truth]
        systems = {"engram": ours, COMPETITOR: theirs}
        for fn in systems.values():
            for q in queries[: min(50, len(queries))]:
                fn(q)
        lat: dict[str, list[npt.NDArray[np.float64]]] = {s: [] for s in systems}
        cpu: dict[str, list[float]] = {s: [] for s in systems}
        found: dict[str, list[set[int]]] = {s: [] for s in systems}
        names = list(systems)
        clock = time.perf_counter_ns
        for r in range(cfg.repeats):
            for j in range(len(names)):
                name = names[(j + r) % len(names)]
                fn = systems[name]
                times = np.empty(len(queries), dtype=np.float64)
                c0 = time.thread_time()
                for i, q in enumerate(queries):
                    t0n = clock()
                    res = fn(q)
                    times[i] = clock() - t0n
                    if r == 0:
                        found[name].append(res)
                cpu[name].append(time.thread_time() - c0)
                lat[name].append(times * 1e-9)
        stats: dict[str, dict[str, Any]] = {}
        for name in names:
            p99 = [quantile(p, 0.99) * 1e3 for p in lat[name]]
            p50 = [quantile(p, 0.5) * 1e3 for p in lat[name]]
            cpu_qps = [len(queries) / c for c in cpu[name]]
            qps = [len(p) / float(p.sum()) for p in lat[name]]
            recall = float(np.mean([len(f & e) / len(e) for f, e in zip(found[name], exact, strict=True)]))
            stats[name] = {
                "p50_ms": quantile(p50, 0.5),
                "p99_ms": quantile(p99, 0.5),
                "p99_ms_min": min(p99),
                "p99_ms_max": max(p99),
                "qps": quantile(qps, 0.5),
                "cpu_qps": quantile(cpu_qps, 0.5),
                "cpu_qps_rounds": cpu_qps,  # one per interleaved repeat, aligned across systems
                "hybrid_recall": recall,
                "mean_answer": float(np.mean([len(f) for f in found[name]])),
            }
        return {
            "config": dict(vars(cfg)),
            "edges": graph.number_of_edges(),
            "engram_edges": sp.edge_count(),
            "neighbour_mismatches": mismatched,
            "neighbour_sample": len(sample),
            "build_s": {"engram": engram_build, COMPETITOR: hnswlib_build},
            "versions": {
                "engram": library_version("engram"),
                COMPETITOR: f"hnswlib {library_version('hnswlib')}, networkx {_nx_version()}",
            },
            "settings": f"M={cfg.M},efc={cfg.ef_construction},ef={cfg.ef},k={cfg.k},hops=1",
            "stats": stats,
        }
    finally:
        eng.close()


def _nx_version() -> str:
    import networkx as nx

    return str(nx.__version__)
