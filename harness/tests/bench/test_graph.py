"""engram_harness.bench.graph (workflow 112's graph half): the generator, the reference counts, each
in-process runner against the reference on small graphs, the benchmark loop and its tables, the Neo4j
runner's protocol (against a fake JVM) and its set-up errors. Nothing here starts Java."""

from __future__ import annotations

import importlib
import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from engram_harness.bench import graph as G


def _require(module: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"needs {module}: {exc}")
        pytest.skip(f"needs {module}: {exc}")


def _tiny() -> G.Graph:
    # 0->1, 1->2, 2->0, 2->3, 3->4, 1->3; node 5 isolated; categories alternate 0/1.
    src = np.array([0, 1, 2, 2, 3, 1], dtype=np.int64)
    dst = np.array([1, 2, 0, 3, 4, 3], dtype=np.int64)
    return G.Graph(n=6, src=src, dst=dst, weight=np.full(6, 0.5), category=np.arange(6) % 2, seed=0)


@pytest.fixture(scope="module")
def small() -> G.Graph:
    return G.scale_free_graph(600, 4, seed=7)


def _starts(g: G.Graph) -> dict[str, np.ndarray]:
    return {w: G.start_nodes(g, 25, i) for i, w in enumerate(G.WORKLOADS)}


def test_scale_free_graph_shape_and_determinism() -> None:
    n, m = 3000, 5
    g = G.scale_free_graph(n, m, seed=3)
    assert g.edges == m * (n - m)
    assert np.all(g.src != g.dst)
    pairs = {(min(a, b), max(a, b)) for a, b in zip(g.src.tolist(), g.dst.tolist(), strict=True)}
    assert len(pairs) == g.edges  # every pair linked once, in one direction
    assert g.weight.min() >= 0.1 and g.weight.max() <= 1.0
    assert set(np.unique(g.category)) <= set(range(G.CATEGORIES))
    assert 0.07 < np.mean(g.category == G.FILTER_CATEGORY) < 0.13  # ~10% selectivity
    out_deg = np.bincount(g.src, minlength=n)
    in_deg = np.bincount(g.dst, minlength=n)
    assert out_deg.mean() == pytest.approx(m, rel=0.01)
    # heavy tails both ways: hubs far above the mean (a random graph's max would be ~3x)
    assert out_deg.max() > 10 * m and in_deg.max() > 10 * m
    again = G.scale_free_graph(n, m, seed=3)
    assert np.array_equal(g.src, again.src) and np.array_equal(g.dst, again.dst)
    assert np.array_equal(g.weight, again.weight) and np.array_equal(g.category, again.category)
    other = G.scale_free_graph(n, m, seed=4)
    assert not np.array_equal(g.src, other.src)
    with pytest.raises(ValueError):
        G.scale_free_graph(5, 5)


def test_reference_results_on_a_hand_checked_graph() -> None:
    g = _tiny()
    starts = [0, 1, 2, 5]
    # one hop, category 0: 0->{1}: 0; 1->{2,3}: 1; 2->{0,3}: 1; 5: 0
    assert G.reference_results(g, "one_hop_filter", starts).tolist() == [0, 1, 1, 0]
    # within 2 hops, start excluded: 0: {1,2,3}; 1: {2,3,0,4}; 2: {0,3,1,4}; 5: {}
    assert G.reference_results(g, "two_hop", starts).tolist() == [3, 4, 4, 0]
    # within 3 hops: 0 reaches {1,2,3,4} (the way back to 0 is not counted)
    assert G.reference_results(g, "three_hop", starts).tolist() == [4, 4, 4, 0]
    # nodes at exactly 3 hops by some walk: 0: {0,3,4}; 1: {1,3,4}... (at most 10)
    assert G.reference_results(g, "spread", [0, 5]).tolist() == [3, 0]
    assert G.reference_results(g, "spread_engram", [0, 5]).tolist() == [5, 1]
    with pytest.raises(ValueError):
        G.reference_results(g, "four_hop", starts)


def test_start_nodes_distinct_and_seeded(small: G.Graph) -> None:
    a = G.start_nodes(small, 50, 1)
    assert len(set(a.tolist())) == 50 and a.min() >= 0 and a.max() < small.n
    assert np.array_equal(a, G.start_nodes(small, 50, 1))
    assert len(G.start_nodes(small, 10_000, 1)) == small.n


def test_engram_runner_matches_reference(small: G.Graph) -> None:
    r = G.EngramRunner(small, dim=4)
    try:
        assert r.load_s > 0 and r.link_s >= 0
        for w, s in _starts(small).items():
            key = "spread_engram" if w == "spread" else w
            ref = G.reference_results(small, key, s)
            for threads in (1, 2):
                q = r.run(w, s, threads)
                assert q.results.tolist() == ref.tolist(), (w, threads)
                assert q.latencies_s.shape == (len(s),) and np.all(q.latencies_s > 0) and q.wall_s > 0
                assert q.cpu_s >= 0
    finally:
        r.close()


def test_networkx_runner_matches_reference(small: G.Graph) -> None:
    _require("networkx")
    r = G.NetworkXRunner(small)
    for w, s in _starts(small).items():
        assert r.run(w, s, 2).results.tolist() == G.reference_results(small, w, s).tolist(), w


def test_kuzu_runner_matches_reference(small: G.Graph, tmp_path: Path) -> None:
    _require("kuzu")
    G.write_csv(small, tmp_path / "csv")
    r = G.KuzuRunner(small, tmp_path, tmp_path / "csv")
    try:
        for w, s in _starts(small).items():
            ref = G.reference_results(small, w, s).tolist()
            assert r.run(w, s, 1).results.tolist() == ref, w
            assert r.run(w, s, 2).results.tolist() == ref, w
    finally:
        r.close()


def test_write_csv_round_trips(tmp_path: Path) -> None:
    g = G.scale_free_graph(200, 3, seed=1)
    nodes, edges = G.write_csv(g, tmp_path)
    n = np.loadtxt(nodes, delimiter=",", dtype=np.int64)
    e = np.loadtxt(edges, delimiter=",")
    assert np.array_equal(n[:, 1], g.category) and np.array_equal(n[:, 0], np.arange(g.n))
    assert np.array_equal(e[:, 0].astype(np.int64), g.src) and np.array_equal(e[:, 2], g.weight)


def test_benchmark_tables_and_comparisons(small: G.Graph) -> None:
    _require("networkx")
    runners = [G.EngramRunner(small, dim=4), G.NetworkXRunner(small)]
    starts = _starts(small)
    try:
        res = G.run_benchmark(small, runners, starts, threads=2, rounds=2, warmup=2, log=lambda _: None)
    finally:
        G.close_all(runners)
    for w in G.WORKLOADS:
        assert res.mismatches("engram", w) == 0 and res.mismatches("networkx", w) == 0
        assert res.get("engram", w, 1).queries == 2 * len(starts[w])
        assert res.get("engram", w, 2) is not None
        assert res.get("networkx", w, 2) is None  # GIL-bound: single-threaded only
    assert res.mismatches("kuzu", "two_hop") == len(starts["two_hop"])  # not measured: every start counts
    rows = G.summary_rows(res)
    assert {r["system"] for r in rows} == {"engram", "networkx"}
    nx_row = next(r for r in rows if r["system"] == "networkx" and r["workload"] == "two_hop")
    assert nx_row["engram_p50_speedup"] > 0 and nx_row["qps"] > 0
    table = G.markdown_table(res)
    assert all(w in table for w in G.WORKLOADS) and "| engram |" in table
    comps = G.comparisons(res, 4)
    assert {c.workload for c in comps} == {f"graph-ba-600-4-{w}-1t-cpu" for w in G.WORKLOADS}
    assert all(c.metric == "qps" and c.competitor == "networkx" for c in comps)
    assert all(c.engram_value == res.get("engram", c.workload.split("-")[4], 1).cpu_qps for c in comps)
    assert G.to_json(res)["rows"]


def test_rounds_stop_at_the_deadline(small: G.Graph) -> None:
    runners = [G.EngramRunner(small, dim=4)]
    try:
        res = G.run_benchmark(small, runners, {"one_hop_filter": np.arange(5)}, threads=1, rounds=5,
                              deadline_s=0.0, log=lambda _: None)  # fmt: skip
    finally:
        G.close_all(runners)
    assert res.get("engram", "one_hop_filter", 1).queries == 5  # one round always runs
    assert res.notes and "stopped after 1 of 5 rounds" in res.notes[0]


def test_measurement_without_samples_is_nan() -> None:
    m = G.Measurement("engram", "two_hop", 1)
    assert np.isnan(m.quantile_ms(0.5)) and np.isnan(m.qps) and np.isnan(m.cpu_qps)


def test_workload_name() -> None:
    assert G.workload_name(100_000, 10, "one_hop_filter", 1) == "graph-ba-100k-10-one_hop_filter-1t-cpu"
    assert G.workload_name(10_000, 10, "spread", 2) == "graph-ba-10k-10-spread-2t-cpu"


def test_prepare_neo4j_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(G.shutil, "which", lambda _name: None)
    with pytest.raises(G.Neo4jUnavailable, match="no java"):
        G.prepare_neo4j(tmp_path)
    monkeypatch.setattr(G.shutil, "which", lambda name: None if name == "mvn" else f"/usr/bin/{name}")
    with pytest.raises(G.Neo4jUnavailable, match="no mvn"):
        G.prepare_neo4j(tmp_path)


_FAKE_JVM = """#!{python}
import json, sys
print(json.dumps({{"event": "ready", "version": "fake", "load_s": 0.5}}), flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "quit":
        break
    if cmd[1] == "broken":
        print(json.dumps({{"event": "error", "message": "unknown workload broken"}}), flush=True)
        continue
    starts = [int(x) for x in open(cmd[3]).read().split()]
    print("log noise, not JSON", flush=True)
    print(json.dumps({{"event": "run", "workload": cmd[1], "threads": int(cmd[2]), "wall_s": 0.01, "cpu_s": 0.02,
                       "lat_ns": [1000] * len(starts), "results": [s * 2 for s in starts]}}), flush=True)
"""


def _fake_setup(tmp_path: Path, body: str) -> G.Neo4jSetup:
    java = tmp_path / "fake-java"
    java.write_text(body.format(python=sys.executable))
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return G.Neo4jSetup(java=str(java), classpath="", version="x")


def test_neo4j_runner_protocol_with_a_fake_jvm(tmp_path: Path) -> None:
    r = G.Neo4jRunner(_fake_setup(tmp_path, _FAKE_JVM), tmp_path, tmp_path, query_timeout_s=30)
    try:
        assert r.wait_ready() is r and r.version == "fake" and r.load_s == 0.5
        q = r.run("two_hop", np.array([1, 2, 3]), 2)
        assert q.results.tolist() == [2, 4, 6] and np.allclose(q.latencies_s, 1e-6) and q.cpu_s == 0.02
        with pytest.raises(RuntimeError, match="unknown workload"):
            r.run("broken", np.array([1]), 1)
    finally:
        r.close()
    r.close()  # twice is harmless


def test_neo4j_runner_reports_a_dead_jvm(tmp_path: Path) -> None:
    setup = _fake_setup(tmp_path, "#!/bin/sh\necho 'Error: could not start' >&2\nexit 3\n")
    r = G.Neo4jRunner(setup, tmp_path, tmp_path, start_timeout_s=30)
    with pytest.raises(G.Neo4jUnavailable, match="exited"):
        r.wait_ready()
