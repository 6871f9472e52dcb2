"""The public contract of the Python API, exactly as issue 2 shows it."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import DIM, unit_vectors

import engram
from engram_harness.memory_parts import parts_sum


def test_engine_defaults_to_768_dimensions_in_memory() -> None:
    with engram.Engine(path=None, dim=768) as eng:
        assert eng.dim == 768
        assert eng.path is None
        sp = eng.create_space("science")
        assert sp.dim == 768
        assert sp.name == "science"
    assert engram.Engine().dim == 768


def test_space_registry(engine: engram.Engine) -> None:
    assert engine.spaces() == []
    a = engine.create_space("science")
    engine.create_space("art")
    assert sorted(engine.spaces()) == ["art", "science"]
    assert engine.space("science").name == "science"
    # A second handle sees the same data.
    eid = a.remember(np.ones(DIM, dtype=np.float32))
    assert engine.space("science").get(eid).id == eid
    with pytest.raises(engram.SpaceExists):
        engine.create_space("science")
    engine.drop_space("art")
    assert engine.spaces() == ["science"]
    with pytest.raises(engram.SpaceNotFound):
        engine.space("art")
    with pytest.raises(engram.SpaceNotFound):
        engine.drop_space("art")


def test_remember_get_round_trip(space: engram.Space, rng: np.random.Generator) -> None:
    v = unit_vectors(rng, 1)[0] * np.float32(3.5)  # stored as given, not normalised
    eid = space.remember(
        v, content="the mitochondria", confidence=0.25, timestamp=1.7e9, metadata={"src": "wiki"}
    )
    assert isinstance(eid, int)
    m = space.get(eid)
    assert isinstance(m, engram.Memory)
    assert m.id == eid
    assert m.kind == "episode"
    assert m.embedding.dtype == np.float32
    assert m.embedding.tobytes() == v.tobytes()
    assert m.content == "the mitochondria"
    assert m.confidence == pytest.approx(0.25)
    assert m.timestamp == 1.7e9
    assert m.metadata == {"src": "wiki"}
    assert len(space) == 1
    assert eid in space


def test_remember_defaults(engine: engram.Engine, space: engram.Space) -> None:
    before = time.time()
    eid = space.remember(np.ones(DIM, dtype=np.float32))
    after = time.time()
    m = space.get(eid)
    assert m.content == ""
    assert m.confidence == 1.0
    assert m.metadata == {}
    assert before - 1.0 <= m.timestamp <= after + 1.0
    # With a manual clock the default timestamp is the engine's time, not the wall clock.
    engine.clock.set(1_000_000.0)
    assert space.get(space.remember(np.ones(DIM, dtype=np.float32))).timestamp == 1_000_000.0


def test_content_accepts_utf8_bytes_and_unicode(space: engram.Space) -> None:
    v = np.ones(DIM, dtype=np.float32)
    assert space.get(space.remember(v, content="naïve 🧠 日本")).content == "naïve 🧠 日本"
    assert space.get(space.remember(v, content="naïve 🧠".encode())).content == "naïve 🧠"
    assert space.get(space.remember(v, content="a\x00b")).content == "a\x00b"


def test_embedding_conversions(space: engram.Space) -> None:
    # Lists, ints and float64 are converted to float32; the space keeps float32 values.
    eid = space.remember([1] + [0] * (DIM - 1))
    assert space.get(eid).embedding.tolist() == [1.0] + [0.0] * (DIM - 1)
    v64 = np.linspace(0.1, 1.0, DIM)
    assert np.array_equal(space.get(space.remember(v64)).embedding, v64.astype(np.float32))


def test_ids_are_unique_and_distinct_across_spaces(engine: engram.Engine, rng: np.random.Generator) -> None:
    a, b = engine.create_space("a"), engine.create_space("b")
    ids_a = [a.remember(v) for v in unit_vectors(rng, 20)]
    ids_b = list(b.remember_batch(unit_vectors(rng, 20)))
    assert len(set(ids_a)) == 20
    assert len(set(ids_b)) == 20
    assert not set(ids_a) & set(ids_b)


def test_remember_batch(space: engram.Space, rng: np.random.Generator) -> None:
    x = unit_vectors(rng, 5)
    ids = space.remember_batch(
        x,
        contents=["a", "b", b"c", "d", "e"],
        confidences=[0.0, 0.25, 0.5, 0.75, 1.0],
        timestamps=[1.0, None, 3.0, 4.0, 5.0],
    )
    assert isinstance(ids, np.ndarray)
    assert ids.dtype == np.int64
    assert ids.shape == (5,)
    assert len(set(ids.tolist())) == 5
    assert len(space) == 5
    for i, eid in enumerate(ids):
        m = space.get(int(eid))
        assert m.embedding.tobytes() == x[i].tobytes()
        assert m.content == "abcde"[i]
        assert m.confidence == pytest.approx(i / 4)
    assert space.get(int(ids[0])).timestamp == 1.0
    assert space.get(int(ids[1])).timestamp > 1e9  # None means now
    # Defaults for the optional columns.
    ids2 = space.remember_batch(x[:2])
    assert [space.get(int(i)).content for i in ids2] == ["", ""]
    assert [space.get(int(i)).confidence for i in ids2] == [1.0, 1.0]


def test_remember_batch_empty(space: engram.Space) -> None:
    ids = space.remember_batch(np.empty((0, DIM), dtype=np.float32))
    assert ids.shape == (0,)
    assert len(space) == 0


def test_forget_is_a_tombstone(space: engram.Space, rng: np.random.Generator) -> None:
    x = unit_vectors(rng, 30)
    ids = space.remember_batch(x)
    victim = int(ids[7])
    space.forget(victim)
    assert len(space) == 29
    assert victim not in space
    with pytest.raises(engram.MemoryNotFound):
        space.get(victim)
    with pytest.raises(engram.MemoryNotFound):
        space.forget(victim)  # forgetting twice is an unknown id
    # Even a query equal to the forgotten vector never returns it, at any k / ef.
    for k in (1, 10, 30):
        found, _ = space.search(x[7], k=k, ef=200)
        assert victim not in found.tolist()
        found, _ = space.exact_search(x[7], k=k)
        assert victim not in found.tolist()
    assert space.stats()["forgotten"] == 1
    assert space.validate()["ok"]


def test_search_returns_cosine_similarity_descending(space: engram.Space, rng: np.random.Generator) -> None:
    x = unit_vectors(rng, 50) * rng.uniform(0.5, 4.0, size=(50, 1)).astype(np.float32)
    ids = space.remember_batch(x)
    q = rng.standard_normal(DIM).astype(np.float32)
    found, scores = space.search(q, k=10, ef=100)
    assert found.dtype == np.int64
    assert scores.dtype == np.float32
    assert found.shape == scores.shape == (10,)
    assert np.all(np.diff(scores) <= 0)
    # Cosine similarity, independent of the stored vectors' norms.
    pos = {int(i): n for n, i in enumerate(ids)}
    for eid, s in zip(found, scores, strict=True):
        v = x[pos[int(eid)]]
        cos = float(np.dot(v, q) / (np.linalg.norm(v) * np.linalg.norm(q)))
        assert s == pytest.approx(cos, abs=1e-5)
    # Exact: with ef >= n on a small space, HNSW equals brute force.
    exact_ids, exact_scores = space.exact_search(q, k=10)
    np.testing.assert_allclose(scores, exact_scores, atol=1e-5)
    assert found.tolist() == exact_ids.tolist()


def test_search_k_larger_than_space_and_empty_space(space: engram.Space, rng: np.random.Generator) -> None:
    q = unit_vectors(rng, 1)[0]
    ids, scores = space.search(q)
    assert ids.shape == (0,)
    assert scores.shape == (0,)
    stored = space.remember_batch(unit_vectors(rng, 3))
    ids, _ = space.search(q, k=10)
    assert sorted(ids.tolist()) == sorted(stored.tolist())


def test_search_finds_itself(space: engram.Space, rng: np.random.Generator) -> None:
    x = unit_vectors(rng, 200)
    ids = space.remember_batch(x)
    for i in range(0, 200, 17):
        found, scores = space.search(x[i], k=1)
        assert int(found[0]) == int(ids[i])
        assert scores[0] == pytest.approx(1.0, abs=1e-5)


def test_stats_and_validate_shapes(space: engram.Space, rng: np.random.Generator) -> None:
    space.remember_batch(unit_vectors(rng, 10))
    st = space.stats()
    assert st["episodes"] == 10
    assert st["concepts"] == 0
    assert st["dim"] == DIM
    mb = st["memory_bytes"]
    assert mb["total"] == parts_sum(mb)
    assert mb["vectors"] >= 10 * DIM * 4
    v = space.validate()
    assert v["ok"] is True
    for key in ("broken_links", "layer_violations", "dangling_ids", "record_index_mismatches"):
        assert v[key] == 0
    assert v["nodes"] == 10


def test_close_and_context_manager(rng: np.random.Generator) -> None:
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("s")
        eid = sp.remember(unit_vectors(rng, 1)[0])
        assert not eng.closed
    assert eng.closed
    with pytest.raises(engram.EngramError):
        sp.get(eid)
    with pytest.raises(engram.EngramError):
        sp.remember(unit_vectors(rng, 1)[0])
    with pytest.raises(engram.EngramError):
        eng.create_space("t")
    eng.close()  # closing twice is harmless


def test_dropped_space_handle_is_dead(engine: engram.Engine, rng: np.random.Generator) -> None:
    sp = engine.create_space("gone")
    eid = sp.remember(unit_vectors(rng, 1)[0])
    engine.drop_space("gone")
    for call in (
        lambda: sp.get(eid),
        lambda: sp.remember(unit_vectors(rng, 1)[0]),
        lambda: sp.search(np.ones(DIM)),
    ):
        with pytest.raises(engram.SpaceNotFound):
            call()
    # The name can be reused; the new space starts empty.
    again = engine.create_space("gone")
    assert len(again) == 0
    assert eid not in again


def test_error_hierarchy() -> None:
    assert issubclass(engram.DimensionError, ValueError)
    assert issubclass(engram.DimensionError, engram.InvalidInputError)
    assert issubclass(engram.InvalidInputError, ValueError)
    assert issubclass(engram.SpaceNotFound, KeyError)
    assert issubclass(engram.MemoryNotFound, KeyError)
    for cls in (
        engram.DimensionError,
        engram.InvalidInputError,
        engram.SpaceNotFound,
        engram.CapacityError,
        engram.MemoryNotFound,
        engram.SpaceExists,
    ):
        assert issubclass(cls, engram.EngramError)
    # KeyError subclasses keep their message readable (no repr quotes).
    assert str(engram.SpaceNotFound("unknown memory space 'x'")) == "unknown memory space 'x'"


def test_capacity_error(engine: engram.Engine, rng: np.random.Generator) -> None:
    sp = engine.create_space("tiny", max_memories=3)
    sp.remember_batch(unit_vectors(rng, 3))
    with pytest.raises(engram.CapacityError):
        sp.remember(unit_vectors(rng, 1)[0])
    with pytest.raises(engram.CapacityError):
        sp.remember_batch(unit_vectors(rng, 2))
    assert len(sp) == 3


@pytest.mark.parametrize("seed", range(8))
def test_parallel_batch_insert_leaves_no_node_unreachable(seed: int) -> None:
    # Concurrent inserts used to overwrite each other's fresh back-links, and pruning could drop
    # a node's last in-link: such a node can never be returned by search (~0.9% of nodes here).
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((300, 32)).astype(np.float32)
    with engram.Engine(dim=32) as eng:
        sp = eng.create_space("s")
        ids = sp.remember_batch(x)
        assert sp.validate()["unreachable"] == 0
        # ef = n makes the layer-0 search visit every node reachable from the entry point, so a
        # miss here is a node no search can return (this test's subject). With the default ef a
        # reachable node is occasionally missed by the approximate search itself (seen once in
        # CI: seed 5, validate() reporting none unreachable); recall is measured elsewhere.
        for i in range(300):
            found, _ = sp.search(x[i], k=1, ef=300)
            assert int(found[0]) == int(ids[i])
