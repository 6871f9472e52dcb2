"""Top-k ranking quality for held-out items (one or more relevant items per user)."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt


def hit_at_k(recommended: Sequence[int], relevant: Collection[int], k: int = 10) -> float:
    """1.0 when any relevant item is among the first ``k`` recommendations, else 0.0."""
    return 1.0 if any(r in relevant for r in list(recommended)[:k]) else 0.0


def ndcg_at_k(recommended: Sequence[int], relevant: Collection[int], k: int = 10) -> float:
    """Binary-relevance NDCG@k: DCG of the list over the DCG of an ideal list (0 when nothing relevant)."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(list(recommended)[:k]) if r in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal


def per_user_scores(
    recommendations: Sequence[Sequence[int]], relevant: Sequence[Collection[int]], k: int = 10
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-user hit@k and NDCG@k arrays (same order as the inputs)."""
    if len(recommendations) != len(relevant):
        raise ValueError(f"{len(recommendations)} recommendation lists for {len(relevant)} users")
    hits = np.array([hit_at_k(r, t, k) for r, t in zip(recommendations, relevant, strict=True)])
    ndcg = np.array([ndcg_at_k(r, t, k) for r, t in zip(recommendations, relevant, strict=True)])
    return hits, ndcg
