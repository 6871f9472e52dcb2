"""Input checking shared by the statistics modules (private)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

SeedLike = int | np.random.Generator | None


def as_sample(values: ArrayLike, name: str = "sample", *, min_size: int = 1) -> NDArray[np.float64]:
    """Return ``values`` as a 1-D float64 array of finite numbers, or raise ``ValueError``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} needs at least {min_size} values, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def as_pair(
    x: ArrayLike, y: ArrayLike, *, min_size: int = 2
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return two equally long finite 1-D float arrays (paired data such as x/y of a fit)."""
    xa = as_sample(x, "x", min_size=min_size)
    ya = as_sample(y, "y", min_size=min_size)
    if xa.size != ya.size:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    return xa, ya


def rng_from(seed: SeedLike) -> np.random.Generator:
    """A numpy Generator: ``seed`` itself if it is one, else ``np.random.default_rng(seed)``."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
