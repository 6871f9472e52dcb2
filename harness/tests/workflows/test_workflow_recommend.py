"""The recommendation store and queries of workflow 102 on a tiny, hand-checkable data set."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import engram
from engram_harness.workflows.footprint import edge_bytes, stats_bytes
from engram_harness.workflows.recommendations.movie_graph import MovieGraph
from engram_harness.workflows.recommendations.recommend import Recommender

DIM = 8


@pytest.fixture
def store() -> Iterator[MovieGraph]:
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((6, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    with engram.Engine(dim=DIM) as eng:
        g = MovieGraph(eng.create_space("catalog"), eng.create_space("graph"), vecs, created_at=1_000.0)
        g.add_items(range(1, 7))
        # Users 1 and 2 share items 1 and 2; user 2 also liked item 3; user 3 only items 5, 6.
        g.add_ratings([(1, 1, 5, 2000.0), (1, 2, 5, 2100.0), (2, 1, 5, 2000.0), (2, 2, 5, 2050.0)])
        for user, item, t in (
            (2, 3, 2200),
            (3, 5, 2000),
            (3, 6, 2010),
        ):  # one at a time, as in the read phase
            g.add_rating(user, item, 5, float(t))
        yield g


def test_store_writes_nodes_episodes_and_links(store: MovieGraph) -> None:
    assert len(store.catalog) == 6
    assert len(store.graph) == 6 + 3 + 7  # items, users, rating episodes
    assert store.graph.edge_count() == 2 * 7
    ep = store.graph.get(store.episode_of[(2, 3)])
    assert ep.timestamp == 2200.0 and ep.metadata == {"user": "2", "item": "3", "rating": "5"}
    assert store.graph.get(store.user_node[1]).timestamp == 1_000.0
    assert store.seen(2) == {1, 2, 3}
    assert store.recent(2, 2) == [(2050.0, 2), (2200.0, 3)]


def test_user_based_recommends_what_similar_users_rated(store: MovieGraph) -> None:
    recs = Recommender(store, threshold=0.0).user_based(1)
    assert [i for i, _ in recs] == [3]  # reached through user 2; items 5 and 6 are unconnected
    assert recs[0][1] > 0
    assert Recommender(store).user_based(99) == []


def test_item_based_and_hybrid_exclude_seen_items_and_are_sorted(store: MovieGraph) -> None:
    rec = Recommender(store, threshold=0.0)
    items = rec.item_based(1, k=4)
    assert {i for i, _ in items}.isdisjoint({1, 2}) and len(items) == 4
    scores = [s for _, s in items]
    assert scores == sorted(scores, reverse=True)
    hybrid = rec.hybrid(1)
    assert [i for i, _ in hybrid] == [3]


def test_edge_bytes_grow_with_links(store: MovieGraph) -> None:
    assert store.links == store.graph.edge_count() == 14
    # Each link sits in two adjacency lists; the engine's figure must cover at least that.
    assert edge_bytes(store.graph) >= 2 * 16 * store.links
    assert stats_bytes(store.graph) > edge_bytes(store.graph)
