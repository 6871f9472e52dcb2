"""A recommendation store in two memory spaces: what workflow 102 writes and reads.

- ``catalog`` space: one memory per item (the item's embedding), for item-based vector search.
- ``graph`` space: one node per user and per item, and one episode per rating (the item's
  embedding nudged towards a fixed per-user direction so that ratings stay distinct vectors,
  timestamped with the rating time, user and item in its metadata). Links: user -> item and
  item -> user weighted by rating / 5; spreading runs over these.

Every write goes through the space API (``remember``, ``remember_batch``, ``link``), so the same
code fills an in-process engine or a server through the client; bulk loads use batches of at
most ``BATCH`` memories (the server's default request limit). Only the id maps live in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

#: How far a rating episode's vector leans towards its user's direction (cosine to the item
#: stays about 0.96), so recalling an episode by its own vector finds it first.
USER_LEAN = 0.3
BATCH = 1000


@dataclass
class MovieGraph:
    catalog: Any
    graph: Any
    item_vectors: npt.NDArray[np.float32]  # row i-1 is item i
    seed: int = 0
    #: Timestamp of user and item nodes (the start of the data): they are not events, and a
    #: timestamp later than the ratings would make them look fresher than any rating to decay.
    created_at: float | None = None
    item_node: dict[int, int] = field(default_factory=dict)  # item id -> graph node id
    user_node: dict[int, int] = field(default_factory=dict)
    catalog_id: dict[int, int] = field(default_factory=dict)  # item id -> catalog memory id
    item_of_node: dict[int, int] = field(default_factory=dict)  # graph node or catalog id -> item id
    episode_of: dict[tuple[int, int], int] = field(default_factory=dict)  # (user, item) -> episode id
    history: dict[int, list[tuple[float, int]]] = field(default_factory=dict)  # user -> [(ts, item)]
    links: int = 0  # edges written

    def add_items(self, item_ids: npt.ArrayLike) -> int:
        """Write every item to the catalog and as a graph node; returns the number of memories."""
        items = np.asarray(item_ids, dtype=np.int64).tolist()
        for lo in range(0, len(items), BATCH):
            chunk = items[lo : lo + BATCH]
            vecs = self.item_vectors[np.array(chunk) - 1]
            contents = [f"item {i}" for i in chunk]
            metas = [{"item": str(i)} for i in chunk]
            stamps = [self.created_at] * len(chunk)
            cids = self.catalog.remember_batch(vecs, contents=contents, timestamps=stamps, metadatas=metas)
            nids = self.graph.remember_batch(vecs, contents=contents, timestamps=stamps, metadatas=metas)
            for item, cid, nid in zip(chunk, cids, nids, strict=True):
                self.catalog_id[item] = int(cid)
                self.item_node[item] = int(nid)
                self.item_of_node[int(cid)] = item
                self.item_of_node[int(nid)] = item
        return 2 * len(items)

    def add_ratings(self, rows: Sequence[tuple[int, int, int, float]]) -> list[int]:
        """Store ratings ``(user, item, rating, timestamp)`` in batches; returns the episode ids."""
        out: list[int] = []
        for lo in range(0, len(rows), BATCH):
            chunk = rows[lo : lo + BATCH]
            new_users = sorted({int(u) for u, _, _, _ in chunk} - set(self.user_node))
            if new_users:
                ids = self.graph.remember_batch(
                    np.stack([self.user_direction(u) for u in new_users]),
                    contents=[f"user {u}" for u in new_users],
                    timestamps=[self.created_at] * len(new_users),
                    metadatas=[{"user": str(u)} for u in new_users],
                )
                self.user_node.update({u: int(i) for u, i in zip(new_users, ids, strict=True)})
            eps = self.graph.remember_batch(
                np.stack([self.episode_vector(int(u), int(i)) for u, i, _, _ in chunk]),
                contents=[f"user {u} rated item {i}: {r}/5" for u, i, r, _ in chunk],
                timestamps=[float(t) for _, _, _, t in chunk],
                metadatas=[{"user": str(u), "item": str(i), "rating": str(r)} for u, i, r, _ in chunk],
            )
            for (u, i, r, t), ep in zip(chunk, eps, strict=True):
                self._link_rating(int(u), int(i), int(r), float(t), int(ep))
                out.append(int(ep))
        return out

    def user_direction(self, user: int) -> npt.NDArray[np.float32]:
        v = np.random.default_rng([self.seed, user]).standard_normal(self.item_vectors.shape[1])
        return (v / np.linalg.norm(v)).astype(np.float32)

    def episode_vector(self, user: int, item: int) -> npt.NDArray[np.float32]:
        v = self.item_vectors[item - 1] + USER_LEAN * self.user_direction(user)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def _user(self, user: int) -> int:
        nid = self.user_node.get(user)
        if nid is None:
            nid = int(self.graph.remember(self.user_direction(user), content=f"user {user}",
                                          timestamp=self.created_at, metadata={"user": str(user)}))  # fmt: skip
            self.user_node[user] = nid
        return nid

    def add_rating(self, user: int, item: int, rating: int, timestamp: float) -> int:
        """Store one rating (episode plus two links); returns the episode id."""
        self._user(user)
        meta = {"user": str(user), "item": str(item), "rating": str(rating)}
        ep = int(self.graph.remember(self.episode_vector(user, item), content=f"user {user} rated item {item}: {rating}/5",
                                     confidence=1.0, timestamp=float(timestamp), metadata=meta))  # fmt: skip
        self._link_rating(user, item, rating, float(timestamp), ep)
        return ep

    def _link_rating(self, user: int, item: int, rating: int, timestamp: float, episode: int) -> None:
        u, i = self.user_node[user], self.item_node[item]
        w = rating / 5.0
        self.graph.link(u, i, w)
        self.graph.link(i, u, w)
        self.links += 2
        self.episode_of[(user, item)] = episode
        self.history.setdefault(user, []).append((timestamp, item))

    def seen(self, user: int) -> set[int]:
        return {i for _, i in self.history.get(user, [])}

    def recent(self, user: int, n: int) -> list[tuple[float, int]]:
        """The user's ``n`` latest ratings as (timestamp, item), oldest first."""
        return sorted(self.history.get(user, []))[-n:]
