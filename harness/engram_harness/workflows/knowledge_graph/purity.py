"""Purity of concepts (clusters) against reference labels, and what chance would give.

Purity of one cluster is the share of its members carrying the cluster's most common label;
the purity of a clustering is the member-weighted mean, i.e. (sum of majority counts) / (sum of
sizes). A clustering that ignores the labels scores about the share of the most common label in
the pool it drew from, so purity only means something next to that chance level.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np


def purity(clusters: Sequence[Sequence[Hashable]]) -> float:
    """Member-weighted purity of ``clusters`` (each a sequence of member labels); nan when empty."""
    sizes = [len(c) for c in clusters if len(c)]
    if not sizes:
        return float("nan")
    majority = sum(Counter(c).most_common(1)[0][1] for c in clusters if len(c))
    return majority / sum(sizes)


def chance_purity(
    pool: Sequence[Hashable], sizes: Sequence[int], rng: np.random.Generator, trials: int = 200
) -> float:
    """Mean purity of random clusters with the given ``sizes`` drawn without replacement from ``pool``.

    Each trial draws all clusters at once from one permutation, as a label-blind clustering of
    the same sizes would; sizes must sum to at most ``len(pool)``.
    """
    total = int(sum(sizes))
    if total > len(pool):
        raise ValueError(f"clusters hold {total} members but the pool has only {len(pool)}")
    if total == 0:
        return float("nan")
    labels = np.asarray(pool, dtype=object)
    cuts = np.cumsum(sizes)[:-1]
    scores = []
    for _ in range(trials):
        drawn = labels[rng.permutation(len(labels))[:total]]
        scores.append(purity([list(part) for part in np.split(drawn, cuts)]))
    return float(np.mean(scores))
