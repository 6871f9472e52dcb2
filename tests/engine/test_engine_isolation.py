"""Memory spaces are isolated tenants: no call through space A can return, read or change a
memory of space B, whatever id is passed (adversarial ids included)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DIM, unit_vectors
from hypothesis import given, settings
from hypothesis import strategies as st

import engram

ORDINAL_SHIFT = 40  # ids are (space ordinal << 40) | local sequence


def snapshot(
    space: engram.Space, ids: list[int]
) -> dict[int, tuple[bytes, str, float, float, dict[str, str]]]:
    out = {}
    for i in ids:
        m = space.get(i)
        out[i] = (m.embedding.tobytes(), m.content, m.confidence, m.timestamp, m.metadata)
    return out


def adversarial_ids(own: list[int], foreign: list[int]) -> list[int]:
    """Ids that are not the caller's: the other space's, its neighbours, and id-layout probes."""
    out: set[int] = set(foreign)
    for f in foreign:
        local = f & ((1 << ORDINAL_SHIFT) - 1)
        out |= {f + 1, f - 1, local, -f, f | (1 << 62)}
    for o in own:
        ordinal, local = o >> ORDINAL_SHIFT, o & ((1 << ORDINAL_SHIFT) - 1)
        # Same local sequence under other ordinals, and our ordinal with unused locals.
        out |= {(ordinal + d) << ORDINAL_SHIFT | local for d in (-1, 1, 2, 1000)}
        out |= {ordinal << ORDINAL_SHIFT | (local + 10_000), ordinal << ORDINAL_SHIFT}
    out |= {0, -1, 1, 2**40 - 1, 2**40, 2**63 - 1, -(2**63), 2**64, 2**100, -(2**100)}
    return sorted(out - set(own))


def test_foreign_ids_never_read_or_change_another_space(
    engine: engram.Engine, rng: np.random.Generator
) -> None:
    a, b = engine.create_space("a"), engine.create_space("b")
    ids_a = [int(i) for i in a.remember_batch(unit_vectors(rng, 20), contents=[f"a{i}" for i in range(20)])]
    ids_b = [int(i) for i in b.remember_batch(unit_vectors(rng, 20), contents=[f"b{i}" for i in range(20)])]
    before_a, before_b = snapshot(a, ids_a), snapshot(b, ids_b)

    for bad in adversarial_ids(ids_a, ids_b):
        with pytest.raises(engram.MemoryNotFound):
            a.get(bad)
        with pytest.raises(engram.MemoryNotFound):
            a.forget(bad)
        assert bad not in a
    assert snapshot(b, ids_b) == before_b
    assert snapshot(a, ids_a) == before_a
    assert len(a) == 20
    assert len(b) == 20
    assert a.validate()["ok"]
    assert b.validate()["ok"]


def test_search_never_crosses_spaces(engine: engram.Engine, rng: np.random.Generator) -> None:
    a, b = engine.create_space("a"), engine.create_space("b")
    x = unit_vectors(rng, 50)
    ids_a = set(a.remember_batch(x[:25]).tolist())
    ids_b = set(b.remember_batch(x[25:]).tolist())
    for q in x:  # including B's own vectors as queries into A
        for found in (a.search(q, k=50, ef=100)[0], a.exact_search(q, k=50)[0]):
            assert set(found.tolist()) <= ids_a
        assert set(b.search(q, k=50, ef=100)[0].tolist()) <= ids_b
    # Identical vectors in both spaces still stay apart.
    same = unit_vectors(rng, 1)[0]
    ia, ib = a.remember(same), b.remember(same)
    assert a.search(same, k=1)[0].tolist() == [ia]
    assert b.search(same, k=1)[0].tolist() == [ib]


def test_dropped_and_recreated_space_ids(engine: engram.Engine, rng: np.random.Generator) -> None:
    a = engine.create_space("a")
    old = engine.create_space("b")
    old_ids = [int(i) for i in old.remember_batch(unit_vectors(rng, 10))]
    ids_a = [int(i) for i in a.remember_batch(unit_vectors(rng, 10))]
    engine.drop_space("b")
    new = engine.create_space("b")
    new_ids = [int(i) for i in new.remember_batch(unit_vectors(rng, 10))]
    before_new = snapshot(new, new_ids)

    # Ids of the dropped incarnation are unknown to the new space of the same name, and to A.
    for i in old_ids:
        with pytest.raises(engram.MemoryNotFound):
            new.get(i)
        with pytest.raises(engram.MemoryNotFound):
            new.forget(i)
        with pytest.raises(engram.MemoryNotFound):
            a.get(i)
    # The old handle cannot reach the new space's memories.
    for i in new_ids:
        with pytest.raises(engram.SpaceNotFound):
            old.get(i)
        with pytest.raises(engram.SpaceNotFound):
            old.forget(i)
    assert not set(old_ids) & set(new_ids)
    assert snapshot(new, new_ids) == before_new
    assert len(new) == 10
    assert len(a) == 10
    for i in new_ids + old_ids:
        with pytest.raises(engram.MemoryNotFound):
            a.forget(i)
    assert set(a.exact_search(np.ones(DIM), k=20)[0].tolist()) == set(ids_a)
    assert set(new.exact_search(np.ones(DIM), k=20)[0].tolist()) == set(new_ids)


@settings(max_examples=40)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(
                ["remember", "batch", "forget_own", "forget_foreign", "get_foreign", "search", "random"]
            ),
            st.integers(0, 1),  # which space acts
            st.integers(0, 2**31),  # seed / selector
            st.integers(-(2**64), 2**64),  # a random id
        ),
        min_size=1,
        max_size=40,
    )
)
def test_random_interleavings_stay_isolated(ops: list[tuple[str, int, int, int]]) -> None:
    with engram.Engine(dim=DIM) as eng:
        spaces = [eng.create_space("a"), eng.create_space("b")]
        model: list[dict[int, bytes]] = [{}, {}]
        for op, who, sel, random_id in ops:
            me = spaces[who]
            mine, theirs = model[who], model[1 - who]
            rng = np.random.default_rng(sel)
            if op == "remember":
                v = unit_vectors(rng, 1)[0]
                mine[me.remember(v)] = v.tobytes()
            elif op == "batch":
                x = unit_vectors(rng, 1 + sel % 5)
                for i, v in zip(me.remember_batch(x), x, strict=True):
                    mine[int(i)] = v.tobytes()
            elif op == "forget_own" and mine:
                victim = sorted(mine)[sel % len(mine)]
                me.forget(victim)
                del mine[victim]
            elif op in ("forget_foreign", "get_foreign") and theirs:
                foreign = sorted(theirs)[sel % len(theirs)]
                with pytest.raises(engram.MemoryNotFound):
                    me.forget(foreign) if op == "forget_foreign" else me.get(foreign)
            elif op == "search":
                found, _ = me.search(unit_vectors(rng, 1)[0], k=50, ef=100)
                assert set(found.tolist()) <= set(mine)
            elif op == "random" and random_id not in mine:
                with pytest.raises(engram.MemoryNotFound):
                    me.get(random_id)
                with pytest.raises(engram.MemoryNotFound):
                    me.forget(random_id)
            # Invariant after every step: each space holds exactly its model, bytes intact.
            for sp, m in zip(spaces, model, strict=True):
                assert len(sp) == len(m)
        for sp, m in zip(spaces, model, strict=True):
            for i, raw in m.items():
                assert sp.get(i).embedding.tobytes() == raw
            assert sp.validate()["ok"]
