"""Consolidation: cluster recovery, bindings, idempotence, incremental updates, confidence, breakers."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DIM, T0
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

import engram
from engram_harness.memory_parts import parts_sum
from engram_harness.vectors import separated_clusters

UNCAPPED = {"max_concepts_per_run": 1000, "max_formations_per_hour": 0}


def assignment(sp: engram.Space, ids: np.ndarray) -> np.ndarray:
    """Concept of each episode; unbound episodes get their own singleton label."""
    concept_of = {}
    for c in sp.concepts():
        for m in c.members:
            assert m not in concept_of, "an episode is bound to two concepts"
            concept_of[m] = c.id
    return np.array([concept_of.get(int(i), -int(i)) for i in ids])


def assert_bindings_two_sided(sp: engram.Space) -> None:
    concepts = sp.concepts()
    for c in concepts:
        assert sp.concept_members(c.id) == list(c.members)
        for m in c.members:
            # Episode side: the out-edge to the concept is a binding; and the reverse index agrees.
            kinds = {n.id: n.kind for n in sp.neighbors(m)}
            assert kinds.get(c.id) == "binding"
            assert c.id in sp.episode_concepts(m)
    report = sp.validate()
    assert report["orphaned_concepts"] == 0
    assert report["one_sided_bindings"] == 0
    assert report["edges_to_missing"] == 0
    assert report["concepts"] == len(concepts)
    assert report["ok"]


@given(
    seed=st.integers(0, 2**32 - 1),
    n_clusters=st.integers(2, 8),
    per_cluster=st.integers(4, 25),
)
def test_recovers_known_clusters(seed: int, n_clusters: int, per_cluster: int) -> None:
    rng = np.random.default_rng(seed)
    x, labels, _ = separated_clusters(rng, n_clusters, per_cluster)
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("c")
        ids = sp.remember_batch(x)
        rep = sp.consolidate(**UNCAPPED)
        assert adjusted_rand_score(labels, assignment(sp, ids)) >= 0.8
        assert rep.concepts_formed == len(sp.concepts())
        assert_bindings_two_sided(sp)


@pytest.mark.parametrize("candidates", ["graph", "search"])
def test_recovers_clusters_through_the_knn_path(candidates: str) -> None:
    # 1200 episodes > exact_below (512): candidate pairs come from the index's layer-0 graph
    # (default) or from a k-NN search per episode; both must recover the clusters.
    rng = np.random.default_rng(7)
    x, labels, _ = separated_clusters(rng, 30, 40)
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("c")
        ids = sp.remember_batch(x)
        rep = sp.consolidate(**UNCAPPED, candidates=candidates)
        assert rep.episodes_considered == 1200
        assert adjusted_rand_score(labels, assignment(sp, ids)) >= 0.8
        assert_bindings_two_sided(sp)


@given(seed=st.integers(0, 2**32 - 1), n_clusters=st.integers(1, 6))
def test_rerun_is_idempotent(seed: int, n_clusters: int) -> None:
    rng = np.random.default_rng(seed)
    x, _, _ = separated_clusters(rng, n_clusters, 10)
    noise = rng.standard_normal((5, DIM)).astype(np.float32)  # unclustered episodes stay unbound
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("c")
        sp.remember_batch(np.concatenate([x, noise]))
        sp.consolidate(**UNCAPPED)
        before = [(c.id, c.members, c.coherence, c.confidence, c.centroid.tobytes()) for c in sp.concepts()]
        again = sp.consolidate(**UNCAPPED)
        assert (again.concepts_formed, again.concepts_updated, again.episodes_bound) == (0, 0, 0)
        after = [(c.id, c.members, c.coherence, c.confidence, c.centroid.tobytes()) for c in sp.concepts()]
        assert after == before


def test_incremental_update_and_new_cluster(engine: engram.Engine) -> None:
    rng = np.random.default_rng(3)
    x, _labels, centres = separated_clusters(rng, 3, 10)
    sp = engine.create_space("c")
    sp.remember_batch(x)
    first = sp.consolidate(**UNCAPPED)
    assert first.concepts_formed == 3
    # New episodes near centre 0 join its concept; a new group forms a fourth concept.
    near = centres[0] + 0.25 * rng.standard_normal((4, DIM)).astype(np.float32)
    new_centre = rng.standard_normal(DIM).astype(np.float32)
    fresh = new_centre + 0.25 * rng.standard_normal((5, DIM)).astype(np.float32)
    near_ids = sp.remember_batch(near)
    fresh_ids = sp.remember_batch(fresh)
    second = sp.consolidate(**UNCAPPED)
    assert second.concepts_formed == 1
    assert second.concepts_updated == 1
    assert second.episodes_bound == 9
    (updated,) = second.updated
    assert set(map(int, near_ids)) <= set(sp.concept_members(updated))
    (formed,) = second.formed
    assert sorted(sp.concept_members(formed)) == sorted(map(int, fresh_ids))
    assert len(sp.concept_members(updated)) == 14
    assert_bindings_two_sided(sp)


@given(seed=st.integers(0, 2**32 - 1), low=st.floats(0.05, 0.95))
def test_concept_confidence_never_above_best_member(seed: int, low: float) -> None:
    rng = np.random.default_rng(seed)
    x, _, _ = separated_clusters(rng, 3, 8)
    conf = rng.uniform(low, 1.0, size=len(x))
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("c")
        ids = sp.remember_batch(x, confidences=conf)
        sp.consolidate(**UNCAPPED)
        by_id = dict(zip(map(int, ids), conf, strict=True))
        assert sp.concepts()
        for c in sp.concepts():
            member_conf = np.array([by_id[m] for m in c.members])
            assert 0.0 <= c.confidence <= member_conf.max() * 0.9 * c.coherence + 1e-6
            assert c.confidence == pytest.approx(member_conf.mean() * 0.9 * c.coherence, rel=1e-4)
            assert 0.65 <= c.coherence <= 1.0
            assert sp.get(c.id).kind == "concept"
            assert sp.get(c.id).confidence == pytest.approx(c.confidence)


def test_temporal_factor_separates_distant_episodes(engine: engram.Engine) -> None:
    rng = np.random.default_rng(5)
    x, _, _ = separated_clusters(rng, 1, 8)
    sp = engine.create_space("c")
    # Same content, two groups three days apart: e^-3 * cos < 0.5, so they never merge.
    sp.remember_batch(x[:4], timestamps=[T0] * 4)
    sp.remember_batch(x[4:], timestamps=[T0 + 3 * 86400.0] * 4)
    sp.consolidate(**UNCAPPED)
    assert sorted(len(c.members) for c in sp.concepts()) == [4, 4]
    # Without the temporal factor they are one concept.
    sp2 = engine.create_space("c2")
    sp2.remember_batch(x[:4], timestamps=[T0] * 4)
    sp2.remember_batch(x[4:], timestamps=[T0 + 3 * 86400.0] * 4)
    sp2.consolidate(temporal_scale_s=0.0, **UNCAPPED)
    assert [len(c.members) for c in sp2.concepts()] == [8]


def test_min_size_and_coherence_thresholds(engine: engram.Engine) -> None:
    rng = np.random.default_rng(11)
    x, _, _ = separated_clusters(rng, 2, 2)  # clusters of 2 < min size 3
    sp = engine.create_space("c")
    sp.remember_batch(x)
    rep = sp.consolidate(**UNCAPPED)
    assert rep.concepts_formed == 0 and sp.concepts() == []
    # A very strict coherence threshold rejects otherwise valid clusters.
    y, _, _ = separated_clusters(rng, 2, 6, sigma=0.6)
    sp2 = engine.create_space("c2")
    sp2.remember_batch(y)
    strict = sp2.consolidate(coherence_threshold=0.999, **UNCAPPED)
    assert strict.concepts_formed == 0 and strict.clusters_incoherent >= 1


def test_rate_breaker_trips_and_resets_with_the_clock(engine: engram.Engine) -> None:
    rng = np.random.default_rng(2)
    x, _, _ = separated_clusters(rng, 5, 6)
    sp = engine.create_space("c")
    sp.remember_batch(x)
    rep = sp.consolidate(max_concepts_per_run=100, max_formations_per_hour=2)
    assert rep.concepts_formed == 2 and rep.rate_breaker_tripped and rep.clusters_deferred == 3
    assert sp.consolidation_counters()["rate_breaker_trips"] == 1
    assert sp.consolidation_counters()["rate_breaker_open"]
    text = engine.prometheus()
    assert 'engram_concept_circuit_breaker_trips_total{space="c",breaker="rate"} 1' in text
    assert 'engram_concept_circuit_breaker_open{space="c",breaker="rate"} 1' in text
    assert 'engram_concepts_formed_total{space="c"} 2' in text
    held = sp.consolidate(max_concepts_per_run=100, max_formations_per_hour=2)
    assert held.concepts_formed == 0 and held.rate_breaker_tripped
    engine.clock.advance(hours=1.01)
    later = sp.consolidate(max_concepts_per_run=100, max_formations_per_hour=2)
    assert later.concepts_formed == 2


def test_ratio_breaker(engine: engram.Engine) -> None:
    rng = np.random.default_rng(4)
    x, _, _ = separated_clusters(rng, 6, 3)  # 18 episodes, 6 clusters: ratio 0.33 > 0.3
    sp = engine.create_space("c")
    sp.remember_batch(x)
    rep = sp.consolidate(**UNCAPPED)
    assert rep.concepts_formed == 5  # floor(0.3 * 18)
    assert rep.ratio_breaker_tripped
    assert sp.stats()["concepts"] / sp.stats()["episodes"] <= 0.3
    assert 'engram_concept_circuit_breaker_trips_total{space="c",breaker="ratio"} 1' in engine.prometheus()


def test_per_run_cap_defaults_to_five(engine: engram.Engine) -> None:
    rng = np.random.default_rng(8)
    x, _, _ = separated_clusters(rng, 8, 5)
    sp = engine.create_space("c")
    sp.remember_batch(x)
    assert sp.consolidate().concepts_formed == 5
    assert sp.consolidate().concepts_formed == 3


def test_feature_flag_disables_formation(engine: engram.Engine) -> None:
    rng = np.random.default_rng(9)
    x, _, _ = separated_clusters(rng, 3, 6)
    sp = engine.create_space("c")
    sp.remember_batch(x)
    engine.set_features(concept_formation=False)
    rep = sp.consolidate(**UNCAPPED)
    assert rep.formation_disabled and rep.concepts_formed == 0
    engine.set_features(concept_formation=True)
    assert engine.features()["concept_formation"]
    assert sp.consolidate(**UNCAPPED).concepts_formed == 3


def test_forgetting_members_updates_then_dissolves(engine: engram.Engine) -> None:
    rng = np.random.default_rng(12)
    x, _, _ = separated_clusters(rng, 1, 5)
    sp = engine.create_space("c")
    sp.remember_batch(x)
    sp.consolidate(**UNCAPPED)
    (c,) = sp.concepts()
    sp.forget(c.members[0])
    assert sp.validate()["ok"]  # the binding went with the episode, and the concept's record too
    rep = sp.consolidate(**UNCAPPED)
    assert rep.concepts_updated == 1 and len(sp.concept_members(c.id)) == 4
    for m in c.members[1:3]:
        sp.forget(m)
    rep = sp.consolidate(**UNCAPPED)
    assert rep.concepts_dissolved == 1 and sp.concepts() == []
    assert c.id not in sp
    assert sp.validate()["ok"]


def test_validate_reports_orphans_one_sided_bindings(engine: engram.Engine) -> None:
    rng = np.random.default_rng(13)
    x, _, _ = separated_clusters(rng, 2, 4)
    sp = engine.create_space("c")
    ids = sp.remember_batch(x)
    sp.consolidate(**UNCAPPED)
    a, b = sp.concepts()
    outsider = next(int(i) for i in ids if int(i) not in a.members)
    sp.link(outsider, a.id, kind="binding", strength=0.5)  # not a member of a: one-sided
    assert sp.validate()["one_sided_bindings"] == 1
    sp.unlink(outsider, a.id)
    for m in b.members:
        sp.unlink(m, b.id)  # b keeps its member list but has no binding left
    report = sp.validate()
    assert report["orphaned_concepts"] == 1
    assert report["one_sided_bindings"] == len(b.members)
    assert not report["ok"]


def test_concept_ids_share_the_space_id_scheme(engine: engram.Engine) -> None:
    rng = np.random.default_rng(14)
    x, _, _ = separated_clusters(rng, 1, 4)
    sp = engine.create_space("c")
    ids = sp.remember_batch(x)
    sp.consolidate(**UNCAPPED)
    (c,) = sp.concepts()
    assert c.id == int(ids[-1]) + 1  # next id of the same sequence
    nxt = sp.remember(x[0])
    assert nxt == c.id + 1
    assert sp.stats()["episodes"] == 5 and sp.stats()["concepts"] == 1
    with pytest.raises(engram.InvalidInputError):
        sp.concept_members(int(ids[0]))
    with pytest.raises(engram.MemoryNotFound):
        sp.episode_concepts(c.id)
    with pytest.raises(engram.InvalidInputError):
        sp.consolidate(similarity_threshold=1.5)
    with pytest.raises(engram.InvalidInputError, match="candidates"):
        sp.consolidate(candidates="nearest")
    with pytest.raises(engram.InvalidInputError):
        sp.consolidate(no_such_parameter=1)


def test_stats_count_concept_and_edge_memory() -> None:
    rng = np.random.default_rng(3)
    x, _labels, _ = separated_clusters(rng, 4, 12)
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("c")
        before = sp.stats()["memory_bytes"]
        assert before["concepts"] >= 0 and before["edges"] >= 0
        sp.remember_batch(x)
        sp.consolidate(**UNCAPPED)
        after = sp.stats()["memory_bytes"]
        assert sp.concepts(), "the clustered data should form concepts"
        # Centroids and bindings take room, and the total includes them.
        assert after["concepts"] > before["concepts"]
        assert after["edges"] > before["edges"]
        assert after["total"] == parts_sum(after)


def test_clustering_cache_never_loses_deferred_or_new_clusters() -> None:
    # Above exact_below a run skips blocks it already clustered with nothing left unformed; a
    # capped run defers clusters, which must still form on later runs, and new episodes must
    # still cluster, exactly as without the cache.
    rng = np.random.default_rng(11)
    x, _labels, _ = separated_clusters(rng, 30, 40)
    with engram.Engine(dim=DIM) as eng:
        full = eng.create_space("full")
        full.remember_batch(x)
        full.consolidate(**UNCAPPED)
        capped = eng.create_space("capped")
        capped.remember_batch(x)
        for _ in range(40):
            rep = capped.consolidate(max_concepts_per_run=5, max_formations_per_hour=0)
            if rep.concepts_formed == 0:
                break
        assert len(capped.concepts()) == len(full.concepts())
        assert capped.consolidate(**UNCAPPED).concepts_formed == 0  # settled: nothing new
        y, _, _ = separated_clusters(np.random.default_rng(12), 1, 40)
        new_ids = set(capped.remember_batch(y).tolist())
        rep = capped.consolidate(**UNCAPPED)
        assert rep.concepts_formed + rep.concepts_updated >= 1
        bound = {m for c in capped.concepts() for m in c.members}
        assert len(new_ids & bound) >= 30
        assert_bindings_two_sided(capped)


def local_members(sp: engram.Space) -> list[tuple[int, ...]]:
    """Each concept's members as ids within the space (ids carry the space in their high bits)."""
    return sorted(tuple(m & ((1 << 40) - 1) for m in c.members) for c in sp.concepts())


def test_block_cache_forms_the_same_concepts_as_reclustering() -> None:
    # Capped runs leave deferred clusters; a later run reuses the clustering of every block that
    # came back unchanged. Run by run, that must form exactly the concepts a run that clusters
    # from scratch forms. The reference space forgets an isolated filler episode before each
    # run, which resets its cache; both spaces hold the same episodes, inserted one by one in
    # the same order (a deterministic index graph).
    rng = np.random.default_rng(21)
    x, _labels, _ = separated_clusters(rng, 12, 30)
    fillers = rng.standard_normal((12, DIM)).astype(np.float32)
    capped = {"max_concepts_per_run": 2, "max_formations_per_hour": 0, "exact_below": 64}
    with engram.Engine(dim=DIM) as eng:
        cached, fresh = eng.create_space("cached"), eng.create_space("fresh")
        filler_ids = []
        for sp in (cached, fresh):
            for v in x:
                sp.remember(v, timestamp=T0)
            filler_ids = [sp.remember(v, timestamp=T0) for v in fillers]
        reused = 0
        for run in range(len(fillers)):
            fresh.forget(filler_ids[run])
            a, b = cached.consolidate(**capped), fresh.consolidate(**capped)
            reused += a.blocks_reused
            assert b.blocks_reused == 0
            assert local_members(cached) == local_members(fresh), f"run {run}"
            assert (a.concepts_formed, a.clusters_deferred) == (b.concepts_formed, b.clusters_deferred)
            if a.concepts_formed == 0:
                break
        assert reused > 0, "the capped runs should have reused cached blocks"
        assert len(cached.concepts()) >= 8
