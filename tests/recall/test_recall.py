"""Recall modes, provenance, fallback, confidence bounds, decay, feature flags."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DIM, T0
from hypothesis import given
from hypothesis import strategies as st

import engram
from engram_harness.vectors import separated_clusters

UNCAPPED = {"max_concepts_per_run": 1000, "max_formations_per_hour": 0}


def consolidated(eng: engram.Engine, seed: int, n_clusters: int = 4, per: int = 12):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    x, labels, centres = separated_clusters(rng, n_clusters, per)
    sp = eng.create_space(f"s{seed}")
    conf = rng.uniform(0.5, 1.0, size=len(x))
    ids = sp.remember_batch(x, confidences=conf)
    sp.consolidate(**UNCAPPED)
    return sp, ids, labels, centres, dict(zip(map(int, ids), conf, strict=True))


def test_blended_returns_both_kinds(engine: engram.Engine) -> None:
    sp, _, _, centres, _ = consolidated(engine, 1)
    rng = np.random.default_rng(99)
    cue = centres[0] + 0.25 * rng.standard_normal(DIM).astype(np.float32)  # held-out point
    res = sp.recall(cue, k=10)
    kinds = {r.kind for r in res}
    assert kinds == {"episode", "concept"}
    assert any(r.provenance.kind == "blended" for r in res)
    blended = next(r for r in res if r.provenance.kind == "blended")
    assert (blended.provenance.episodic_weight, blended.provenance.semantic_weight) == pytest.approx(
        (0.7, 0.3)
    )
    # The concept returned is the one of the cue's cluster, and its members rank with it.
    concept = next(r for r in res if r.kind == "concept")
    members = set(sp.concept_members(concept.id))
    assert all(r.id in members for r in res if r.kind == "episode")
    assert [r.score for r in res] == sorted((r.score for r in res), reverse=True)


def test_fallback_to_episodic_without_concepts(engine: engram.Engine) -> None:
    rng = np.random.default_rng(2)
    x, _, centres = separated_clusters(rng, 3, 5)
    sp = engine.create_space("plain")
    sp.remember_batch(x)
    res = sp.recall(centres[1], k=5)
    assert res and all(r.provenance.kind == "episodic" and r.kind == "episode" for r in res)
    assert sp.recall(centres[1], k=5, mode="semantic") == []
    # Same ranking as the episodic mode and as a plain search when nothing decays.
    ep = sp.recall(centres[1], k=5, mode="episodic", decay=None)
    ids, sims = sp.exact_search(centres[1], k=5)
    assert [r.id for r in ep] == list(map(int, ids))
    assert [r.score for r in ep] == pytest.approx(list(np.maximum(sims, 0)), abs=1e-5)


def test_semantic_mode(engine: engram.Engine) -> None:
    sp, *_, centres, _ = consolidated(engine, 3)
    res = sp.recall(centres[2], k=13, mode="semantic")  # the concept and its 12 members
    assert res and all(r.provenance.kind == "semantic" for r in res)
    assert res[0].kind == "concept"
    members = set(sp.concept_members(res[0].id))
    assert all(r.id in members for r in res[1:])


def test_feature_flag_turns_blending_off_and_on(engine: engram.Engine) -> None:
    sp, *_, centres, _ = consolidated(engine, 4)
    engine.set_features(blended_recall=False)
    res = sp.recall(centres[0], k=10)
    assert all(r.provenance.kind == "episodic" and r.kind == "episode" for r in res)
    engine.set_features(blended_recall=True)
    assert any(r.kind == "concept" for r in sp.recall(centres[0], k=10))


@given(
    seed=st.integers(0, 2**32 - 1),
    w=st.floats(0.0, 1.0),
    mode=st.sampled_from(["blended", "episodic", "semantic"]),
)
def test_scores_and_confidence_bounds(seed: int, w: float, mode: str) -> None:
    with engram.Engine(dim=DIM) as eng:
        sp, _, _, centres, conf = consolidated(eng, seed % 1000, n_clusters=3, per=8)
        concepts = {c.id: c for c in sp.concepts()}
        rng = np.random.default_rng(seed)
        cue = centres[rng.integers(3)] + 0.3 * rng.standard_normal(DIM).astype(np.float32)
        for r in sp.recall(cue, k=15, mode=mode, semantic_weight=w):  # type: ignore[arg-type]
            assert 0.0 < r.score <= 1.0 and 0.0 <= r.confidence <= 1.0
            if r.kind == "concept":
                c = concepts[r.id]
                assert r.confidence <= max(conf[m] for m in c.members) * 0.9 * c.coherence + 1e-6
            else:
                # Episodic confidence is the episode's own (no decay at age 0); the semantic one
                # decays through the binding (x strength x 0.95); a blend never exceeds 1.1 x the
                # stronger input.
                sem = max((concepts[c].confidence * 0.95 for c in sp.episode_concepts(r.id)), default=0.0)
                kind = r.provenance.kind
                if kind == "episodic":
                    assert r.confidence == pytest.approx(conf[r.id], abs=1e-5)
                elif kind == "semantic":
                    assert r.confidence <= sem + 1e-6
                elif kind == "blended":
                    assert r.confidence <= min(1.0, 1.1 * max(conf[r.id], sem)) + 1e-6


def test_decay_uses_now_and_the_engine_clock(engine: engram.Engine) -> None:
    sp = engine.create_space("decay")
    v = np.ones(DIM, dtype=np.float32)
    old = sp.remember(v, timestamp=T0 - 30 * 86400.0)
    new = sp.remember(v, timestamp=T0)
    res = sp.recall(v, k=2, mode="episodic")
    assert [r.id for r in res] == [new, old] and res[0].score > res[1].score
    # Seen from 30 days before the clock, the old one is fresh... and the new one from the future
    # counts as age 0: equal retention, tie broken by id.
    res = sp.recall(v, k=2, mode="episodic", now=T0 - 30 * 86400.0)
    assert res[0].score == pytest.approx(res[1].score)
    # Without decay both score their similarity.
    assert [r.score for r in sp.recall(v, k=2, mode="episodic", decay=None)] == pytest.approx([1.0, 1.0])
    engine.clock.advance(days=365)
    later = sp.recall(v, k=2, mode="episodic")
    assert later[0].score < res[0].score
    assert min(r.score for r in later) >= 0.1 - 1e-6  # decay floor


def test_threshold_and_validation(engine: engram.Engine) -> None:
    sp, *_, centres, _ = consolidated(engine, 5)
    res = sp.recall(centres[0], k=50, threshold=0.6)
    assert res and all(r.score >= 0.6 for r in res)
    with pytest.raises(engram.InvalidInputError):
        sp.recall(centres[0], mode="dreamy")  # type: ignore[arg-type]
    with pytest.raises(engram.InvalidInputError):
        sp.recall(centres[0], semantic_weight=1.5)
    with pytest.raises(engram.DimensionError):
        sp.recall(np.ones(DIM + 1, dtype=np.float32))
    with pytest.raises(engram.InvalidInputError):
        sp.recall(centres[0], decay="sideways")


def test_spreading_reaches_associated_episodes(engine: engram.Engine) -> None:
    sp, ids, labels, _centres, _ = consolidated(engine, 6)
    # An episode of another cluster linked to a cue-cluster member is reached only by spreading.
    target_cluster = labels[0]
    anchor = int(ids[0])
    far = int(next(i for i, lab in zip(ids, labels, strict=True) if lab != target_cluster))
    sp.link(anchor, far, 1.0)
    res = sp.recall(sp.get(anchor).embedding, k=200, episodic_candidates=8, max_concepts=1)
    hit = next((r for r in res if r.id == far), None)
    assert hit is not None and hit.activation > 0.0
    assert hit.provenance.kind == "pattern-completed"
