"""Index quality: recall@10 of HNSW search against exact brute force on 100,000 clustered
768-dimensional vectors (see engram_harness.vectors for the generator and why it is used)."""

from __future__ import annotations

import time

import numpy as np
import pytest

import engram
from engram_harness.vectors import ClusterSpec, VectorSource, exact_knn, latent, recall_at_k

N = 100_000
N_QUERIES = 300
K = 10


def measure(
    sp: engram.Space, ids: np.ndarray, queries: np.ndarray, truth: np.ndarray, ef: int | None
) -> float:
    found = [np.searchsorted(ids, sp.search(q, k=K, ef=ef)[0]) for q in queries]
    return recall_at_k(found, truth)


@pytest.mark.slow
def test_recall_on_100k_clustered_vectors(record_property: pytest.RecordProperty) -> None:
    data, queries = latent(N, N_QUERIES)
    truth, _ = exact_knn(data, queries, K)
    with engram.Engine(dim=768) as eng:
        sp = eng.create_space("quality")
        t0 = time.perf_counter()
        ids = sp.remember_batch(data)
        build_s = time.perf_counter() - t0
        assert np.all(np.diff(ids) > 0)  # batch ids are ascending, so searchsorted maps them back to rows
        default_ef = sp.stats()["index"]["ef_search"]
        recall_default = measure(sp, ids, queries, truth, None)
        recall_256 = measure(sp, ids, queries, truth, 256)
        report = sp.validate()
    record_property("build_seconds", round(build_s, 1))
    record_property(f"recall_at_10_ef{default_ef}", recall_default)
    record_property("recall_at_10_ef256", recall_256)
    print(f"\n100K latent clusters: build {build_s:.1f}s, recall@10 ef={default_ef}: {recall_default:.4f}, "
          f"ef=256: {recall_256:.4f}, unreachable nodes: {report['unreachable']}")  # fmt: skip
    assert report["ok"], report
    assert recall_default >= 0.95
    assert recall_256 >= 0.99


@pytest.mark.slow
def test_recall_on_isotropic_clusters_is_recorded(record_property: pytest.RecordProperty) -> None:
    """Isotropic noise around 10 centres is near-random for kNN in 768-d: recorded, not asserted."""
    n = 20_000
    src = VectorSource(ClusterSpec(clusters=10, shape="isotropic", sigma=0.1))
    data, queries = src.sample(n, stream=1)[0], src.sample(200, stream=2)[0]
    truth, _ = exact_knn(data, queries, K)
    with engram.Engine(dim=768) as eng:
        sp = eng.create_space("isotropic")
        ids = sp.remember_batch(data)
        r64 = measure(sp, ids, queries, truth, 64)
        r256 = measure(sp, ids, queries, truth, 256)
        assert sp.validate()["ok"]
    record_property("isotropic_recall_at_10_ef64", r64)
    record_property("isotropic_recall_at_10_ef256", r256)
    print(
        f"\n{n // 1000}K isotropic clusters (information only): "
        f"recall@10 ef=64: {r64:.4f}, ef=256: {r256:.4f}"
    )
    # Only a sanity floor: far better than picking 10 of 20,000 at random.
    assert r64 > 10 * K / n
