"""Shared helpers for durability tests: small stores, deterministic vectors."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DIM = 8


def vec(i: int, dim: int = DIM) -> npt.NDArray[np.float32]:
    """A deterministic, non-zero vector for item i (identical bytes in parent and child)."""
    rng = np.random.default_rng(i)
    return rng.normal(size=dim).astype(np.float32)
