"""Shared fixtures for the engine's Python API tests.

The tests import ``engram`` as installed (CI: ``pip install .``) or from the repository with
``PYTHONPATH=<repo>`` during development; nothing here edits ``sys.path``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, settings

import engram
from engram_harness.vectors import unit_gaussian

# CI runs more examples than a developer's edit-test loop; both are deterministic per seed.
settings.register_profile("dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

DIM = 16


def unit_vectors(rng: np.random.Generator, n: int, dim: int = DIM) -> npt.NDArray[np.float32]:
    """``n`` random unit-norm float32 rows (never zero)."""
    return unit_gaussian(rng, n, dim)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def engine() -> Iterator[engram.Engine]:
    with engram.Engine(path=None, dim=DIM) as eng:
        yield eng


@pytest.fixture
def space(engine: engram.Engine) -> engram.Space:
    return engine.create_space("main")
