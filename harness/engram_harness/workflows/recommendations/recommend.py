"""Recommendation queries over a :class:`~engram_harness.workflows.recommendations.movie_graph.MovieGraph`.

- user-based: spreading activation from the user's latest rated items (seed activation = the
  engine's two-component retention of each rating's age relative to the user's latest one, so
  the current session counts most) over item -> user -> item links, with the fan effect.
- item-based: HNSW search of the catalog around the user's latest items.
- hybrid: the user-based candidates re-scored with their similarity to the user's latest items.

Every list is ranked by its score, best first, and excludes items the user already rated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engram.decay import retention
from engram_harness.workflows.recommendations.movie_graph import MovieGraph


@dataclass(frozen=True)
class Recommender:
    store: MovieGraph
    seeds: int = 5  # latest rated items that seed the spreading
    max_hops: int = 2  # item -> user -> item (the source allows up to 3)
    #: Smaller per-hop sums are dropped. Fan-divided values are small, and every hop here is
    #: episode -> episode (the engine's "episodic" direction weight, 0.3 per hop, is kept).
    threshold: float = 1e-5
    hybrid_similarity_weight: float = 0.3
    candidates: int = 50

    def user_based(self, user: int, k: int = 10) -> list[tuple[int, float]]:
        """Top ``k`` (item, activation) by spreading from the user's latest items."""
        latest = self.store.recent(user, self.seeds)
        if not latest:
            return []
        ts = np.array([t for t, _ in latest])
        weights = retention("two_component", ts[-1] - ts)
        seeds: dict[int, float] = {}
        for (_, item), w in zip(latest, weights, strict=True):
            node = self.store.item_node[item]
            seeds[node] = max(seeds.get(node, 0.0), float(w))
        res = self.store.graph.spread(
            seeds, max_hops=self.max_hops, threshold=self.threshold, fan_effect=True
        )
        seen = self.store.seen(user)
        out: list[tuple[int, float]] = []
        for r in res:
            item = self.store.item_of_node.get(r.id)
            if item is None or item in seen or r.id in seeds:
                continue
            out.append((item, float(r.activation)))
            if len(out) == k:
                break
        return out

    def profile(self, user: int) -> np.ndarray:
        items = [i for _, i in self.store.recent(user, self.seeds)]
        v = self.store.item_vectors[np.array(items) - 1].mean(axis=0)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def item_based(self, user: int, k: int = 10) -> list[tuple[int, float]]:
        """Top ``k`` (item, cosine) of the catalog nearest the user's latest items."""
        seen = self.store.seen(user)
        ids, scores = self.store.catalog.search(self.profile(user), k=k + len(seen))
        out = [(self.store.item_of_node[int(i)], float(s)) for i, s in zip(ids, scores, strict=True)]
        return [(i, s) for i, s in out if i not in seen][:k]

    def hybrid(self, user: int, k: int = 10) -> list[tuple[int, float]]:
        """User-based candidates scored ``(1 - w) * activation / max + w * cosine to the profile``."""
        cands = self.user_based(user, self.candidates)
        if not cands:
            return self.item_based(user, k)
        top = cands[0][1]
        prof = self.profile(user)
        vecs = self.store.item_vectors[np.array([i for i, _ in cands]) - 1]
        sims = vecs @ prof
        w = self.hybrid_similarity_weight
        scored = [(i, (1 - w) * a / top + w * float(s)) for (i, a), s in zip(cands, sims, strict=True)]
        scored.sort(key=lambda x: (-x[1], x[0]))
        return scored[:k]
