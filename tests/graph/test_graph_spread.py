"""Spreading activation through the Python API: closed forms on small graphs, invariants on
random graphs (Hypothesis), determinism, fan effect, forgotten nodes and argument checks."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engram
from engram.decay import hop_decay

DIM = 8
UNIT = {"upward": 1.0, "downward": 1.0, "lateral": 1.0, "episodic": 1.0}


def fresh_space(n: int) -> tuple[engram.Engine, engram.Space, list[int]]:
    eng = engram.Engine(dim=DIM, ef_construction=16)
    sp = eng.create_space("s")
    vecs = np.random.default_rng(0).standard_normal((n, DIM)).astype(np.float32)
    return eng, sp, [int(i) for i in sp.remember_batch(vecs)]


# Random graphs: node count, edges as (src, dst, weight) over node indexes.
graphs = st.integers(min_value=2, max_value=25).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.integers(0, n - 1),
                st.floats(0.0, 1.0, allow_nan=False, width=32),
            ).filter(lambda e: e[0] != e[1]),
            max_size=4 * n,
        ),
    )
)


@pytest.mark.parametrize("decay", ["exponential", "power_law", "linear"])
def test_chain_carries_the_closed_form_hop_decay(decay: str) -> None:
    eng, sp, ids = fresh_space(6)
    with eng:
        for a, b in itertools.pairwise(ids):
            sp.link(a, b)
        rate = {"exponential": 0.7, "power_law": 1.0, "linear": 0.15}[decay]
        res = {r.id: r for r in sp.spread([ids[0]], 5, decay, rate, 0.0, False, UNIT)}
        closed = {
            "exponential": lambda h: math.exp(-rate * h),
            "power_law": lambda h: (1 + h) ** -rate,
            "linear": lambda h: max(0.0, 1 - rate * h),
        }[decay]
        previous = 1.0
        for h, node in enumerate(ids[1:], start=1):
            assert res[node].hops == h
            assert res[node].activation == pytest.approx(closed(h), rel=1e-6)
            assert hop_decay(decay, h, rate) == pytest.approx(closed(h), rel=1e-12)
            assert res[node].activation < previous  # decreases with hops
            previous = res[node].activation


def test_default_direction_and_decay_on_one_association() -> None:
    _eng, sp, (a, b) = fresh_space(2)
    sp.link(a, b, 0.5)
    res = sp.spread({a: 0.9}, threshold=0.0)
    assert res[0] == (a, pytest.approx(0.9), 0)
    # weight 0.5 x episodic 0.3 x e^-0.7, fan 1.
    assert res[1] == (b, pytest.approx(0.9 * 0.5 * 0.3 * math.exp(-0.7), rel=1e-6), 1)


@pytest.mark.parametrize("divisor", ["linear", "sqrt"])
def test_fan_effect_lowers_activation_as_fan_grows(divisor: str) -> None:
    per_target = []
    for fan in range(1, 9):
        eng, sp, ids = fresh_space(fan + 1)
        with eng:
            for t in ids[1:]:
                sp.link(ids[0], t)
            res = {r.id: r.activation for r in sp.spread([ids[0]], 1, threshold=0.0, fan_divisor=divisor)}
            expected = 0.3 * math.exp(-0.7) / (fan if divisor == "linear" else math.sqrt(fan))
            for t in ids[1:]:
                assert res[t] == pytest.approx(expected, rel=1e-6)
            per_target.append(res[ids[1]])
            without = sp.spread([ids[0]], 1, threshold=0.0, fan_effect=False)
            assert without[1].activation == pytest.approx(0.3 * math.exp(-0.7), rel=1e-6)
    assert all(x > y for x, y in itertools.pairwise(per_target))


@settings(deadline=None)
@given(graph=graphs, seed_act=st.floats(0.01, 1.0), hops=st.integers(1, 6), rate=st.floats(0.0, 2.0))
def test_random_graphs_never_exceed_the_seed_and_mass_decays(
    graph: tuple[int, list[tuple[int, int, float]]], seed_act: float, hops: int, rate: float
) -> None:
    n, edges = graph
    eng, sp, ids = fresh_space(n)
    with eng:
        for a, b, w in edges:
            sp.link(ids[a], ids[b], w)
        res = sp.spread({ids[0]: seed_act}, hops, "exponential", rate, 0.0, True, {"episodic": 1.0})
        f = math.exp(-rate)  # the largest per-hop factor with unit direction weights
        mass = [0.0] * (hops + 1)
        for r in res:
            if r.id == ids[0]:
                assert r.hops == 0
                assert r.activation >= seed_act * (1 - 1e-6)
                continue
            assert r.activation <= seed_act * (1 + 1e-6)
            assert 1 <= r.hops <= hops
            mass[r.hops] += r.activation
        for h in range(1, hops + 1):
            bound = seed_act * (hops - h + 1) if f >= 1.0 else seed_act * f**h / (1 - f)
            assert mass[h] <= bound * (1 + 1e-6) + 1e-9


@settings(deadline=None)
@given(graph=graphs, shuffle_seed=st.integers(0, 2**32 - 1))
def test_cycles_terminate_and_results_do_not_depend_on_insertion_order(
    graph: tuple[int, list[tuple[int, int, float]]], shuffle_seed: int
) -> None:
    n, edges = graph
    # One edge per ordered pair: later duplicates replace earlier ones, so keep the last.
    last = {(a, b): w for a, b, w in edges}
    eng1, sp1, ids1 = fresh_space(n)
    eng2, sp2, ids2 = fresh_space(n)
    with eng1, eng2:
        for (a, b), w in last.items():
            sp1.link(ids1[a], ids1[b], w)
        order = list(last.items())
        random.Random(shuffle_seed).shuffle(order)
        for (a, b), w in order:
            sp2.link(ids2[a], ids2[b], w)
        kwargs = {"max_hops": 12, "decay_rate": 0.05, "threshold": 0.0, "direction_weights": UNIT}
        r1 = sp1.spread({ids1[0]: 1.0, ids1[-1]: 0.5}, **kwargs)
        again = sp1.spread({ids1[0]: 1.0, ids1[-1]: 0.5}, **kwargs)
        r2 = sp2.spread({ids2[0]: 1.0, ids2[-1]: 0.5}, **kwargs)
        assert r1 == again
        # Same positions in both spaces: ids differ only by their space ordinal (both ordinal 1).
        assert r1 == r2
        keys = [(-r.activation, r.id) for r in r1]
        assert keys == sorted(keys)


def test_revisit_penalty_and_cap() -> None:
    eng, sp, (a, b) = fresh_space(2)
    with eng:
        sp.link(a, b, 0.5)
        sp.link(b, a, 0.5)
        res = {r.id: r.activation for r in sp.spread({a: 0.5}, 2, "exponential", 0.0, 0.0, False, UNIT)}
        assert res[b] == pytest.approx(0.25)
        assert res[a] == pytest.approx(0.5 + 0.125 * 0.93)
        res = {r.id: r.activation for r in sp.spread({a: 0.5}, 2, "exponential", 0.0, 0.0, False, UNIT,
                                                      cycle_penalty=1.0)}  # fmt: skip
        assert res[a] == pytest.approx(0.625)


def test_threshold_max_results_and_argument_errors() -> None:
    engine, sp, (a, b, c) = fresh_space(3)
    sp.link(a, b, 1.0)
    sp.link(a, c, 0.1)
    res = sp.spread([a], fan_effect=False, direction_weights={"episodic": 1.0})
    assert [r.id for r in res] == [a, b]  # c gets ~0.05 < 0.1
    assert len(sp.spread([a], threshold=0.0, max_results=2)) == 2
    for kwargs in (
        {"decay": "cubic"},
        {"threshold": 1.5},
        {"max_hops": -1},
        {"decay_rate": -1.0},
        {"direction_weights": {"sideways": 0.5}},
        {"direction_weights": {"upward": 2.0}},
        {"fan_divisor": "log"},
        {"min_fan": 0.0},
        {"max_results": 0},
    ):
        with pytest.raises(engram.InvalidInputError):
            sp.spread([a], **kwargs)  # type: ignore[arg-type]
    with pytest.raises(engram.InvalidInputError, match=r"\(0, 1\]"):
        sp.spread({a: 1.5})
    sp.forget(b)
    with pytest.raises(engram.MemoryNotFound):
        sp.spread([b])
    spread_ops = engine.metrics()["spaces"]["s"]["ops"]["spread"]
    assert spread_ops["total"] >= 3
    assert spread_ops["errors"] >= 1  # engine-side rejections count as errors
