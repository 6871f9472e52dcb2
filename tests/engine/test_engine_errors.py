"""Invalid input is rejected with a typed error that names what was received and what is
expected, and nothing is stored (the space's length and contents are unchanged)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import DIM, unit_vectors
from hypothesis import given
from hypothesis import strategies as st

import engram


def assert_rejected(
    space: engram.Space, call: Callable[[], Any], error: type[Exception], *fragments: str
) -> pytest.ExceptionInfo[Exception]:
    """``call`` raises ``error`` whose message contains every fragment, and the space is unchanged."""
    before_len = len(space)
    before_stats = space.stats()
    with pytest.raises(error) as info:
        call()
    for f in fragments:
        assert f in str(info.value), f"{f!r} not in {str(info.value)!r}"
    assert len(space) == before_len
    after = space.stats()
    assert after["episodes"] == before_stats["episodes"]
    assert after["memory_bytes"]["vectors"] == before_stats["memory_bytes"]["vectors"]
    assert space.validate()["ok"]
    return info


def test_wrong_dimension_message_names_shape_and_expectation() -> None:
    with engram.Engine(dim=768) as eng:
        sp = eng.create_space("s")
        info = assert_rejected(
            sp, lambda: sp.remember(np.zeros(512, dtype=np.float32)), engram.DimensionError, "768", "(512,)"
        )
        assert "float32" in str(info.value)
        assert isinstance(info.value, ValueError)
        assert_rejected(
            sp, lambda: sp.search(np.ones(512, dtype=np.float32)), engram.DimensionError, "768", "(512,)"
        )
        assert_rejected(
            sp,
            lambda: sp.remember_batch(np.ones((4, 512), dtype=np.float32)),
            engram.DimensionError,
            "768",
            "(4, 512)",
        )


@pytest.mark.parametrize(
    "bad",
    [
        np.ones(DIM - 1, dtype=np.float32),
        np.ones(DIM + 1, dtype=np.float32),
        np.ones((1, DIM), dtype=np.float32),
        np.ones((DIM, 1), dtype=np.float32),
        np.float32(1.0),
        [],
    ],
    ids=["short", "long", "row-matrix", "column-matrix", "scalar", "empty"],
)
def test_wrong_shape_embedding(space: engram.Space, bad: Any) -> None:
    assert_rejected(space, lambda: space.remember(bad), engram.DimensionError, str(DIM))


@pytest.mark.parametrize(
    ("value", "fragment"),
    [(np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")],
)
@pytest.mark.parametrize("position", [0, DIM // 2, DIM - 1])
def test_non_finite_embedding(space: engram.Space, value: float, fragment: str, position: int) -> None:
    v = np.ones(DIM, dtype=np.float32)
    v[position] = value
    info = assert_rejected(
        space, lambda: space.remember(v), engram.InvalidInputError, fragment, f"index {position}"
    )
    assert isinstance(info.value, ValueError)
    assert_rejected(
        space, lambda: space.remember_batch(np.stack([np.ones(DIM), v])), engram.InvalidInputError, fragment
    )
    assert_rejected(space, lambda: space.search(v), engram.InvalidInputError, fragment)


@given(
    position=st.integers(0, DIM - 1),
    value=st.sampled_from([np.nan, np.inf, -np.inf]),
    base=st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=32), min_size=DIM, max_size=DIM),
)
def test_non_finite_anywhere_is_rejected(position: int, value: float, base: list[float]) -> None:
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("h")
        v = np.array(base, dtype=np.float32)
        v[position] = value
        with pytest.raises(engram.InvalidInputError):
            sp.remember(v)
        assert len(sp) == 0


def test_zero_vector(space: engram.Space) -> None:
    zero = np.zeros(DIM, dtype=np.float32)
    assert_rejected(space, lambda: space.remember(zero), engram.InvalidInputError, "zero vector")
    assert_rejected(space, lambda: space.search(zero), engram.InvalidInputError, "zero vector")
    batch = np.ones((3, DIM), dtype=np.float32)
    batch[2] = 0
    assert_rejected(
        space, lambda: space.remember_batch(batch), engram.InvalidInputError, "zero vector", "item 2"
    )


def test_underflowing_vector_is_zero_or_stored_exactly(space: engram.Space) -> None:
    # A denormal vector has a norm that underflows in float32: it must either be rejected as a
    # zero vector or be stored and searchable without producing NaN scores.
    v = np.full(DIM, 1e-45, dtype=np.float32)
    try:
        eid = space.remember(v)
    except engram.InvalidInputError:
        assert len(space) == 0
        return
    _, scores = space.search(np.ones(DIM, dtype=np.float32), k=1)
    assert np.all(np.isfinite(scores)), f"search returned non-finite similarity {scores} for memory {eid}"


@pytest.mark.parametrize("confidence", [-0.001, 1.001, -1.0, 2.0, float("nan"), float("inf"), -float("inf")])
def test_confidence_out_of_range(space: engram.Space, confidence: float) -> None:
    v = np.ones(DIM, dtype=np.float32)
    info = assert_rejected(
        space,
        lambda: space.remember(v, confidence=confidence),
        engram.InvalidInputError,
        "confidence",
        "[0, 1]",
    )
    assert isinstance(info.value, ValueError)
    assert_rejected(
        space,
        lambda: space.remember_batch(np.ones((2, DIM)), confidences=[0.5, confidence]),
        engram.InvalidInputError,
        "confidence",
    )


@pytest.mark.parametrize("confidence", [0.0, 1.0, 0.5, 1e-30])
def test_confidence_bounds_are_inclusive(space: engram.Space, confidence: float) -> None:
    eid = space.remember(np.ones(DIM, dtype=np.float32), confidence=confidence)
    assert space.get(eid).confidence == pytest.approx(confidence)


@pytest.mark.parametrize(
    "content",
    [
        b"\xff",
        b"\xc3\x28",
        b"ok\x80",
        b"\xed\xa0\x80",
        b"\xf8\x88\x80\x80\x80",
        b"\xc0\xaf",
        "lone \udc80",
        "\ud800",
    ],
    ids=[
        "0xff",
        "bad-continuation",
        "stray-continuation",
        "utf8-encoded-surrogate",
        "5-byte",
        "overlong",
        "str-low-surrogate",
        "str-high-surrogate",
    ],
)
def test_non_utf8_content(space: engram.Space, content: str | bytes) -> None:
    v = np.ones(DIM, dtype=np.float32)
    info = assert_rejected(
        space, lambda: space.remember(v, content=content), engram.InvalidInputError, "UTF-8"
    )
    assert "content" in str(info.value)
    assert_rejected(
        space,
        lambda: space.remember_batch(np.ones((2, DIM)), contents=["fine", content]),
        engram.InvalidInputError,
        "UTF-8",
    )


@given(st.binary(min_size=1, max_size=40))
def test_arbitrary_bytes_content(data: bytes) -> None:
    """Valid UTF-8 round-trips exactly; anything else is rejected and not stored."""
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("b")
        try:
            expected = data.decode("utf-8")
        except UnicodeDecodeError:
            with pytest.raises(engram.InvalidInputError):
                sp.remember(np.ones(DIM, dtype=np.float32), content=data)
            assert len(sp) == 0
        else:
            assert sp.get(sp.remember(np.ones(DIM, dtype=np.float32), content=data)).content == expected


@pytest.mark.parametrize(
    "metadata",
    [{"k": "\udc80"}, {"\ud800": "v"}, {"k": 1}, {1: "v"}, {"k": None}],
    ids=["value-surrogate", "key-surrogate", "int-value", "int-key", "none-value"],
)
def test_bad_metadata(space: engram.Space, metadata: dict[Any, Any]) -> None:
    assert_rejected(
        space,
        lambda: space.remember(np.ones(DIM, dtype=np.float32), metadata=metadata),
        engram.InvalidInputError,
    )


@pytest.mark.parametrize("timestamp", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_timestamp(space: engram.Space, timestamp: float) -> None:
    assert_rejected(
        space,
        lambda: space.remember(np.ones(DIM, dtype=np.float32), timestamp=timestamp),
        engram.InvalidInputError,
        "timestamp",
    )


@pytest.mark.parametrize("bad", ["text", None, object(), {"a": 1}])
def test_non_numeric_embedding(space: engram.Space, bad: Any) -> None:
    assert_rejected(space, lambda: space.remember(bad), engram.InvalidInputError, "embedding")


@pytest.mark.parametrize("bad", [0, 12345, -1, 2**40, 2**63 - 1, -(2**63), 2**64, -(2**70)])
def test_unknown_ids(space: engram.Space, bad: int) -> None:
    space.remember(np.ones(DIM, dtype=np.float32))
    assert_rejected(space, lambda: space.get(bad), engram.MemoryNotFound)
    assert_rejected(space, lambda: space.forget(bad), engram.MemoryNotFound)
    assert bad not in space
    info = assert_rejected(space, lambda: space.get(bad), KeyError, str(bad))
    assert "main" in str(info.value)  # names the space that was asked


def test_wrong_dim_batch(space: engram.Space) -> None:
    assert_rejected(
        space, lambda: space.remember_batch(np.ones((3, DIM - 1))), engram.DimensionError, str(DIM)
    )
    assert_rejected(space, lambda: space.remember_batch(np.ones(DIM)), engram.DimensionError, f"({DIM},)")
    assert_rejected(space, lambda: space.remember_batch(np.ones((2, 3, DIM))), engram.DimensionError)
    ragged = [[1.0] * DIM, [1.0] * (DIM - 1)]
    assert_rejected(space, lambda: space.remember_batch(ragged), engram.InvalidInputError)


@pytest.mark.parametrize("column", ["contents", "confidences", "timestamps", "metadatas"])
@pytest.mark.parametrize("length", [0, 2, 4])
def test_ragged_batch_columns(space: engram.Space, column: str, length: int) -> None:
    values: dict[str, list[Any]] = {
        "contents": ["x"] * length,
        "confidences": [0.5] * length,
        "timestamps": [1.0] * length,
        "metadatas": [{"a": "b"}] * length,
    }
    info = assert_rejected(
        space,
        lambda: space.remember_batch(np.ones((3, DIM)), **{column: values[column]}),
        engram.InvalidInputError,
        column,
        str(length),
        "3",
    )
    assert isinstance(info.value, ValueError)


def test_batch_is_all_or_nothing(space: engram.Space, rng: np.random.Generator) -> None:
    x = unit_vectors(rng, 100)
    x[99, 5] = np.nan  # the last item is bad: none of the 99 good ones may be stored
    assert_rejected(space, lambda: space.remember_batch(x), engram.InvalidInputError, "item 99")
    found, _ = space.search(unit_vectors(rng, 1)[0], k=10)
    assert found.size == 0
    assert space.validate()["nodes"] == 0


def test_search_parameters(space: engram.Space) -> None:
    space.remember(np.ones(DIM, dtype=np.float32))
    q = np.ones(DIM, dtype=np.float32)
    assert_rejected(space, lambda: space.search(q, k=0), engram.InvalidInputError, "k", "0")
    assert_rejected(space, lambda: space.search(q, k=-5), engram.InvalidInputError, "-5")
    assert_rejected(space, lambda: space.search(q, ef=0), engram.InvalidInputError, "ef")
    assert_rejected(space, lambda: space.exact_search(q, k=0), engram.InvalidInputError, "k")


def test_space_names_and_dimensions(engine: engram.Engine) -> None:
    for bad in ("", "a" * 1000, "has space", "slash/name", "nul\x00"):
        with pytest.raises(engram.InvalidInputError):
            engine.create_space(bad)
    with pytest.raises(engram.InvalidInputError, match="dimension"):
        engine.create_space("zero", dim=0)
    with pytest.raises(engram.InvalidInputError, match="dimension"):
        engram.Engine(dim=0)
    assert engine.spaces() == []


def test_space_not_found_is_key_error(engine: engram.Engine) -> None:
    with pytest.raises(KeyError) as info:
        engine.space("missing")
    assert isinstance(info.value, engram.SpaceNotFound)
    assert "missing" in str(info.value)


@pytest.mark.parametrize(
    ("dim", "phrase"),
    [(768, "a 768-dimensional"), (8, "an 8-dimensional"), (18, "an 18-dimensional"), (11, "an 11-dimensional"),
     (84, "an 84-dimensional"), (16, "a 16-dimensional"), (111, "a 111-dimensional")],
)  # fmt: skip
def test_dimension_message_reads_as_english(dim: int, phrase: str) -> None:
    with engram.Engine(dim=dim) as eng:
        sp = eng.create_space("s")
        assert_rejected(
            sp, lambda: sp.remember(np.ones(dim + 1, dtype=np.float32)), engram.DimensionError, phrase
        )


@pytest.mark.parametrize("contents", ["ab", b"ab"])
def test_a_single_string_is_not_a_list_of_contents(space: engram.Space, contents: str | bytes) -> None:
    # Two embeddings and a two-character string: must not store "a" and "b" as contents.
    assert_rejected(
        space,
        lambda: space.remember_batch(unit_vectors(np.random.default_rng(0), 2), contents=contents),
        engram.InvalidInputError,
        "one item per embedding",
    )


@pytest.mark.parametrize("bad_id", ["12", 12.0, True, None, b"12"])
def test_ids_must_be_integers(space: engram.Space, bad_id: object) -> None:
    eid = space.remember(unit_vectors(np.random.default_rng(1), 1)[0])
    for call in (space.get, space.forget):
        with pytest.raises(engram.InvalidInputError, match="memory id must be an integer"):
            call(bad_id)  # type: ignore[arg-type]
    assert space.get(eid).id == eid
    assert space.get(np.int64(eid)).id == eid


@pytest.mark.parametrize("name", ["é" * 100, "名" * 70, "x" * 79 + "é", "bad name " + "😀" * 30])
def test_long_non_ascii_space_names_give_clean_errors(name: str) -> None:
    # Messages quote a cut of the name; the cut must never split a UTF-8 character (which
    # would surface as UnicodeDecodeError instead of the typed error).
    with engram.Engine(dim=DIM) as eng:
        with pytest.raises(engram.InvalidInputError, match="invalid space name") as info:
            eng.create_space(name)
        assert len(str(info.value)) < 250
        with pytest.raises(engram.SpaceNotFound, match="unknown memory space"):
            eng.space(name)
        with pytest.raises(engram.SpaceNotFound):
            eng.drop_space(name)


@pytest.mark.parametrize("name", [".", "..", "..."])
def test_dot_only_space_names_are_refused(name: str) -> None:
    # "." and ".." are URL path segments: a space so named could not be reached over HTTP.
    with engram.Engine(dim=DIM) as eng, pytest.raises(engram.InvalidInputError, match="not only dots"):
        eng.create_space(name)
    assert not engram._core.is_valid_space_name(name)
    assert engram._core.is_valid_space_name(".a.") and engram._core.is_valid_space_name("x" * 64)
