"""Seeded Poisson arrivals: the offsets (seconds from the start) at which requests are sent."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def poisson_offsets(rate_per_s: float, count: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """``count`` arrival offsets of a homogeneous Poisson process with ``rate_per_s`` (ascending).

    Gaps are independent exponentials with mean ``1 / rate_per_s``; the first arrival is one gap
    after time zero, as in a process observed from its start.
    """
    if not rate_per_s > 0:
        raise ValueError(f"rate_per_s must be positive, got {rate_per_s}")
    if count < 0:
        raise ValueError(f"count must be non-negative, got {count}")
    return np.cumsum(rng.exponential(1.0 / rate_per_s, size=count))
