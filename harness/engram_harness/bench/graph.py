"""Graph-traversal benchmark: Engram against NetworkX, Kuzu and Neo4j embedded on the same graph.

The graph (:func:`scale_free_graph`) is Barabasi-Albert: every new node attaches ``m`` edges to existing
nodes chosen with probability proportional to their degree, and each edge is oriented by a seeded coin,
so in- and out-degrees are both heavy-tailed with mean ``m`` (``n * m`` directed edges: 100,000 nodes and
``m = 10`` give ~1M edges). Weights are uniform in [0.1, 1]; every node has a category in 0..9 and the
filter keeps category 0 (10% selectivity). Every system loads the same arrays.

Workloads (one query per start node, from a fixed seeded set; the results are compared across systems):

- ``one_hop_filter``: out-neighbours of the start whose category is 0 (a count). Engram's neighbour records
  carry no node property, so its query is ``neighbors(id)`` plus ``get(n).confidence`` per neighbour (the
  category is stored as the memory's confidence, ``(cat + 1) / 10``): a per-node lookup, through Python.
- ``two_hop`` / ``three_hop``: the number of distinct nodes reachable in 1..k hops, the start excluded.
  Engram: ``spread`` with ``threshold=0`` and no fan effect (every reached node is returned; the engine's
  only multi-hop traversal, which also computes activations and sorts them); NetworkX:
  ``single_source_shortest_path_length(cutoff=k)``; Kuzu: ``-[:E* SHORTEST 1..k]->`` (its BFS; a plain
  variable-length match enumerates walks); Neo4j: ``-[:E*1..k]->`` with ``count(DISTINCT b)`` (a pruning
  BFS expand).
- ``spread``: Engram's spreading activation (3 hops, threshold 0, no fan effect, episodic weight 1, top 10)
  against the nearest equivalent elsewhere: a weighted 3-hop expansion that sums the activation per node
  at every hop (``MATCH .. WITH n, sum(..)`` three times, top 10; the same loops in Python for
  NetworkX). The work is the same shape (every edge out of the 2-hop frontier, an aggregation per hop, a
  top 10); the numbers differ (Engram also decays per hop, unions the hops and penalises revisits), so
  only the row counts are compared.

Each workload runs single-threaded and with ``threads`` concurrent workers (Engram: a thread pool, the
engine releases the GIL; Kuzu: a pool of connections with one thread each; Neo4j: a Java thread pool;
NetworkX holds the GIL, so it runs single-threaded only). Rounds interleave the systems (rotated order)
so that drift on a shared machine hits all of them alike. :class:`BenchResult` holds every latency;
:func:`summary_rows` and :func:`markdown_table` make the report; :func:`comparisons` the ratios for the
competitive history (:mod:`engram_harness.bench.competitive`).

Neo4j runs in its own JVM (``neo4j/Neo4jBench.java``) fed commands on stdin; :func:`prepare_neo4j` fetches
its jars from Maven Central once (``mvn dependency:copy-dependencies`` into ``build/neo4j-bench/lib``) and
compiles the program, or raises :class:`Neo4jUnavailable` saying why.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = [
    "WORKLOADS",
    "BenchResult",
    "EngramRunner",
    "Graph",
    "KuzuRunner",
    "Measurement",
    "Neo4jRunner",
    "Neo4jSetup",
    "Neo4jUnavailable",
    "NetworkXRunner",
    "QueryRun",
    "Runner",
    "comparisons",
    "markdown_table",
    "prepare_neo4j",
    "reference_results",
    "run_benchmark",
    "scale_free_graph",
    "start_nodes",
    "summary_rows",
    "to_json",
    "workload_name",
    "write_csv",
]

WORKLOADS: tuple[str, ...] = ("one_hop_filter", "two_hop", "three_hop", "spread")
FILTER_CATEGORY = 0
CATEGORIES = 10
HOPS = {"two_hop": 2, "three_hop": 3}
SPREAD_HOPS = 3
SPREAD_TOP = 10
NEO4J_DIR = Path(__file__).with_name("neo4j")
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_NEO4J_BUILD = REPO_ROOT / "build" / "neo4j-bench"


# --------------------------------------------------------------------------------------------------------
# The graph


@dataclass(frozen=True)
class Graph:
    """A directed graph as parallel edge arrays; nodes are ``0..n-1``."""

    n: int
    src: np.ndarray  # int64
    dst: np.ndarray  # int64
    weight: np.ndarray  # float64 in [0.1, 1]
    category: np.ndarray  # int64 in 0..CATEGORIES-1
    seed: int

    @property
    def edges(self) -> int:
        return int(self.src.size)

    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indptr, targets, weights) of the out-edges, targets sorted per node."""
        order = np.lexsort((self.dst, self.src))
        counts = np.bincount(self.src, minlength=self.n)
        indptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return indptr, self.dst[order], self.weight[order]


def scale_free_graph(n: int, m: int = 10, seed: int = 0) -> Graph:
    """Barabasi-Albert with ``m`` edges per new node, each oriented by a coin (see the module docstring).

    The first ``m`` nodes start unlinked, as in networkx's generator; node ``t >= m`` links to ``m``
    distinct earlier nodes drawn from the degree-weighted pool. Deterministic for a seed.
    """
    if n <= m or m < 1:
        raise ValueError(f"need n > m >= 1, got n={n}, m={m}")
    rng = np.random.default_rng(seed)
    e = m * (n - m)
    a = np.empty(e, dtype=np.int64)  # the new node of each edge
    b = np.empty(e, dtype=np.int64)  # the earlier node it attaches to
    pool = np.empty(2 * e, dtype=np.int64)  # every edge end once: sampling it is degree-weighted
    size = 0
    targets = np.arange(m, dtype=np.int64)
    k = 0
    for t in range(m, n):
        a[k : k + m] = t
        b[k : k + m] = targets
        k += m
        pool[size : size + m] = targets
        pool[size + m : size + 2 * m] = t
        size += 2 * m
        # m distinct draws from the pool: oversample, keep first occurrences, top up if short.
        picked: list[int] = []
        seen: set[int] = set()
        while len(picked) < m:
            for v in pool[rng.integers(0, size, size=2 * m)].tolist():
                if v not in seen:
                    seen.add(v)
                    picked.append(v)
                    if len(picked) == m:
                        break
        targets = np.asarray(picked, dtype=np.int64)
    flip = rng.random(e) < 0.5
    src = np.where(flip, b, a)
    dst = np.where(flip, a, b)
    weight = np.round(rng.uniform(0.1, 1.0, size=e), 6)  # 6 decimals: exact through CSV for every system
    category = rng.integers(0, CATEGORIES, size=n).astype(np.int64)
    return Graph(n=n, src=src, dst=dst, weight=weight, category=category, seed=seed)


def start_nodes(graph: Graph, count: int, seed: int) -> np.ndarray:
    """``count`` distinct start nodes drawn uniformly (seeded), in draw order."""
    rng = np.random.default_rng(seed)
    return rng.choice(graph.n, size=min(count, graph.n), replace=False).astype(np.int64)


def write_csv(graph: Graph, directory: Path) -> tuple[Path, Path]:
    """``nodes.csv`` (id,cat) and ``edges.csv`` (src,dst,weight), no header: what Kuzu and Neo4j load."""
    directory.mkdir(parents=True, exist_ok=True)
    nodes, edges = directory / "nodes.csv", directory / "edges.csv"
    np.savetxt(nodes, np.column_stack([np.arange(graph.n), graph.category]), fmt="%d", delimiter=",")
    with edges.open("w") as f:
        for s, d, w in zip(graph.src.tolist(), graph.dst.tolist(), graph.weight.tolist(), strict=True):
            f.write(f"{s},{d},{w!r}\n")
    return nodes, edges


def reference_results(graph: Graph, workload: str, starts: Sequence[int]) -> np.ndarray:
    """Each start's expected count, computed on the CSR arrays (the check every system must match).
    For ``spread`` it is the number of rows of a weighted 3-hop top 10: min(10, nodes at exactly 3 hops
    by some walk) -- what the competitors' query returns; ``spread_engram`` is Engram's row count,
    min(10, 1 + the 3-hop reach): its ranking holds the seed and every hop."""
    indptr, tgt, _ = graph.csr()
    out = np.empty(len(starts), dtype=np.int64)
    for i, s in enumerate(starts):
        s = int(s)
        if workload == "one_hop_filter":
            nb = tgt[indptr[s] : indptr[s + 1]]
            out[i] = int(np.count_nonzero(graph.category[nb] == FILTER_CATEGORY))
        elif workload in HOPS:
            seen = np.zeros(graph.n, dtype=bool)
            seen[s] = True
            frontier = np.array([s], dtype=np.int64)
            reached = 0
            for _ in range(HOPS[workload]):
                nxt = np.unique(np.concatenate([tgt[indptr[u] : indptr[u + 1]] for u in frontier] or [[]]))
                nxt = nxt[~seen[nxt.astype(np.int64)]].astype(np.int64)
                seen[nxt] = True
                reached += nxt.size
                frontier = nxt
                if frontier.size == 0:
                    break
            out[i] = reached
        elif workload == "spread_engram":  # spread's top 10 includes the seed and every hop
            out[i] = min(SPREAD_TOP, 1 + int(reference_results(graph, "three_hop", [s])[0]))
        elif workload == "spread":
            frontier = np.array([s], dtype=np.int64)
            for _ in range(SPREAD_HOPS):
                parts = [tgt[indptr[u] : indptr[u + 1]] for u in frontier]
                frontier = np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)
            out[i] = min(SPREAD_TOP, frontier.size)
        else:
            raise ValueError(f"unknown workload {workload!r}")
    return out


# --------------------------------------------------------------------------------------------------------
# Runners


@dataclass
class QueryRun:
    """One pass over a start set: per-query latencies (seconds), per-query results, wall time, and the
    CPU seconds spent on the queries (in process: the process's CPU time over the pass, every thread --
    Kuzu runs queries on its own threads; Neo4j: the query threads' CPU time, without the JIT's and GC's)."""

    latencies_s: np.ndarray
    results: np.ndarray
    wall_s: float
    cpu_s: float


class Runner(Protocol):
    name: str
    version: str
    settings: str
    load_s: float
    multi_threaded: bool

    def run(self, workload: str, starts: np.ndarray, threads: int) -> QueryRun: ...

    def close(self) -> None: ...


def _timed_pool(fn: Callable[[int], int], starts: Sequence[int], threads: int) -> QueryRun:
    """Run ``fn`` once per start, serially (threads <= 1) or on a pool; latency of each call."""
    lat = np.empty(len(starts), dtype=np.float64)
    res = np.empty(len(starts), dtype=np.int64)

    def one(i: int) -> None:
        t0 = time.perf_counter()
        res[i] = fn(int(starts[i]))
        lat[i] = time.perf_counter() - t0

    c0, t0 = time.process_time(), time.perf_counter()
    if threads <= 1:
        for i in range(len(starts)):
            one(i)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, range(len(starts))))
    return QueryRun(lat, res, time.perf_counter() - t0, time.process_time() - c0)


class EngramRunner:
    """The engine in process: one space, a memory per node (a ``dim``-dimensional random embedding --
    the benchmark is about traversal, the vectors only satisfy the API), an association edge per edge."""

    name = "engram"
    multi_threaded = True

    def __init__(self, graph: Graph, dim: int = 8, seed: int = 0) -> None:
        import engram

        self.version = getattr(engram, "__version__", "dev")
        self.settings = f"dim={dim},spread=threshold0-nofan"
        t0 = time.perf_counter()
        self._engine = engram.Engine(path=None, dim=dim)
        # A small HNSW build: the index is not queried here, its cost only lengthens the load.
        space = self._engine.create_space("graph", M=8, ef_construction=16)
        self._core = space._core
        emb = np.random.default_rng(seed).normal(size=(graph.n, dim)).astype(np.float32)
        conf = (graph.category + 1).astype(np.float64) / CATEGORIES
        self.ids = np.asarray(self._core.remember_batch(emb, confidences=conf), dtype=np.int64)
        self.remember_s = time.perf_counter() - t0
        link = self._core.link  # no batch link API: one call per edge
        ids = self.ids.tolist()
        for s, d, w in zip(graph.src.tolist(), graph.dst.tolist(), graph.weight.tolist(), strict=True):
            link(ids[s], ids[d], w, "association", 1.0, 1.0)
        self.load_s = time.perf_counter() - t0
        self.link_s = self.load_s - self.remember_s
        if self._core.edge_count() != graph.edges:
            raise RuntimeError(f"engram stored {self._core.edge_count()} edges of {graph.edges}")
        # confidence (cat+1)/10 is stored as float32: category 0 is the only one below 0.15
        self._cat0_below = (FILTER_CATEGORY + 1.5) / CATEGORIES

    def _one_hop_filter(self, node: int) -> int:
        get, below = self._core.get, self._cat0_below
        return sum(1 for e in self._core.neighbors(node) if get(e.id).confidence < below)

    def _spread(self, node: int, hops: int, top: int | None) -> int:
        # (ids, activations, max_hops, decay, decay_rate, threshold, fan_effect, fan_divisor, min_fan,
        #  upward_boost, upward, downward, lateral, episodic, cycle_penalty, max_results)
        r = self._core.spread(
            [node], [1.0], hops, "exponential", None, 0.0, False, "linear", 1.0, 1.2, None, None, None, 1.0,
            0.93, top,
        )  # fmt: skip
        return len(r)

    def query_fn(self, workload: str) -> Callable[[int], int]:
        ids = self.ids
        if workload == "one_hop_filter":
            return lambda i: self._one_hop_filter(int(ids[i]))
        if workload in HOPS:
            h = HOPS[workload]
            return lambda i: self._spread(int(ids[i]), h, None) - 1  # the seed is returned at hop 0
        if workload == "spread":
            return lambda i: self._spread(int(ids[i]), SPREAD_HOPS, SPREAD_TOP)
        raise ValueError(f"unknown workload {workload!r}")

    def run(self, workload: str, starts: np.ndarray, threads: int) -> QueryRun:
        return _timed_pool(self.query_fn(workload), starts, threads)

    def close(self) -> None:
        self._engine.close()


class NetworkXRunner:
    """A ``networkx.DiGraph`` with ``cat`` on nodes and ``w`` on edges (pure Python; GIL-bound)."""

    name = "networkx"
    multi_threaded = False

    def __init__(self, graph: Graph) -> None:
        import networkx as nx

        self.version = nx.__version__
        self.settings = "DiGraph"
        self._nx = nx
        t0 = time.perf_counter()
        g = nx.DiGraph()
        g.add_nodes_from((i, {"cat": c}) for i, c in enumerate(graph.category.tolist()))
        g.add_weighted_edges_from(
            zip(graph.src.tolist(), graph.dst.tolist(), graph.weight.tolist(), strict=True), weight="w"
        )
        self.load_s = time.perf_counter() - t0
        self.g = g

    def _one_hop_filter(self, u: int) -> int:
        nodes = self.g.nodes
        return sum(1 for v in self.g.succ[u] if nodes[v]["cat"] == FILTER_CATEGORY)

    def _hops(self, u: int, k: int) -> int:
        return len(self._nx.single_source_shortest_path_length(self.g, u, cutoff=k)) - 1

    def _spread(self, u: int) -> int:
        # The Cypher query's loops: per hop, sum activation * weight into each target.
        act: dict[int, float] = {u: 1.0}
        succ = self.g.succ
        for _ in range(SPREAD_HOPS):
            nxt: dict[int, float] = {}
            for v, a in act.items():
                for x, d in succ[v].items():
                    nxt[x] = nxt.get(x, 0.0) + a * d["w"]
            act = nxt
        return len(heapq.nlargest(SPREAD_TOP, act.items(), key=lambda kv: (kv[1], -kv[0])))

    def query_fn(self, workload: str) -> Callable[[int], int]:
        if workload == "one_hop_filter":
            return self._one_hop_filter
        if workload in HOPS:
            h = HOPS[workload]
            return lambda u: self._hops(u, h)
        if workload == "spread":
            return self._spread
        raise ValueError(f"unknown workload {workload!r}")

    def run(self, workload: str, starts: np.ndarray, threads: int) -> QueryRun:
        return _timed_pool(self.query_fn(workload), starts, 1)

    def close(self) -> None:
        self.g = None  # type: ignore[assignment]


KUZU_QUERIES = {
    "one_hop_filter": "MATCH (a:N)-[:E]->(b:N) WHERE a.id = $id AND b.cat = 0 RETURN count(b)",
    "two_hop": "MATCH (a:N)-[:E* SHORTEST 1..2]->(b:N) WHERE a.id = $id RETURN count(DISTINCT b.id)",
    "three_hop": "MATCH (a:N)-[:E* SHORTEST 1..3]->(b:N) WHERE a.id = $id RETURN count(DISTINCT b.id)",
    "spread": (
        "MATCH (s:N)-[r1:E]->(n1:N) WHERE s.id = $id WITH n1, sum(r1.w) AS a1 "
        "MATCH (n1)-[r2:E]->(n2:N) WITH n2, sum(a1 * r2.w) AS a2 "
        "MATCH (n2)-[r3:E]->(n3:N) WITH n3, sum(a2 * r3.w) AS a3 "
        "RETURN n3.id, a3 ORDER BY a3 DESC, n3.id LIMIT 10"
    ),
}


class KuzuRunner:
    """Kuzu on disk in ``workdir``, loaded with ``COPY`` from the CSV files; one connection per worker
    thread, each with one Kuzu thread (so ``threads`` workers use ``threads`` cores)."""

    name = "kuzu"
    multi_threaded = True

    def __init__(self, graph: Graph, workdir: Path, csv_dir: Path) -> None:
        import kuzu

        self.version = kuzu.__version__
        self.settings = "conn-per-thread,num_threads=1"
        self._kuzu = kuzu
        t0 = time.perf_counter()
        self._db = kuzu.Database(str(workdir / "kuzu.db"))
        conn = kuzu.Connection(self._db)
        conn.execute("CREATE NODE TABLE N(id INT64, cat INT64, PRIMARY KEY(id))")
        conn.execute("CREATE REL TABLE E(FROM N TO N, w DOUBLE)")
        conn.execute(f"COPY N FROM '{csv_dir / 'nodes.csv'}' (HEADER=false)")
        conn.execute(f"COPY E FROM '{csv_dir / 'edges.csv'}' (HEADER=false)")
        self.load_s = time.perf_counter() - t0
        self._local = threading.local()
        self._conns: list[object] = [conn]

    def _conn(self):
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._kuzu.Connection(self._db, num_threads=1)
            self._local.conn = c
            self._conns.append(c)
        return c

    def query_fn(self, workload: str) -> Callable[[int], int]:
        q = KUZU_QUERIES[workload]
        rows = workload == "spread"

        def fn(node: int) -> int:
            r = self._conn().execute(q, {"id": node})
            if rows:
                n = 0
                while r.has_next():
                    r.get_next()
                    n += 1
                return n
            return int(r.get_next()[0])

        return fn

    def run(self, workload: str, starts: np.ndarray, threads: int) -> QueryRun:
        self._local = threading.local()  # fresh pool threads get their own connections
        return _timed_pool(self.query_fn(workload), starts, threads)

    def close(self) -> None:
        self._conns.clear()
        self._db = None


class Neo4jUnavailable(RuntimeError):
    """Neo4j embedded cannot run here; the message says why."""


@dataclass(frozen=True)
class Neo4jSetup:
    java: str
    classpath: str
    version: str


def _pom_version() -> str:
    text = (NEO4J_DIR / "pom.xml").read_text()
    start = text.index("<neo4j.version>") + len("<neo4j.version>")
    return text[start : text.index("</neo4j.version>")].strip()


def prepare_neo4j(build_dir: Path = DEFAULT_NEO4J_BUILD, *, timeout_s: float = 900.0) -> Neo4jSetup:
    """Fetch Neo4j's jars from Maven Central (once: skipped when ``build_dir/lib`` already holds them;
    Maven caches them under ``~/.m2`` as well) and compile ``Neo4jBench.java`` (when the source is newer
    than the class). Raises :class:`Neo4jUnavailable` naming the missing tool or Maven's error."""
    java, javac, mvn = shutil.which("java"), shutil.which("javac"), shutil.which("mvn")
    if java is None or javac is None:
        raise Neo4jUnavailable("no java/javac on PATH (Neo4j 5 needs Java 17+)")
    version = _pom_version()
    lib = build_dir / "lib"
    if not (lib / f"neo4j-{version}.jar").exists():
        if mvn is None:
            raise Neo4jUnavailable(f"Neo4j's jars are not in {lib} and there is no mvn on PATH to fetch them")
        cmd = [mvn, "-q", "-B", "-f", str(NEO4J_DIR / "pom.xml"), "dependency:copy-dependencies",
               f"-DoutputDirectory={lib}"]  # fmt: skip
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as e:
            raise Neo4jUnavailable(f"fetching Neo4j from Maven Central took over {timeout_s:.0f} s") from e
        if p.returncode != 0 or not (lib / f"neo4j-{version}.jar").exists():
            tail = (p.stdout + p.stderr).strip().splitlines()[-5:]
            raise Neo4jUnavailable(
                f"mvn dependency:copy-dependencies failed (rc {p.returncode}; is Maven Central reachable?): "
                + " | ".join(tail)
            )
    classes = build_dir / "classes"
    src = NEO4J_DIR / "Neo4jBench.java"
    cls = classes / "Neo4jBench.class"
    if not cls.exists() or cls.stat().st_mtime < src.stat().st_mtime:
        classes.mkdir(parents=True, exist_ok=True)
        p = subprocess.run([javac, "-nowarn", "-d", str(classes), "-cp", f"{lib}/*", str(src)],
                           capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        if p.returncode != 0:
            raise Neo4jUnavailable(f"javac Neo4jBench.java failed: {p.stderr.strip()[-500:]}")
    return Neo4jSetup(java=java, classpath=f"{lib}/*{os.pathsep}{classes}", version=version)


class Neo4jRunner:
    """Neo4j embedded in a JVM child (``Neo4jBench``); every command and reply is bounded in time. The
    constructor starts the JVM; :meth:`wait_ready` waits for the load."""

    name = "neo4j"
    multi_threaded = True
    # Warm-up passes per workload: the JIT needs thousands of executions of a plan before its code is
    # steady (two quick runs with one pass measured Neo4j's CPU QPS 70-80% apart).
    warmup_passes = 5

    def __init__(self, setup: Neo4jSetup, workdir: Path, csv_dir: Path, *, heap_mb: int = 2048,
                 pagecache_mb: int = 512, start_timeout_s: float = 300.0, query_timeout_s: float = 300.0) -> None:  # fmt: skip
        self.settings = f"cypher,heap={heap_mb}m,pagecache={pagecache_mb}m"
        self.version = setup.version
        self._workdir = workdir
        self._timeout = query_timeout_s
        self._log = (workdir / "neo4j-stderr.log").open("w")
        cmd = [setup.java, f"-Xmx{heap_mb}m", "-XX:+UseG1GC", "-cp", setup.classpath, "Neo4jBench",
               str(csv_dir), str(workdir / "neo4j-db"), str(pagecache_mb)]  # fmt: skip
        self._start_timeout = start_timeout_s
        self._t0 = time.perf_counter()
        # Started here, waited for in wait_ready(): the JVM loads while the caller loads the others.
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                      text=True, cwd=workdir)  # fmt: skip
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.load_s = float("nan")
        self.start_s = float("nan")

    def wait_ready(self) -> Neo4jRunner:
        """Block until the database is loaded and indexed; :class:`Neo4jUnavailable` when it fails."""
        if self.start_s == self.start_s:  # not NaN: already ready
            return self
        try:
            ready = self._reply(self._start_timeout)
        except Neo4jUnavailable:
            self.close()
            raise
        if ready.get("event") != "ready":
            self.close()
            raise Neo4jUnavailable(f"Neo4j did not start: {ready.get('message', ready)}")
        self.version = str(ready.get("version", self.version))
        self.load_s = float(ready["load_s"])
        self.start_s = time.perf_counter() - self._t0  # JVM start + database creation + load + index
        return self

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.startswith("{"):
                self._lines.put(line)
        self._lines.put(None)

    def _reply(self, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Neo4jUnavailable(f"no reply from Neo4jBench within {timeout_s:.0f} s")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise Neo4jUnavailable(f"Neo4jBench exited (rc {self._proc.poll()}); see {self._log.name}")
            return json.loads(line)

    def run(self, workload: str, starts: np.ndarray, threads: int) -> QueryRun:
        path = self._workdir / f"starts-{workload}-{len(starts)}.txt"
        path.write_text("\n".join(str(int(s)) for s in starts) + "\n")
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"run {workload} {threads} {path}\n")
        self._proc.stdin.flush()
        r = self._reply(self._timeout)
        if r.get("event") != "run":
            raise RuntimeError(f"Neo4jBench: {r.get('message', r)}")
        return QueryRun(np.asarray(r["lat_ns"], dtype=np.float64) / 1e9, np.asarray(r["results"], np.int64),
                        float(r["wall_s"]), float(r["cpu_s"]))  # fmt: skip

    def close(self) -> None:
        if self._log.closed:
            return
        if self._proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self._proc.stdin is not None
                self._proc.stdin.write("quit\n")
                self._proc.stdin.flush()
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._log.close()


# --------------------------------------------------------------------------------------------------------
# The benchmark


@dataclass
class Measurement:
    """Every timed pass of one system on one workload at one thread count, all rounds together."""

    system: str
    workload: str
    threads: int
    latencies_s: list[np.ndarray] = field(default_factory=list)
    walls_s: list[float] = field(default_factory=list)
    cpus_s: list[float] = field(default_factory=list)
    results: np.ndarray | None = None
    consistent: bool = True  # the same results in every round

    @property
    def queries(self) -> int:
        return int(sum(a.size for a in self.latencies_s))

    def quantile_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        return float(np.quantile(np.concatenate(self.latencies_s), q) * 1e3)

    @property
    def qps(self) -> float:
        wall = sum(self.walls_s)
        return self.queries / wall if wall > 0 else float("nan")

    @property
    def cpu_qps_rounds(self) -> tuple[float, ...]:
        """Queries per CPU-second of each round's pass, in round order (aligned across systems)."""
        return tuple(
            a.size / c if c > 0 else float("nan") for a, c in zip(self.latencies_s, self.cpus_s, strict=True)
        )

    @property
    def cpu_qps(self) -> float:
        """Queries per CPU-second of the best pass (noise on a shared machine only ever adds time, so the
        best of the interleaved rounds is the steadiest figure): what the history compares."""
        best = [a.size / c for a, c in zip(self.latencies_s, self.cpus_s, strict=True) if c > 0]
        return max(best) if best else float("nan")


@dataclass
class BenchResult:
    nodes: int
    edges: int
    seed: int
    threads: int
    starts: dict[str, np.ndarray]
    systems: dict[str, dict[str, object]]  # name -> version, settings, load_s
    measurements: dict[tuple[str, str, int], Measurement]
    reference: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)

    def get(self, system: str, workload: str, threads: int) -> Measurement | None:
        return self.measurements.get((system, workload, threads))

    def mismatches(self, system: str, workload: str) -> int:
        """Starts whose result differs from the reference in any measured pass (every start counts as a
        mismatch when the system measured nothing)."""
        key = "spread_engram" if system == "engram" and workload == "spread" else workload
        ref = self.reference[key]
        bad = 0
        found = False
        for (s, w, _t), m in self.measurements.items():
            if s == system and w == workload and m.results is not None:
                found = True
                bad = max(bad, int(np.count_nonzero(m.results != ref)) + (0 if m.consistent else 1))
        return bad if found else int(ref.size)


def run_benchmark(
    graph: Graph,
    runners: Sequence[Runner],
    starts: dict[str, np.ndarray],
    *,
    threads: int,
    rounds: int,
    warmup: int | dict[str, int] = 5,
    deadline_s: float | None = None,
    log: Callable[[str], None] = print,
) -> BenchResult:
    """Interleaved rounds: every round runs every workload at 1 and ``threads`` workers on every runner
    (rotating which system goes first). A warm-up pass over the first ``warmup`` starts of each workload
    (a number, or one per workload) precedes the rounds and is not timed: the JVM compiles Neo4j's hot
    paths only after thousands of calls, so a few queries would leave it measured cold. Rounds after ``deadline_s`` (seconds from the call) are skipped and said so
    in ``notes`` (at least one round always runs)."""
    t_start = time.monotonic()
    result = BenchResult(
        nodes=graph.n, edges=graph.edges, seed=graph.seed, threads=threads, starts=starts,
        systems={r.name: {"version": r.version, "settings": r.settings, "load_s": r.load_s} for r in runners},
        measurements={}, reference={w: reference_results(graph, w, s) for w, s in starts.items()},
    )  # fmt: skip
    if "spread" in starts:
        result.reference["spread_engram"] = reference_results(graph, "spread_engram", starts["spread"])
    modes = sorted({1, threads})
    for r in runners:
        for w, s in starts.items():
            for _ in range(getattr(r, "warmup_passes", 1)):
                r.run(w, s[: warmup.get(w, 5) if isinstance(warmup, dict) else warmup], 1)
    for rnd in range(rounds):
        if rnd > 0 and deadline_s is not None and time.monotonic() - t_start > deadline_s:
            result.notes.append(f"stopped after {rnd} of {rounds} rounds (time budget {deadline_s:.0f} s)")
            break
        order = list(runners[rnd % len(runners) :]) + list(runners[: rnd % len(runners)])
        for w, s in starts.items():
            for t in modes:
                for r in order:
                    if t > 1 and not r.multi_threaded:
                        continue
                    q = r.run(w, s, t)
                    m = result.measurements.setdefault((r.name, w, t), Measurement(r.name, w, t))
                    m.latencies_s.append(q.latencies_s)
                    m.walls_s.append(q.wall_s)
                    m.cpus_s.append(q.cpu_s)
                    if m.results is None:
                        m.results = q.results
                    elif not np.array_equal(m.results, q.results):
                        m.consistent = False
        log(f"round {rnd + 1}/{rounds} done at {time.monotonic() - t_start:.1f} s")
    return result


def workload_name(nodes: int, degree: int, workload: str, threads: int) -> str:
    """``graph-ba-100k-10-one_hop_filter-1t-cpu``: the history's workload key (kind, generator, nodes,
    average out-degree, query, threads, CPU QPS), so that a run compares only with runs of the same size
    and mode."""
    from engram_harness.bench.competitive import workload_name as _name

    return _name("graph", "ba", nodes, degree, workload, f"{threads}t", "cpu")


def summary_rows(result: BenchResult) -> list[dict[str, object]]:
    """One row per workload, thread count and system: P50/P99 (ms, wall), QPS (wall) and CPU QPS, and
    Engram's ratios to the system (its P50 / Engram's P50; Engram's CPU QPS / its CPU QPS)."""
    rows: list[dict[str, object]] = []
    for w in result.starts:
        for t in sorted({1, result.threads}):
            ours = result.get("engram", w, t)
            for name in result.systems:
                m = result.get(name, w, t)
                if m is None:
                    continue
                row: dict[str, object] = {
                    "workload": w, "threads": t, "system": name, "queries": m.queries,
                    "p50_ms": m.quantile_ms(0.5), "p99_ms": m.quantile_ms(0.99), "qps": m.qps,
                    "cpu_qps": m.cpu_qps, "mismatches": result.mismatches(name, w),
                }  # fmt: skip
                if ours is not None and name != "engram":
                    row["engram_p50_speedup"] = m.quantile_ms(0.5) / ours.quantile_ms(0.5)
                    row["engram_cpu_qps_ratio"] = ours.cpu_qps / m.cpu_qps
                rows.append(row)
    return rows


def markdown_table(result: BenchResult) -> str:
    """The report's table (one line per workload, threads and system)."""
    head = (
        f"Graph: {result.nodes:,} nodes, {result.edges:,} edges (scale-free, seed {result.seed}); "
        f"threads 1 and {result.threads}. P50/P99/QPS: wall clock; CPU QPS: queries per CPU-second of the "
        "system (best round).\n\n"
        "| workload | threads | system | queries | P50 ms | P99 ms | QPS | CPU QPS | Engram speedup (P50) | "
        "Engram/system CPU QPS | result mismatches |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for r in summary_rows(result):
        sp = r.get("engram_p50_speedup")
        qr = r.get("engram_cpu_qps_ratio")
        lines.append(
            f"| {r['workload']} | {r['threads']} | {r['system']} | {r['queries']} | {r['p50_ms']:.3f} | "
            f"{r['p99_ms']:.3f} | {r['qps']:.1f} | {r['cpu_qps']:.1f} | {'' if sp is None else f'{sp:.2f}x'} | "
            f"{'' if qr is None else f'{qr:.2f}'} | {r['mismatches']} |"
        )
    loads = ", ".join(
        f"{k} {v['version']} ({v['settings']}) load {float(v['load_s']):.1f} s"  # type: ignore[arg-type]
        for k, v in result.systems.items()
    )
    notes = "".join(f"\n- {n}" for n in result.notes)
    return head + "\n".join(lines) + f"\n\nSystems: {loads}.{notes}\n"


def comparisons(result: BenchResult, degree: int, threads: Iterable[int] = (1,)) -> list:
    """Engram against every competitor, per workload, at each of ``threads``: CPU QPS (queries per
    CPU-second, the best round) -- the ratios the history keeps (:mod:`engram_harness.bench.competitive`;
    a list of its ``Comparison``). CPU time, not wall time: on two cores shared with other jobs wall-clock
    ratios of one build moved by 10-40% between runs minutes apart. Single-threaded only by default: the
    all-cores figures (a 2-worker pool on 2 shared cores) moved by up to 50% even in CPU time, which no
    10% rule survives; they are in the tables. A pair with a side that measured nothing is left out (the
    suite's result checks fail on it)."""
    from engram_harness.bench.competitive import Comparison

    out = []
    for w in result.starts:
        for t in sorted(set(threads)):
            ours = result.get("engram", w, t)
            if ours is None:
                continue
            for name, info in result.systems.items():
                m = result.get(name, w, t)
                if name == "engram" or m is None:
                    continue
                ev, cv = ours.cpu_qps, m.cpu_qps
                if not (np.isfinite(ev) and np.isfinite(cv) and ev > 0 and cv > 0):
                    continue
                out.append(Comparison(
                    workload=workload_name(result.nodes, degree, w, t), metric="qps", competitor=name,
                    engram_value=float(ev), competitor_value=float(cv),
                    engram_version=str(result.systems["engram"]["version"]), competitor_version=str(info["version"]),
                    engram_settings=str(result.systems["engram"]["settings"]), competitor_settings=str(info["settings"]),
                    engram_rounds=ours.cpu_qps_rounds, competitor_rounds=m.cpu_qps_rounds,
                ))  # fmt: skip
    return out


def to_json(result: BenchResult) -> dict[str, object]:
    """A JSON-able summary (the run's artefact)."""
    return {
        "nodes": result.nodes, "edges": result.edges, "seed": result.seed, "threads": result.threads,
        "systems": result.systems, "notes": result.notes, "rows": summary_rows(result),
        "starts": {w: len(s) for w, s in result.starts.items()},
    }  # fmt: skip


def tmp_workdir(prefix: str = "graph-bench-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def close_all(runners: Iterable[Runner]) -> None:
    for r in runners:
        with contextlib.suppress(Exception):
            r.close()
