"""The most-popular baseline: recommend the items rated most often in the training data."""

from __future__ import annotations

from collections.abc import Collection, Iterable

import numpy as np


class MostPopular:
    """Items ranked by training-set rating count (ties by item id), minus what a user has seen."""

    def __init__(self, train_items: Iterable[int]) -> None:
        ids, counts = np.unique(
            np.fromiter((int(i) for i in train_items), dtype=np.int64), return_counts=True
        )
        order = np.lexsort((ids, -counts))
        self.ranking: list[int] = [int(i) for i in ids[order]]

    def recommend(self, seen: Collection[int], k: int = 10) -> list[int]:
        out: list[int] = []
        for item in self.ranking:
            if item not in seen:
                out.append(item)
                if len(out) == k:
                    break
        return out
