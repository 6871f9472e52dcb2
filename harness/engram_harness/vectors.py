"""Synthetic embeddings with known structure (the project's one generator of test vectors) and exact
nearest-neighbour ground truth.

A :class:`ClusterSpec` describes a mixture of clusters and :class:`VectorSource` draws from it.
Within a cluster, points take one of two shapes:

``latent`` (the default; resembles real text embeddings): points vary along a few directions rather
than all of them. Each cluster ``c`` has its own random orthonormal basis ``B_c`` (``latent_dim`` x
``dim``); a point is ``x = c + (z * spread) @ B_c + noise`` with ``z ~ N(0, I)`` and ``noise ~ N(0,
noise_std^2 I)``. Per-axis spread decays as a power law (``spectrum_decay``), as the principal
components of sentence-embedding models do, with total within-cluster spread ``latent_scale``.

``isotropic``: the centre plus ``N(0, sigma^2)`` noise in every dimension, optionally clamped to
[-1, 1] (the requirements' load generator: ``centres="cube"``, ``sigma=0.1``, ``clamp=True``). In 768
dimensions such noise swamps the neighbourhood structure: the true 10 nearest neighbours are
barely nearer than the next hundred, so any approximate index scores a low recall on it (hnswlib
and Engram both reach about 0.4-0.5 recall@10 at ef=64): a documented worst case, not a quality
bar. In 32 dimensions with ``centres="normal"`` it gives the well-separated clusters the
consolidation and recall tests use.

``lowrank``: one shared ``latent_dim``-dimensional subspace holds every cluster (centres N(0, 1) in
it, per-cluster spread U(0.3, 1.0)), mapped into ``dim`` dimensions by a fixed random linear map,
normalised, offset by a common mean direction of norm ``mean_norm`` plus isotropic noise
``noise_std``, then normalised again: low intrinsic dimension and a shared mean, as text embeddings
have (the ANN benchmark's realistic data; graph search finds neighbours quickly on it).

``uniform``: no clusters, U(-1, 1) per dimension.

Centres are ``sphere`` (unit-norm Gaussian directions), ``cube`` (U(-1, 1) per dimension) or
``normal`` (N(0, 1) per dimension); with ``max_centre_cos`` they are redrawn until no two have a
cosine above it (random centres occasionally land close together, and merging them is then the
correct answer for a clustering, not a failure). Points are L2-normalised unless
``normalise=False``.

Two ways to draw, both deterministic given the spec:

- :meth:`VectorSource.at`: the vector at an index depends only on ``(spec, index)`` (blocks of
  :data:`BLOCK` indices, each from its own seed), so a scenario can produce any subset without
  generating what comes before it; indices from :data:`FRESH_BASE` on are "fresh" queries that
  belong to no stored item.
- :meth:`VectorSource.sample` (``n`` points of one stream; different streams are independent draws)
  and :meth:`VectorSource.balanced` (exactly ``per_cluster`` points of every cluster, shuffled).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

#: Indices per independently seeded block of :meth:`VectorSource.at`.
BLOCK = 64
#: Index offset of "fresh" query vectors, which belong to no stored item.
FRESH_BASE = 1 << 40


def normalise_rows(x: npt.ArrayLike) -> F32:
    """Rows scaled to unit L2 norm (float32); rows of zeros are left as they are."""
    a = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(a, axis=-1, keepdims=True)
    return np.divide(a, norms, out=np.zeros_like(a), where=norms > 0).astype(np.float32, copy=False)


def unit_gaussian(rng: np.random.Generator, n: int, dim: int) -> F32:
    """``n`` random unit-norm float32 rows with no structure (directions uniform on the sphere)."""
    return normalise_rows(rng.standard_normal((n, dim)).astype(np.float32))


@dataclass(frozen=True)
class ClusterSpec:
    """Parameters of the cluster model (see the module docstring)."""

    dim: int = 768
    clusters: int = 100
    shape: Literal["latent", "isotropic", "lowrank", "uniform"] = "latent"
    centres: Literal["sphere", "cube", "normal"] = "sphere"
    sigma: float = 0.1  # isotropic: noise standard deviation per dimension
    clamp: bool = False  # isotropic: clamp to [-1, 1] before normalising
    latent_dim: int = 32
    latent_scale: float = 1.0
    spectrum_decay: float = 0.0
    noise_std: float = 0.01
    mean_norm: float = 0.6  # lowrank: norm of the shared mean direction
    max_centre_cos: float | None = None
    normalise: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dim < 1 or self.clusters < 1:
            raise ValueError(f"dim and clusters must be at least 1, got {self.dim} and {self.clusters}")
        if self.shape == "latent" and self.latent_dim > self.dim:
            raise ValueError(f"latent_dim must be at most dim ({self.dim}), got {self.latent_dim}")
        if self.shape not in ("latent", "isotropic", "lowrank", "uniform"):
            raise ValueError(f"shape must be latent, isotropic, lowrank or uniform, got {self.shape!r}")
        if self.centres not in ("sphere", "cube", "normal"):
            raise ValueError(f"centres must be sphere, cube or normal, got {self.centres!r}")

    def vectors(self, indices: npt.ArrayLike) -> F32:
        """``(len(indices), dim)`` float32: the points at ``indices`` (:meth:`VectorSource.at`)."""
        return source(self).at(indices)[0]

    def cluster_of(self, indices: npt.ArrayLike) -> I64:
        """Cluster of the point at each index (-1 for ``uniform``)."""
        return source(self).at(indices)[1]


class VectorSource:
    """Draws points of a :class:`ClusterSpec`. The fixed part of the model (centres, bases) is built
    once; use :func:`source` for a cached instance per spec."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec

    @cached_property
    def centres(self) -> F32:
        """``(clusters, dim)`` float32; each centre from its own seed (``max_centre_cos`` redraws)."""
        s = self.spec
        rows: list[npt.NDArray[np.float32]] = []
        for c in range(s.clusters):
            rng = np.random.default_rng([s.seed, 0xC3, c])
            while True:
                if s.centres == "cube":
                    v = rng.uniform(-1.0, 1.0, s.dim).astype(np.float32)
                else:
                    v = rng.standard_normal(s.dim).astype(np.float32)
                    if s.centres == "sphere":
                        v /= np.linalg.norm(v)
                if s.max_centre_cos is None or not rows or _max_cos(np.asarray(rows), v) <= s.max_centre_cos:
                    break
            rows.append(v)
        return np.asarray(rows, dtype=np.float32).reshape(s.clusters, s.dim)

    @cached_property
    def _bases(self) -> F32:
        """One orthonormal latent basis per cluster (rows of ``B_c``), from QR of a Gaussian matrix."""
        s = self.spec
        bases = np.empty((s.clusters, s.latent_dim, s.dim), dtype=np.float32)
        for c in range(s.clusters):
            q, _ = np.linalg.qr(
                np.random.default_rng([s.seed, 0xBA, c]).standard_normal((s.dim, s.latent_dim))
            )
            bases[c] = q.T
        return bases

    @cached_property
    def _spread(self) -> F32:
        s = self.spec
        axis = np.arange(1, s.latent_dim + 1, dtype=np.float64) ** (-s.spectrum_decay)
        # Scaled so that E||(z * spread) @ B_c||^2 = latent_scale^2 (B_c has orthonormal rows).
        return (axis * s.latent_scale / np.sqrt(np.sum(axis**2))).astype(np.float32)

    @cached_property
    def _subspace(self) -> tuple[F32, F32, F32, F32]:
        """lowrank: (latent centres, per-cluster spread, map latent -> dim, shared mean)."""
        s = self.spec
        rng = np.random.default_rng([s.seed, 0x10])
        basis = rng.standard_normal((s.latent_dim, s.dim)).astype(np.float32) / np.float32(
            np.sqrt(s.latent_dim)
        )
        mean = rng.standard_normal(s.dim).astype(np.float32)
        mean *= np.float32(s.mean_norm) / np.linalg.norm(mean)
        centres = rng.standard_normal((s.clusters, s.latent_dim)).astype(np.float32)
        spread = rng.uniform(0.3, 1.0, s.clusters).astype(np.float32)
        return centres, spread, basis, mean

    def _labels(self, rng: np.random.Generator, n: int) -> I64:
        if self.spec.shape == "uniform":
            return np.full(n, -1, dtype=np.int64)
        return rng.integers(0, self.spec.clusters, size=n, dtype=np.int64)

    def points(self, labels: npt.ArrayLike, rng: np.random.Generator) -> F32:
        """One point per label (cluster index; ignored for ``uniform``), drawn with ``rng``."""
        s = self.spec
        lab = np.asarray(labels, dtype=np.int64)
        n = len(lab)
        if s.shape == "uniform":
            out = rng.uniform(-1.0, 1.0, size=(n, s.dim)).astype(np.float32)
        elif s.shape == "lowrank":
            centres, spread, basis, mean = self._subspace
            z = centres[lab] + spread[lab, None] * rng.standard_normal((n, s.latent_dim), dtype=np.float32)
            out = normalise_rows(z @ basis) + mean
            out += rng.standard_normal((n, s.dim), dtype=np.float32) * np.float32(s.noise_std)
        elif s.shape == "isotropic":
            out = self.centres[lab] + rng.normal(0.0, s.sigma, size=(n, s.dim)).astype(np.float32)
            if s.clamp:
                np.clip(out, -1.0, 1.0, out=out)
        else:
            z = rng.standard_normal((n, s.latent_dim), dtype=np.float32) * self._spread
            out = self.centres[lab] + rng.standard_normal((n, s.dim), dtype=np.float32) * np.float32(
                s.noise_std
            )
            for c in np.unique(lab):  # one matrix product per cluster
                sel = np.flatnonzero(lab == c)
                out[sel] += z[sel] @ self._bases[c]
        return normalise_rows(out) if s.normalise else out.astype(np.float32, copy=False)

    def sample(self, n: int, stream: int = 1) -> tuple[F32, I64]:
        """``n`` points and their cluster labels (-1 for ``uniform``); streams are independent draws."""
        rng = np.random.default_rng([self.spec.seed, 0x5A, stream])
        labels = self._labels(rng, n)
        return self.points(labels, rng), labels

    def balanced(self, per_cluster: int, rng: np.random.Generator) -> tuple[F32, I64]:
        """Exactly ``per_cluster`` points of every cluster, in a random order drawn from ``rng``."""
        labels = rng.permutation(np.repeat(np.arange(self.spec.clusters, dtype=np.int64), per_cluster))
        return self.points(labels, rng), labels

    def at(self, indices: npt.ArrayLike) -> tuple[F32, I64]:
        """The points at ``indices`` and their labels; each depends only on (spec, index)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        out = np.empty((len(idx), self.spec.dim), dtype=np.float32)
        labels = np.empty(len(idx), dtype=np.int64)
        for b, rows in _groups(idx):
            v, lab = _block(self, b)
            out[rows] = v[idx[rows] % BLOCK]
            labels[rows] = lab[idx[rows] % BLOCK]
        return out, labels


@lru_cache(maxsize=32)
def source(spec: ClusterSpec) -> VectorSource:
    """A shared :class:`VectorSource` per spec (its centres and bases are built once)."""
    return VectorSource(spec)


@lru_cache(maxsize=4096)
def _block(src: VectorSource, block: int) -> tuple[F32, I64]:
    rng = np.random.default_rng([src.spec.seed, 0xB1, block])
    labels = src._labels(rng, BLOCK)
    v = src.points(labels, rng)
    v.setflags(write=False)
    labels.setflags(write=False)
    return v, labels


def _groups(idx: I64) -> list[tuple[int, I64]]:
    """``(block, row positions)`` for every block the indices touch, in one sort."""
    if len(idx) == 0:
        return []
    blocks = idx // BLOCK
    order = np.argsort(blocks, kind="stable")
    sb = blocks[order]
    cuts = np.flatnonzero(np.diff(sb)) + 1
    return [(int(sb[part[0]]), order[part[0] : part[-1] + 1]) for part in np.split(np.arange(len(sb)), cuts)]


def _max_cos(rows: npt.NDArray[np.float32], v: npt.NDArray[np.float32]) -> float:
    return float(np.max(rows @ v / (np.linalg.norm(rows, axis=1) * np.linalg.norm(v))))


# --- Named data sets (benchmarks and quality tests) -------------------------------------------


def latent(n: int, n_queries: int, dim: int = 768, seed: int = 0, **kw: object) -> tuple[F32, F32]:
    """Data and held-out queries from the latent-cluster model (independent draws of the same
    clusters): 100 unit centres with 32-d latent bases unless ``kw`` overrides them."""
    src = VectorSource(ClusterSpec(dim=dim, seed=seed, **kw))  # type: ignore[arg-type]
    return src.sample(n, stream=1)[0], src.sample(n_queries, stream=2)[0]


def gaussian(n: int, n_queries: int, dim: int = 768, seed: int = 0, **kw: object) -> tuple[F32, F32]:
    """Data and queries from the requirements' load generator: 10 centres U(-1, 1) per dimension,
    isotropic noise 0.1, clamped to [-1, 1] (intrinsically hard for any ANN index)."""
    opts: dict[str, object] = {"clusters": 10, "shape": "isotropic", "centres": "cube", "clamp": True, **kw}
    src = VectorSource(ClusterSpec(dim=dim, seed=seed, **opts))  # type: ignore[arg-type]
    return src.sample(n, stream=1)[0], src.sample(n_queries, stream=2)[0]


def lowrank(n: int, n_queries: int, dim: int = 768, seed: int = 0, **kw: object) -> tuple[F32, F32]:
    """Data and queries with low intrinsic dimension and a shared mean direction (``lowrank`` shape:
    100 clusters in one 32-d subspace, noise 0.03): the ANN benchmark's realistic data."""
    opts: dict[str, object] = {"shape": "lowrank", "noise_std": 0.03, **kw}
    src = VectorSource(ClusterSpec(dim=dim, seed=seed, **opts))  # type: ignore[arg-type]
    return src.sample(n, stream=1)[0], src.sample(n_queries, stream=2)[0]


def separated_clusters(
    rng: np.random.Generator,
    n_clusters: int,
    per_cluster: int,
    dim: int = 32,
    sigma: float = 0.25,
    max_centre_cos: float = 0.3,
) -> tuple[F32, I64, F32]:
    """Well-separated clusters for the consolidation, recall and completion tests: ``per_cluster``
    points around each of ``n_clusters`` N(0, 1) centres with noise ``sigma`` per dimension, shuffled,
    not normalised. Returns (points, cluster label per point, centres); everything comes from ``rng``.

    In 32 dimensions random centres have |cos| of about 0.2 while points of one cluster at sigma 0.25
    have cos of about 0.94 to each other; centres are redrawn until no two have cosine above
    ``max_centre_cos``."""
    src = VectorSource(
        ClusterSpec(dim=dim, clusters=n_clusters, shape="isotropic", centres="normal", sigma=sigma,
                    max_centre_cos=max_centre_cos, normalise=False, seed=int(rng.integers(2**62)))
    )  # fmt: skip
    x, labels = src.balanced(per_cluster, rng)
    return x, labels, src.centres


DATASETS = {"latent": latent, "lowrank": lowrank, "gaussian": gaussian}


# --- Ground truth ---------------------------------------------------------------------------


def exact_knn(data: npt.ArrayLike, queries: npt.ArrayLike, k: int, *, chunk: int = 256) -> tuple[I64, F32]:
    """Exact top-``k`` rows of ``data`` by cosine similarity for each query: (indices, similarities),
    best first. Rows need not be normalised. Ties are broken by the lower index."""
    d = normalise_rows(data)
    q = normalise_rows(np.atleast_2d(np.asarray(queries, dtype=np.float32)))
    k = min(k, d.shape[0])
    idx = np.empty((q.shape[0], k), dtype=np.int64)
    sims = np.empty((q.shape[0], k), dtype=np.float32)
    for start in range(0, q.shape[0], chunk):
        s = q[start : start + chunk] @ d.T
        part = (
            np.argpartition(-s, k - 1, axis=1)[:, :k]
            if k < d.shape[0]
            else np.tile(np.arange(k), (len(s), 1))
        )
        ps = np.take_along_axis(s, part, axis=1)
        order = np.lexsort((part, -ps), axis=1)
        idx[start : start + chunk] = np.take_along_axis(part, order, axis=1)
        sims[start : start + chunk] = np.take_along_axis(ps, order, axis=1)
    return idx, sims


def recall_at_k(found: npt.ArrayLike, truth: npt.ArrayLike) -> float:
    """Mean over queries of |found_i ∩ truth_i| / |truth_i| (rows may be ragged lists)."""
    hits = 0
    total = 0
    for f, t in zip(found, truth, strict=True):
        t_set = {int(x) for x in np.asarray(t).ravel()}
        hits += len(t_set & {int(x) for x in np.asarray(f).ravel()})
        total += len(t_set)
    return hits / total if total else 1.0


__all__ = [
    "BLOCK",
    "DATASETS",
    "FRESH_BASE",
    "ClusterSpec",
    "VectorSource",
    "exact_knn",
    "gaussian",
    "latent",
    "lowrank",
    "normalise_rows",
    "recall_at_k",
    "separated_clusters",
    "source",
    "unit_gaussian",
]
