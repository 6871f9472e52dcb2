"""Is method A better than method B on the same users? A paired bootstrap of the mean difference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engram_harness.stats import bootstrap_ci


@dataclass(frozen=True)
class PairedComparison:
    """Mean of A, mean of B and a bootstrap interval for mean(A - B)."""

    mean_a: float
    mean_b: float
    diff: float
    low: float
    high: float
    confidence: float

    @property
    def significantly_better(self) -> bool:
        """A beats B when the whole interval for the mean difference lies above zero."""
        return self.low > 0.0


def compare_paired(
    a: npt.ArrayLike, b: npt.ArrayLike, *, confidence: float = 0.99, n_boot: int = 4000, seed: int = 0
) -> PairedComparison:
    """Percentile bootstrap of ``mean(a - b)`` over users (the pairs are resampled together)."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"need two 1-D samples of the same length >= 2, got shapes {x.shape} and {y.shape}")
    ci = bootstrap_ci(np.mean, x - y, n_boot=n_boot, confidence=confidence, seed=seed)
    return PairedComparison(float(x.mean()), float(y.mean()), ci.estimate, ci.low, ci.high, confidence)
