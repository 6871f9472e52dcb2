"""Fixtures: an engine on a manual clock (data helpers live in engram.testing.clusters)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import engram
from engram.testing.clusters import DIM, T0


@pytest.fixture
def engine() -> Iterator[engram.Engine]:
    eng = engram.Engine(dim=DIM)
    eng.clock.set(T0)
    yield eng
    eng.close()
