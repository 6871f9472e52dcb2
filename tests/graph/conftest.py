"""Fixtures for the graph, spreading-activation and decay tests (issue 3, part 1)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import engram

settings.register_profile("dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

DIM = 8


@pytest.fixture
def engine() -> Iterator[engram.Engine]:
    with engram.Engine(path=None, dim=DIM, ef_construction=32) as eng:
        yield eng


@pytest.fixture
def make_nodes() -> Callable[[engram.Space, int], list[int]]:
    """Store ``n`` random episodes in a space and return their ids in order."""

    def make(space: engram.Space, n: int) -> list[int]:
        rng = np.random.default_rng(n)
        vecs = rng.standard_normal((n, space.dim)).astype(np.float32)
        return [int(i) for i in space.remember_batch(vecs)]

    return make
