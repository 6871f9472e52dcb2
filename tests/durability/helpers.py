"""Shared helpers for durability tests: small stores, deterministic vectors."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from engram_harness.vectors import unit_gaussian

DIM = 8


def vec(i: int, dim: int = DIM) -> npt.NDArray[np.float32]:
    """A deterministic, non-zero vector for item i (identical bytes in parent and child)."""
    return unit_gaussian(np.random.default_rng(i), 1, dim)[0]
