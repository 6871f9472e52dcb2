"""Well-separated synthetic clusters for the consolidation, recall and completion tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DIM = 32
T0 = 1_700_000_000.0  # a fixed engine-clock start, seconds since the epoch


def make_clusters(
    rng: np.random.Generator,
    n_clusters: int,
    per_cluster: int,
    dim: int = DIM,
    sigma: float = 0.25,
    max_centre_cos: float = 0.3,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Points around random N(0, 1) centres (per-dimension noise ``sigma``), shuffled.

    Returns (points, cluster label per point, centres). In 32 dimensions random centres have
    |cos| of about 0.2 (pair similarity about 0.05) while points of one cluster at sigma 0.25 have
    cos of about 0.94 (similarity about 0.99): well separated. Centres are redrawn until no two
    have cosine above ``max_centre_cos`` (random centres occasionally land close together, and
    then merging them is the correct answer, not a recovery failure).
    """
    centres = np.empty((0, dim), dtype=np.float32)
    while len(centres) < n_clusters:
        c = rng.standard_normal(dim).astype(np.float32)
        cos = (
            centres @ c / (np.linalg.norm(centres, axis=1) * np.linalg.norm(c))
            if len(centres)
            else np.zeros(1)
        )
        if np.all(cos <= max_centre_cos):
            centres = np.vstack([centres, c[None, :]])
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    x = centres[labels] + sigma * rng.standard_normal((labels.size, dim)).astype(np.float32)
    order = rng.permutation(labels.size)
    return x[order].astype(np.float32), labels[order], centres
