"""Vector generators for the ANN benchmark.

Two shapes, chosen because HNSW behaves very differently on them:

``lowrank`` (realistic): text embeddings have a low intrinsic dimension, a shared mean direction
and topical clusters of unequal spread. Points are drawn in a ``latent``-dimensional space as a
mixture of ``clusters`` Gaussians (centres N(0, 1), per-cluster spread U(0.3, 1.0)), mapped into
``dim`` dimensions by a fixed random linear map, offset by a common mean direction, plus small
isotropic noise, then L2-normalised. Graph search finds neighbours quickly on such data.

``gaussian`` (hard): the requirements' load generator. 10 centres drawn U(-1, 1) per dimension, a
point is its centre plus N(0, sigma^2) noise per dimension (sigma 0.1), clamped to [-1, 1] and
L2-normalised. Within a cluster the noise is isotropic in all ``dim`` dimensions, so the nearest
neighbours are barely nearer than anyone else in the cluster: intrinsically hard for any ANN index.

Queries come from the same distribution as the base vectors but are separate draws.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


def _normalise(x: npt.NDArray[np.floating]) -> F32:
    out = np.asarray(x, dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def lowrank(
    n: int, n_queries: int, dim: int, seed: int = 0, *, clusters: int = 100, latent: int = 32
) -> tuple[F32, F32]:
    """``(base (n, dim), queries (n_queries, dim))``, unit-norm float32, low intrinsic dimension."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((latent, dim)).astype(np.float32) / np.sqrt(latent)
    mean = rng.standard_normal(dim).astype(np.float32)
    mean *= 0.6 / np.linalg.norm(mean)
    centres = rng.standard_normal((clusters, latent)).astype(np.float32)
    spread = rng.uniform(0.3, 1.0, clusters).astype(np.float32)

    def draw(m: int) -> F32:
        out = np.empty((m, dim), dtype=np.float32)
        for start in range(0, m, 8192):  # chunks keep the float64 temporaries small
            size = min(8192, m - start)
            c = rng.integers(0, clusters, size)
            z = centres[c] + spread[c, None] * rng.standard_normal((size, latent)).astype(np.float32)
            x = z @ basis
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            x += mean + 0.03 * rng.standard_normal((size, dim)).astype(np.float32)
            out[start : start + size] = _normalise(x)
        return out

    return draw(n), draw(n_queries)


def gaussian(
    n: int, n_queries: int, dim: int, seed: int = 0, *, clusters: int = 10, sigma: float = 0.1
) -> tuple[F32, F32]:
    """``(base, queries)`` from isotropic Gaussian clusters (the requirements' load generator)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-1.0, 1.0, (clusters, dim)).astype(np.float32)

    def draw(m: int) -> F32:
        out = np.empty((m, dim), dtype=np.float32)
        for start in range(0, m, 8192):
            size = min(8192, m - start)
            c = rng.integers(0, clusters, size)
            x = centres[c] + np.float32(sigma) * rng.standard_normal((size, dim)).astype(np.float32)
            np.clip(x, -1.0, 1.0, out=x)
            out[start : start + size] = _normalise(x)
        return out

    return draw(n), draw(n_queries)


def latent(n: int, n_queries: int, dim: int, seed: int = 0) -> tuple[F32, F32]:
    """The shared test-suite model (:func:`engram.testing.vectors.latent_clusters_with_queries`).

    Per-cluster orthonormal 32-d latent bases around 100 unit centres; the same family as
    ``lowrank`` (which predates it and produced the recorded numbers), kept so benchmark and
    quality tests can use one generator.
    """
    from engram.testing.vectors import LatentClusterSpec, latent_clusters_with_queries

    return latent_clusters_with_queries(n, n_queries, LatentClusterSpec(dim=dim, seed=seed))


GENERATORS: dict[str, Callable[..., tuple[F32, F32]]] = {
    "lowrank": lowrank,
    "gaussian": gaussian,
    "latent": latent,
}


def exact_knn(base: F32, queries: F32, k: int) -> npt.NDArray[np.int64]:
    """Indices of the ``k`` most cosine-similar base rows per query (rows are unit norm), best first."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 256):
        sims = queries[start : start + 256] @ base.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
        out[start : start + 256] = np.take_along_axis(part, order, axis=1)
    return out
