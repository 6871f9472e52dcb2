"""Pattern completion from partial embeddings."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DIM

import engram
from engram_harness.vectors import separated_clusters


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_completion_lands_nearest_its_true_centre(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_clusters, trials = 8, 200
    x, labels, centres = separated_clusters(rng, n_clusters, 40 + trials // n_clusters, sigma=0.5)
    train, test = x[:-trials], x[-trials:]
    test_labels = labels[-trials:]  # held out: never stored
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("c")
        sp.remember_batch(train)
        sp.consolidate(max_concepts_per_run=100, max_formations_per_hour=0)
        hits = 0
        for point, lab in zip(test, test_labels, strict=True):
            mask = rng.random(DIM) < 0.5
            partial = np.where(mask, point, np.nan).astype(np.float32)
            c = sp.complete(partial, mask)
            assert np.array_equal(c.vector[mask], point[mask])
            assert np.isfinite(c.vector).all()
            d = np.linalg.norm(centres - c.vector, axis=1)
            hits += int(np.argmin(d) == lab)
        assert hits / trials >= 0.9


def test_completion_result_shape() -> None:
    rng = np.random.default_rng(5)
    x, _, centres = separated_clusters(rng, 3, 20)
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("c")
        ids = set(map(int, sp.remember_batch(x)))
        sp.consolidate()
        mask = np.zeros(DIM, dtype=bool)
        mask[: DIM // 2] = True
        c = sp.complete(np.where(mask, centres[0], 0.0), mask)
        assert 0.0 <= c.confidence <= 1.0 and c.known_dims == DIM // 2
        assert c.accepted == (c.confidence >= 0.7)
        assert len(c.alternatives) == 3 and 1 <= len(c.sources) <= 8
        concept_ids = {k.id for k in sp.concepts()}
        assert set(c.sources) <= ids | concept_ids
        assert list(c.source_similarity) == sorted(c.source_similarity, reverse=True)
        assert c.provenance == "pattern-completed"
        with pytest.raises(engram.InvalidInputError):
            sp.complete(np.zeros(DIM), np.zeros(DIM, dtype=bool))
        with pytest.raises(engram.DimensionError):
            sp.complete(np.zeros(DIM + 1), np.ones(DIM + 1, dtype=bool))
        with pytest.raises(engram.InvalidInputError):
            sp.complete(np.full(DIM, np.nan), np.ones(DIM, dtype=bool))


def test_completion_on_empty_space_has_zero_confidence() -> None:
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("empty")
        c = sp.complete(np.ones(DIM), np.arange(DIM) < 4)
        assert c.confidence == 0.0 and not c.accepted and c.sources == ()
