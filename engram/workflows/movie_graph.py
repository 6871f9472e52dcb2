"""A recommendation store in two memory spaces: what workflow 102 writes and reads.

- ``catalog`` space: one memory per item (the item's embedding), for item-based vector search.
- ``graph`` space: one node per user and per item, and one episode per rating (the item's
  embedding nudged towards a fixed per-user direction so that ratings stay distinct vectors,
  timestamped with the rating time). Links: user -> item and item -> user weighted by
  rating / 5 (spreading runs over these), and episode -> user, episode -> item (so an episode
  says whose rating of what it records).

Every write goes through the space API (``remember``, ``link``), so the same code fills an
in-process engine or a server through the client. Only the id maps live in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

#: How far a rating episode's vector leans towards its user's direction (cosine to the item
#: stays about 0.96), so recalling an episode by its own vector finds it first.
USER_LEAN = 0.3


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

    def add_items(self, item_ids: npt.ArrayLike) -> int:
        """Write every item to the catalog and as a graph node; returns the number of writes."""
        writes = 0
        for item in np.asarray(item_ids, dtype=np.int64).tolist():
            v = self.item_vectors[item - 1]
            meta = {"item": str(item)}
            cid = int(
                self.catalog.remember(v, content=f"item {item}", timestamp=self.created_at, metadata=meta)
            )
            nid = int(
                self.graph.remember(v, content=f"item {item}", timestamp=self.created_at, metadata=meta)
            )
            self.catalog_id[item] = cid
            self.item_node[item] = nid
            self.item_of_node[cid] = item
            self.item_of_node[nid] = item
            writes += 2
        return writes

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
        """Store one rating (episode plus four links); returns the episode id."""
        u, i = self._user(user), self.item_node[item]
        meta = {"user": str(user), "item": str(item), "rating": str(rating)}
        ep = int(self.graph.remember(self.episode_vector(user, item), content=f"user {user} rated item {item}: {rating}/5",
                                     confidence=1.0, timestamp=float(timestamp), metadata=meta))  # fmt: skip
        w = rating / 5.0
        self.graph.link(u, i, w)
        self.graph.link(i, u, w)
        self.graph.link(ep, u, 1.0)
        self.graph.link(ep, i, 1.0)
        self.episode_of[(user, item)] = ep
        self.history.setdefault(user, []).append((float(timestamp), item))
        return ep

    def seen(self, user: int) -> set[int]:
        return {i for _, i in self.history.get(user, [])}

    def recent(self, user: int, n: int) -> list[tuple[float, int]]:
        """The user's ``n`` latest ratings as (timestamp, item), oldest first."""
        return sorted(self.history.get(user, []))[-n:]
