"""Arguments of the wrong type or out of range are refused with a typed error, never coerced.

Integers out of range, bools and strings where numbers are expected, complex values and
floats where integers are expected each raise ``engram.InvalidInputError`` (a ``ValueError``,
never pybind11's ``TypeError``) whose message names the parameter, what was received and what
is expected; nothing is stored. Ids that cannot exist (beyond int64) are unknown ids:
``MemoryNotFound``, as for any other id the space does not hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import DIM, unit_vectors

import engram
from engram.decay import retention

V = np.ones(DIM, dtype=np.float32)


def refused(call: Callable[[], Any], *fragments: str) -> engram.InvalidInputError:
    with pytest.raises(engram.InvalidInputError) as info:
        call()
    assert isinstance(info.value, ValueError) and not isinstance(info.value, TypeError)
    for f in fragments:
        assert f in str(info.value), f"{f!r} not in {str(info.value)!r}"
    return info.value


def unchanged(space: engram.Space, call: Callable[[], Any], *fragments: str) -> None:
    """``call`` is refused and the space holds what it held before."""
    before = space.stats()
    refused(call, *fragments)
    after = space.stats()
    assert (after["episodes"], after["concepts"]) == (before["episodes"], before["concepts"])
    assert space.validate()["ok"]


# --- integers out of range ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda: engram.Engine(dim=-1), ("dim", "-1", "integer from 0")),
        (lambda: engram.Engine(dim=2**64), ("dim", str(2**64))),
        (lambda: engram.Engine(dim=8, M=2**32), ("M", str(2**32), "4294967295")),
        (lambda: engram.Engine(dim=8, ef_search=-3), ("ef_search", "-3")),
        (lambda: engram.Engine(dim=8, max_spaces=-1), ("max_spaces", "-1")),
        (lambda: engram.Engine(dim=8, seed=2**70), ("seed", str(2**70))),
    ],
    ids=["negative-dim", "dim-2**64", "M-2**32", "negative-ef_search", "negative-max_spaces", "seed-2**70"],
)
def test_engine_integers_out_of_range(make: Callable[[], Any], fragments: tuple[str, ...]) -> None:
    refused(make, *fragments)


def test_create_space_integers_out_of_range(engine: engram.Engine) -> None:
    refused(lambda: engine.create_space("a", dim=-1), "dim", "-1")
    refused(lambda: engine.create_space("a", max_memories=-5), "max_memories", "-5")
    refused(lambda: engine.create_space("a", M=2**40), "M", str(2**40))
    assert engine.spaces() == []


@pytest.mark.parametrize("k", [2**63, 2**64, 2**100, -1])
def test_k_out_of_range(space: engram.Space, k: int) -> None:
    space.remember(V)
    unchanged(space, lambda: space.search(V, k=k), "k", str(k))
    unchanged(space, lambda: space.exact_search(V, k=k), "k", str(k))
    unchanged(space, lambda: space.recall(V, k=k), "k", str(k))


def test_ef_out_of_range(space: engram.Space) -> None:
    unchanged(space, lambda: space.search(V, ef=-1), "ef", "-1")
    unchanged(space, lambda: space.search(V, ef=2**64), "ef", str(2**64))


@pytest.mark.parametrize("bad", [2**63, 2**64, -(2**63) - 1, 2**100])
def test_ids_beyond_int64_are_unknown_everywhere(space: engram.Space, bad: int) -> None:
    eid = space.remember(V)
    calls: list[Callable[[], Any]] = [
        lambda: space.get(bad),
        lambda: space.forget(bad),
        lambda: space.neighbors(bad),
        lambda: space.link(eid, bad),
        lambda: space.link(bad, eid),
        lambda: space.unlink(bad, eid),
        lambda: space.spread([bad]),
        lambda: space.spread({bad: 0.5}),
        lambda: space.concept_members(bad),
        lambda: space.episode_concepts(bad),
    ]
    for call in calls:
        with pytest.raises(engram.MemoryNotFound) as info:
            call()
        assert str(bad) in str(info.value) and "64-bit" in str(info.value)
    assert bad not in space
    assert len(space) == 1 and space.edge_count() == 0


# --- the wrong type --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "received"),
    [(10.7, "float 10.7"), (10.0, "float 10.0"), (True, "bool True"), ("5", "str '5'"), (5 + 0j, "complex")],
    ids=["float", "integral-float", "bool", "str", "complex"],
)
def test_integer_parameters_refuse_other_types(space: engram.Space, value: Any, received: str) -> None:
    space.remember(V)
    unchanged(space, lambda: space.search(V, k=value), "k must be an integer", received)
    unchanged(space, lambda: space.search(V, ef=value), "ef must be an integer", received)
    unchanged(space, lambda: space.exact_search(V, k=value), "k must be an integer", received)
    unchanged(space, lambda: space.recall(V, k=value), "k must be an integer", received)
    unchanged(space, lambda: space.recall(V, spread_hops=value), "spread_hops must be an integer", received)
    unchanged(space, lambda: space.spread([1], max_hops=value), "max_hops must be an integer", received)
    unchanged(space, lambda: space.spread([1], max_results=value), "max_results must be an integer", received)
    unchanged(space, lambda: space.complete(V, np.ones(DIM, bool), neighbors=value), "neighbors", received)
    unchanged(space, lambda: space.consolidate(min_cluster_size=value), "min_cluster_size", received)
    refused(lambda: engram.Engine(dim=value), "dim must be an integer", received)
    refused(lambda: engram.decay.hop_decay("linear", value), "hops must be an integer", received)


@pytest.mark.parametrize(
    ("value", "received"),
    [
        (True, "bool True"),
        ("0.5", "str '0.5'"),
        (0.5 + 0j, "complex"),
        (np.complex64(0.5), "complex64"),
        (None, "None"),
    ],
    ids=["bool", "str", "complex", "numpy-complex", "None"],
)
def test_number_parameters_refuse_other_types(space: engram.Space, value: Any, received: str) -> None:
    eid = space.remember(V)
    unchanged(space, lambda: space.remember(V, confidence=value), "confidence must be a number", received)
    unchanged(
        space,
        lambda: space.remember_batch(np.ones((2, DIM)), confidences=[0.5, value]),
        "confidence must be a number",
        received,
    )
    unchanged(
        space, lambda: space.recall(V, semantic_weight=value), "semantic_weight must be a number", received
    )
    unchanged(space, lambda: space.recall(V, threshold=value), "threshold must be a number", received)
    unchanged(space, lambda: space.link(eid, eid, weight=value), "weight must be a number", received)
    refused(lambda: space.spread([eid], threshold=value), "threshold must be a number", received)
    if value is not None:  # None is "the engine clock's now" for a timestamp
        unchanged(space, lambda: space.remember(V, timestamp=value), "timestamp must be a number", received)


def test_flags_refuse_numbers(engine: engram.Engine, space: engram.Space) -> None:
    refused(lambda: engine.set_features(fan_effect=1), "fan_effect must be True or False", "int 1")
    refused(lambda: space.recall(V, include_concepts=0), "include_concepts must be True or False", "int 0")
    refused(lambda: space.spread([1], fan_effect="yes"), "fan_effect", "str 'yes'")
    assert engine.features()["fan_effect"] is True


@pytest.mark.parametrize(
    ("embedding", "received", "kind"),
    [
        (np.ones(DIM, dtype=np.complex128), "an array of complex", "complex"),
        ([1 + 1j] * DIM, "complex values", "complex"),
        (np.ones(DIM, dtype=bool), "an array of bool", "bool"),
        ([1.0] * (DIM - 1) + [True], f"bool at index {DIM - 1}", "bool"),
        (["1"] * DIM, "str values", "str"),
        (np.array(["1"] * DIM), "an array of str", "str"),
        ([1.0] * (DIM - 1) + [None], "non-numeric values", "non-numeric"),
    ],
    ids=[
        "complex-array",
        "complex-list",
        "bool-array",
        "bool-in-list",
        "str-list",
        "str-array",
        "None-in-list",
    ],
)
def test_vectors_refuse_non_real_values(
    space: engram.Space, embedding: Any, received: str, kind: str
) -> None:
    unchanged(space, lambda: space.remember(embedding), "embedding must be a vector of numbers", received)
    unchanged(space, lambda: space.search(embedding), "query must be a vector of numbers", received)
    unchanged(space, lambda: space.recall(embedding), "cue must be a vector of numbers", received)
    unchanged(space, lambda: space.remember_batch([[1.0] * DIM, embedding]), "embeddings must be", kind)


def test_partial_mask_and_ages_refuse_non_real_values(space: engram.Space) -> None:
    space.remember(V)
    unchanged(space, lambda: space.complete(np.ones(DIM, complex), np.ones(DIM, bool)), "partial", "complex")
    unchanged(space, lambda: space.complete(V, ["yes"] * DIM), "mask", "str")
    unchanged(space, lambda: space.complete(V, np.ones(DIM, dtype=np.float32)), "mask", "float32")
    refused(lambda: retention("exponential", [1 + 2j]), "ages", "complex")
    refused(lambda: retention("exponential", ["3600"]), "ages", "str")


def test_text_parameters_refuse_other_types(engine: engram.Engine, space: engram.Space) -> None:
    refused(lambda: engine.create_space(5), "name must be str", "int 5")
    unchanged(space, lambda: space.remember(V, content=3.5), "content must be str", "float 3.5")
    unchanged(space, lambda: space.recall(V, mode=1), "mode must be str", "int 1")
    refused(lambda: engine.drop_space(None), "name must be str", "None")


# --- what is accepted ------------------------------------------------------------------------


def test_numpy_scalars_and_integer_vectors_are_accepted(
    space: engram.Space, rng: np.random.Generator
) -> None:
    ids = space.remember_batch(unit_vectors(rng, 5))
    found, _ = space.search(V, k=np.int64(3), ef=np.uint16(50))
    assert found.size == 3
    assert space.get(ids[0]).id == int(ids[0])  # ids as NumPy integers
    assert ids[1] in space and np.int32(7) not in space
    eid = space.remember([1, 0, 0] + [0] * (DIM - 3), confidence=np.float32(0.5), timestamp=np.int64(100))
    m = space.get(eid)
    assert m.confidence == 0.5 and m.timestamp == 100.0
    assert m.embedding.dtype == np.float32 and m.embedding[0] == 1.0
    assert space.recall(V, k=np.int8(2), semantic_weight=np.float64(0.2))


def test_refused_argument_types_count_as_errors(engine: engram.Engine, space: engram.Space) -> None:
    def errors(op: str) -> int:
        return int(engine.metrics()["spaces"]["main"]["ops"][op]["errors"])

    before = {op: errors(op) for op in ("remember", "remember_batch", "search")}
    refused(lambda: space.remember(V, confidence="high"))
    refused(lambda: space.remember_batch(np.ones((2, DIM)), timestamps=[1.0, True]))
    refused(lambda: space.search(V, k=10.7))
    assert errors("remember") - before["remember"] == 1
    assert errors("remember_batch") - before["remember_batch"] == 1
    assert errors("search") - before["search"] == 1


def test_module_functions_refuse_other_types() -> None:
    from engram import _core

    refused(lambda: _core.crc32c("abc"), "data must be bytes", "str 'abc'")
    refused(lambda: _core.dot("ab", [1.0, 2.0]), "a must be a vector of numbers", "str 'ab'")
    refused(lambda: _core.simd_supported(2), "name must be str", "int 2")
    refused(lambda: _core.verify_store(None), "path must be str", "None")
    refused(lambda: retention("hybrid", [1.0], match_at_switch=1), "match_at_switch must be True or False")
    assert _core.crc32c(b"123456789") == _core.crc32c(bytearray(b"123456789")) == 0xE3069283
