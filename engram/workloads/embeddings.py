"""Deterministic embedding generator: the vector of an index depends only on (spec, index).

Clustered (the reference loadtest's default): ``clusters`` centres drawn U(-1, 1) per dimension, each
from its own cluster-id seed; a vector is its cluster's centre plus Gaussian noise of standard deviation
``sigma`` per dimension, clamped to [-1, 1] and L2-normalised. ``uniform``: U(-1, 1) per dimension,
L2-normalised.

Vectors are generated in blocks of :data:`BLOCK` consecutive indices, each block from its own seed, so
any subset can be produced without generating everything before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from engram.workloads._toml import Table

BLOCK = 64
#: Index offset of "fresh" query vectors, which belong to no stored item.
FRESH_BASE = 1 << 40

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class EmbeddingSpec:
    dim: int = 768
    distribution: str = "clustered"
    clusters: int = 10
    sigma: float = 0.1
    seed: int = 0

    def centres(self) -> F32:
        return _centres(self)

    def cluster_of(self, indices: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Cluster id of each index (-1 for the uniform distribution)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        out = np.full(idx.shape, -1, dtype=np.int64)
        if self.distribution != "clustered":
            return out
        for b, rows in _groups(idx):
            out[rows] = _block(self, b)[1][idx[rows] % BLOCK]
        return out

    def vectors(self, indices: npt.ArrayLike) -> F32:
        """``(len(indices), dim)`` float32, unit norm rows."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        out = np.empty((len(idx), self.dim), dtype=np.float32)
        for b, rows in _groups(idx):
            out[rows] = _block(self, b)[0][idx[rows] % BLOCK]
        return out


def _groups(idx: npt.NDArray[np.int64]) -> list[tuple[int, npt.NDArray[np.int64]]]:
    """``(block, row positions)`` for every block the indices touch, in one sort."""
    if len(idx) == 0:
        return []
    blocks = idx // BLOCK
    order = np.argsort(blocks, kind="stable")
    sb = blocks[order]
    cuts = np.flatnonzero(np.diff(sb)) + 1
    return [(int(sb[part[0]]), order[part[0] : part[-1] + 1]) for part in np.split(np.arange(len(sb)), cuts)]


@lru_cache(maxsize=16)
def _centres(spec: EmbeddingSpec) -> F32:
    rows = [
        np.random.default_rng([spec.seed, 0xC3, c]).uniform(-1.0, 1.0, spec.dim) for c in range(spec.clusters)
    ]
    return np.asarray(rows, dtype=np.float32).reshape(spec.clusters, spec.dim)


@lru_cache(maxsize=4096)
def _block(spec: EmbeddingSpec, block: int) -> tuple[F32, npt.NDArray[np.int64]]:
    rng = np.random.default_rng([spec.seed, 0xB1, block])
    if spec.distribution == "clustered":
        cluster = rng.integers(0, spec.clusters, size=BLOCK, dtype=np.int64)
        v = _centres(spec)[cluster] + rng.normal(0.0, spec.sigma, size=(BLOCK, spec.dim)).astype(np.float32)
        v = np.clip(v, -1.0, 1.0)
    else:
        cluster = np.full(BLOCK, -1, dtype=np.int64)
        v = rng.uniform(-1.0, 1.0, size=(BLOCK, spec.dim)).astype(np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.where(norms > 0, norms, 1.0)
    v.setflags(write=False)
    return v.astype(np.float32, copy=False), cluster


def parse_data(tab: Table, default_seed: int) -> tuple[EmbeddingSpec, int]:
    """``[data]``: the embedding spec and ``preload`` (items remembered before the run starts)."""
    dist = tab.string("distribution", "clustered", choices=("clustered", "uniform"))
    spec = EmbeddingSpec(
        dim=tab.integer("dim", 768, lo=1),
        distribution=dist,
        clusters=tab.integer("clusters", 10, lo=1) if dist == "clustered" else 1,
        sigma=tab.number("sigma", 0.1, lo=0.0) if dist == "clustered" else 0.0,
        seed=tab.integer("seed", default_seed, lo=0),
    )
    preload = tab.integer("preload", 0, lo=0)
    tab.reject_unknown()
    return spec, preload
