"""Every configuration number is validated (issue 13, defect 12), with a typed error naming the
argument, what was received and the valid range; nothing is created by a refused call."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import engram


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"flush_interval_s": math.nan}, ("flush_interval_s", "nan", "0.001")),
        ({"flush_interval_s": -1.0}, ("flush_interval_s", "-1")),
        ({"flush_interval_s": 0.0}, ("flush_interval_s", "0")),
        ({"flush_interval_s": math.inf}, ("flush_interval_s", "inf")),
        ({"checkpoint_interval_s": math.nan}, ("checkpoint_interval_s", "nan")),
        ({"checkpoint_interval_s": -3.0}, ("checkpoint_interval_s", "-3")),
        ({"checkpoint_interval_s": math.inf}, ("checkpoint_interval_s", "inf")),
        ({"segment_bytes": 100}, ("segment_bytes", "100")),
    ],
)
def test_store_settings_are_validated(
    tmp_path: Path, kwargs: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(engram.InvalidInputError) as info:
        engram.Engine(tmp_path / "s", dim=4, **kwargs)
    for f in fragments:
        assert f in str(info.value), str(info.value)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"max_memories": 0}, ("max_memories", "0")),
        ({"max_memories": 2**41}, ("max_memories", str(2**41))),
        ({"max_spaces": 0}, ("max_spaces", "0")),
        ({"idempotency_capacity": 0}, ("idempotency_capacity", "0")),
        ({"idempotency_capacity": -1}, ("idempotency_capacity", "-1")),
        ({"idempotency_capacity": 2**64}, ("idempotency_capacity",)),
        ({"dim": 0}, ("dim", "0")),
        ({"M": 1}, ("M", "1")),
    ],
)
def test_engine_limits_are_validated(kwargs: dict[str, Any], fragments: tuple[str, ...]) -> None:
    with pytest.raises(engram.InvalidInputError) as info:
        engram.Engine(**{"dim": 4, **kwargs})
    for f in fragments:
        assert f in str(info.value), str(info.value)


@pytest.mark.parametrize("t", [math.nan, math.inf, -math.inf])
def test_clock_refuses_non_finite_times(t: float) -> None:
    with engram.Engine(dim=4) as eng:
        with pytest.raises(engram.InvalidInputError, match="finite"):
            eng.clock.set(t)
        assert not eng.clock.manual  # nothing changed
        eng.clock.set(1000.0)
        with pytest.raises(engram.InvalidInputError, match="finite"):
            eng.clock.advance(t)
        assert eng.clock.now() == 1000.0
        # A refused clock cannot stamp a NaN time on a memory.
        sp = eng.create_space("a")
        assert sp.get(sp.remember([1.0, 0, 0, 0])).timestamp == 1000.0
