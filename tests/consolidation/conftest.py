"""Fixtures: an engine on a manual clock (data helpers live in engram_harness.vectors)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import engram

DIM = 32  # the dimension of engram_harness.vectors.separated_clusters' default
T0 = 1_700_000_000.0  # a fixed engine-clock start, seconds since the epoch


@pytest.fixture
def engine() -> Iterator[engram.Engine]:
    eng = engram.Engine(dim=DIM)
    eng.clock.set(T0)
    yield eng
    eng.close()
