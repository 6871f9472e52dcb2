"""Fixtures for consolidation tests: well-separated synthetic clusters."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt
import pytest

import engram

DIM = 32
T0 = 1_700_000_000.0


def make_clusters(
    rng: np.random.Generator, n_clusters: int, per_cluster: int, dim: int = DIM, sigma: float = 0.25
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Points around random N(0, 1) centres (per-dimension noise ``sigma``), shuffled.

    In 32 dimensions random centres have |cos| of about 0.2 (pair similarity about 0.05) while
    points of one cluster have cos of about 0.94 (similarity about 0.99): well separated.
    """
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    x = centres[labels] + sigma * rng.standard_normal((labels.size, dim)).astype(np.float32)
    order = rng.permutation(labels.size)
    return x[order].astype(np.float32), labels[order], centres


@pytest.fixture
def engine() -> Iterator[engram.Engine]:
    eng = engram.Engine(dim=DIM)
    eng.clock.set(T0)
    yield eng
    eng.close()


@pytest.fixture
def clusters() -> Callable[
    ..., tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float32]]
]:
    return make_clusters
