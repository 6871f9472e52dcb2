"""Synthetic embedding sets with known structure, and exact k-nearest-neighbour ground truth.

Two generators, both returning L2-normalised float32 rows (cosine similarity = dot product):

:func:`latent_clusters` (the default for quality checks) resembles real text embeddings: points
form clusters, and inside a cluster they vary along a few directions rather than all of them.
Each of ``clusters`` unit-norm centres ``c`` gets its own random orthonormal basis ``B_c``
(``latent_dim`` x ``dim``); a point is::

    x = c + (z * spread) @ B_c + noise,   z ~ N(0, I_latent_dim),  noise ~ N(0, noise_std^2 I_dim)

then L2-normalised. Per-axis spread decays as a power law (``spectrum_decay``), as the principal
components of sentence-embedding models do, with the total within-cluster spread
``latent_scale`` (the expected norm of ``(z * spread) @ B_c``).

:func:`isotropic_clusters` adds pure isotropic Gaussian noise around a few centres. In 768
dimensions such noise swamps the neighbourhood structure: every point is nearly equidistant from
the rest of its cluster, so the "true" 10 nearest neighbours are barely distinguishable from the
next hundred and any approximate index scores a low recall on it (hnswlib and Engram both reach
about 0.4-0.5 recall@10 at ef=64). It is kept as a documented worst case, not as a quality bar.

All functions are deterministic given ``seed``; queries should be drawn with
``queries=True`` variants (same clusters, fresh points) via :func:`latent_clusters_with_queries`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


def normalise_rows(x: npt.ArrayLike) -> F32:
    """Rows scaled to unit L2 norm (float32); rows of zeros are left as they are."""
    a = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(a, axis=-1, keepdims=True)
    return np.divide(a, norms, out=np.zeros_like(a), where=norms > 0).astype(np.float32, copy=False)


@dataclass(frozen=True)
class LatentClusterSpec:
    """Parameters of :func:`latent_clusters` (see the module docstring for the model)."""

    dim: int = 768
    clusters: int = 100
    latent_dim: int = 32
    latent_scale: float = 1.0
    spectrum_decay: float = 0.0
    noise_std: float = 0.01
    seed: int = 0


class LatentClusterModel:
    """The fixed part of the model (centres and bases), from which any number of points are drawn."""

    def __init__(self, spec: LatentClusterSpec) -> None:
        if spec.latent_dim > spec.dim:
            raise ValueError(f"latent_dim must be at most dim ({spec.dim}), got {spec.latent_dim}")
        self.spec = spec
        rng = np.random.default_rng([spec.seed, 0])
        self.centres: F32 = normalise_rows(rng.standard_normal((spec.clusters, spec.dim)))
        # One orthonormal latent basis per cluster (rows of B_c), from QR of a Gaussian matrix.
        bases = np.empty((spec.clusters, spec.latent_dim, spec.dim), dtype=np.float32)
        for c in range(spec.clusters):
            q, _ = np.linalg.qr(rng.standard_normal((spec.dim, spec.latent_dim)))
            bases[c] = q.T
        self.bases: F32 = bases
        axis = np.arange(1, spec.latent_dim + 1, dtype=np.float64) ** (-spec.spectrum_decay)
        # Scale so that E||(z * spread) @ B_c||^2 = latent_scale^2 (B_c has orthonormal rows).
        self.spread = (axis * spec.latent_scale / np.sqrt(np.sum(axis**2))).astype(np.float32)

    def sample(self, n: int, stream: int = 1) -> tuple[F32, I64]:
        """``n`` points and their cluster labels. Different ``stream`` values give independent draws."""
        spec = self.spec
        rng = np.random.default_rng([spec.seed, stream])
        labels = rng.integers(0, spec.clusters, size=n).astype(np.int64)
        z = rng.standard_normal((n, spec.latent_dim), dtype=np.float32) * self.spread
        noise = rng.standard_normal((n, spec.dim), dtype=np.float32) * np.float32(spec.noise_std)
        out = self.centres[labels] + noise
        # Group by cluster so each cluster's displacement is one matrix product.
        for c in np.unique(labels):
            sel = np.flatnonzero(labels == c)
            out[sel] += z[sel] @ self.bases[c]
        out = normalise_rows(out)
        return out, labels


def latent_clusters(n: int, spec: LatentClusterSpec | None = None) -> F32:
    """``(n, spec.dim)`` unit-norm float32 points from the latent-cluster model."""
    return LatentClusterModel(spec or LatentClusterSpec()).sample(n)[0]


def latent_clusters_with_queries(
    n: int, n_queries: int, spec: LatentClusterSpec | None = None
) -> tuple[F32, F32]:
    """Data points and held-out queries drawn from the same clusters (independent draws)."""
    model = LatentClusterModel(spec or LatentClusterSpec())
    return model.sample(n, stream=1)[0], model.sample(n_queries, stream=2)[0]


def isotropic_clusters(
    n: int, dim: int = 768, *, clusters: int = 10, sigma: float = 0.1, seed: int = 0, stream: int = 1
) -> F32:
    """Unit-norm centres plus isotropic N(0, sigma^2) noise per dimension, L2-normalised (a worst case)."""
    rng = np.random.default_rng([seed, 0])
    centres = normalise_rows(rng.standard_normal((clusters, dim)))
    rng = np.random.default_rng([seed, stream])
    labels = rng.integers(0, clusters, size=n)
    x = centres[labels] + rng.standard_normal((n, dim)).astype(np.float32) * np.float32(sigma)
    return normalise_rows(x)


def exact_knn(data: npt.ArrayLike, queries: npt.ArrayLike, k: int, *, chunk: int = 256) -> tuple[I64, F32]:
    """Exact top-``k`` rows of ``data`` by cosine similarity for each query: (indices, similarities).

    Rows need not be normalised. Ties are broken by the lower index.
    """
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
    "LatentClusterModel",
    "LatentClusterSpec",
    "exact_knn",
    "isotropic_clusters",
    "latent_clusters",
    "latent_clusters_with_queries",
    "normalise_rows",
    "recall_at_k",
]
