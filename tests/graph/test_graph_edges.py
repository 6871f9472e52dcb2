"""link / unlink / neighbors on a space: kinds, weights, isolation, forgotten ends, metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

import engram

Make = Callable[[engram.Space, int], list[int]]


@pytest.fixture
def engine() -> Iterator[engram.Engine]:
    with engram.Engine(path=None, dim=8, ef_construction=32) as eng:
        yield eng


@pytest.fixture
def make_nodes() -> Make:
    """Store ``n`` random episodes in a space and return their ids in order."""

    def make(space: engram.Space, n: int) -> list[int]:
        vecs = np.random.default_rng(n).standard_normal((n, space.dim)).astype(np.float32)
        return [int(i) for i in space.remember_batch(vecs)]

    return make


def test_link_neighbors_unlink(engine: engram.Engine, make_nodes: Make) -> None:
    sp = engine.create_space("g")
    a, b, c = make_nodes(sp, 3)
    assert sp.link(a, c, 0.25) is True
    assert sp.link(a, b) is True
    assert sp.link(a, b, weight=0.5) is False  # replaced, not duplicated
    assert sp.neighbors(a) == [(b, 0.5, "association"), (c, 0.25, "association")]
    assert sp.neighbors(b) == []
    assert sp.edge_count() == 2
    assert sp.unlink(a, b) is True
    assert sp.unlink(a, b) is False
    assert [n.id for n in sp.neighbors(a)] == [c]
    ops = engine.metrics()["spaces"]["g"]["ops"]
    assert ops["link"]["total"] == 3
    assert ops["unlink"]["total"] == 2


def test_links_stay_inside_one_space(engine: engram.Engine, make_nodes: Make) -> None:
    one, two = engine.create_space("one"), engine.create_space("two")
    (a,) = make_nodes(one, 1)
    (x,) = make_nodes(two, 1)
    for src, dst in ((a, x), (x, a)):
        with pytest.raises(engram.MemoryNotFound, match="does not belong"):
            one.link(src, dst)
    with pytest.raises(engram.MemoryNotFound):
        two.link(x, a)
    with pytest.raises(engram.MemoryNotFound):
        one.neighbors(x)
    with pytest.raises(engram.MemoryNotFound):
        one.spread([x])
    assert one.edge_count() == 0
    assert two.edge_count() == 0


def test_bad_arguments_are_clear_errors(engine: engram.Engine, make_nodes: Make) -> None:
    sp = engine.create_space("g")
    a, b = make_nodes(sp, 2)
    with pytest.raises(engram.InvalidInputError, match="edge kind"):
        sp.link(a, b, kind="friend")
    with pytest.raises(engram.InvalidInputError, match=r"\[0, 1\]"):
        sp.link(a, b, weight=1.5)
    with pytest.raises(engram.InvalidInputError, match="itself"):
        sp.link(a, a)
    with pytest.raises(engram.InvalidInputError, match="episode to a concept"):
        sp.link(a, b, kind="binding", strength=0.9, contribution=0.5)
    with pytest.raises(engram.InvalidInputError, match="concept to a concept"):
        sp.link(a, b, kind="hierarchy")
    with pytest.raises(engram.InvalidInputError, match="binding edges only"):
        sp.link(a, b, strength=0.5)
    with pytest.raises(engram.MemoryNotFound):
        sp.link(a, b + 1000)
    with pytest.raises(engram.MemoryNotFound):
        sp.link(a, 1 << 70)
    assert sp.edge_count() == 0


def test_forgotten_memories_lose_their_edges(engine: engram.Engine, make_nodes: Make) -> None:
    sp = engine.create_space("g")
    a, b, c = make_nodes(sp, 3)
    sp.link(a, b)
    sp.link(b, c)
    sp.link(c, b)
    sp.forget(b)
    assert sp.edge_count() == 0
    assert sp.neighbors(a) == []
    with pytest.raises(engram.MemoryNotFound):
        sp.link(a, b)
    result = sp.spread([a], threshold=0.0, direction_weights={"episodic": 1.0})
    assert [r.id for r in result] == [a]


def test_dropped_space_rejects_graph_calls(engine: engram.Engine, make_nodes: Make) -> None:
    sp = engine.create_space("g")
    a, b = make_nodes(sp, 2)
    sp.link(a, b)
    engine.drop_space("g")
    with pytest.raises(engram.SpaceNotFound):
        sp.link(a, b)
    with pytest.raises(engram.SpaceNotFound):
        sp.spread([a])
