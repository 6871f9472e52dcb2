"""Ranking metrics, the most-popular baseline, purity and the paired comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engram_harness.workflows.knowledge_graph.purity import chance_purity, purity
from engram_harness.workflows.recommendations.paired import compare_paired
from engram_harness.workflows.recommendations.popularity import MostPopular
from engram_harness.workflows.recommendations.ranking import hit_at_k, ndcg_at_k, per_user_scores


def test_hit_and_ndcg_for_one_relevant_item() -> None:
    assert hit_at_k([5, 6, 7], {7}, k=3) == 1.0
    assert hit_at_k([5, 6, 7], {7}, k=2) == 0.0
    assert ndcg_at_k([7, 5], {7}) == pytest.approx(1.0)
    assert ndcg_at_k([5, 7], {7}) == pytest.approx(1.0 / math.log2(3))
    assert ndcg_at_k([5, 6], {7}) == 0.0
    assert ndcg_at_k([5, 6], set()) == 0.0


def test_ndcg_with_several_relevant_items_uses_the_ideal_list() -> None:
    # Relevant at ranks 1 and 3; the ideal puts them at ranks 1 and 2.
    dcg = 1.0 + 1.0 / math.log2(4)
    ideal = 1.0 + 1.0 / math.log2(3)
    assert ndcg_at_k([1, 9, 2], {1, 2}) == pytest.approx(dcg / ideal)


def test_per_user_scores_rejects_mismatched_lengths() -> None:
    hits, ndcg = per_user_scores([[1], [2]], [{1}, {3}])
    assert hits.tolist() == [1.0, 0.0]
    assert ndcg.tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="2 recommendation lists for 1 users"):
        per_user_scores([[1], [2]], [{1}])


def test_most_popular_ranks_by_count_then_id_and_skips_seen_items() -> None:
    mp = MostPopular([3, 3, 3, 1, 1, 2, 2, 4])
    assert mp.ranking == [3, 1, 2, 4]
    assert mp.recommend(seen={3}, k=2) == [1, 2]
    assert mp.recommend(seen=set(), k=10) == [3, 1, 2, 4]


def test_purity_is_member_weighted() -> None:
    assert purity([["a", "a", "b"], ["c"]]) == pytest.approx(3 / 4)
    assert math.isnan(purity([]))


def test_chance_purity_matches_the_majority_share_for_large_random_clusters() -> None:
    rng = np.random.default_rng(0)
    pool = ["a"] * 600 + ["b"] * 400
    # Big random clusters are mixed like the pool: purity near the majority share 0.6.
    assert chance_purity(pool, [200, 200, 200], rng) == pytest.approx(0.6, abs=0.05)
    with pytest.raises(ValueError, match="clusters hold 2000 members but the pool has only 1000"):
        chance_purity(pool, [1000, 1000], rng)


def test_paired_comparison_detects_a_real_gain_and_not_noise() -> None:
    rng = np.random.default_rng(1)
    base = rng.binomial(1, 0.05, 500).astype(float)
    better = np.maximum(base, rng.binomial(1, 0.10, 500))  # hits where the base hits, and more
    assert compare_paired(better, base).significantly_better
    same = compare_paired(base, base)
    assert same.diff == 0.0 and not same.significantly_better
    with pytest.raises(ValueError, match="same length"):
        compare_paired([1.0, 0.0], [1.0])
