"""Multiple-comparison corrections of p-values (family-wise error rate control), via statsmodels."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["adjust_pvalues"]


def adjust_pvalues(pvals: ArrayLike, method: Literal["holm", "bonferroni"] = "holm") -> NDArray[np.float64]:
    """Adjusted p-values, in the input order; reject hypothesis i at level alpha iff ``adjusted[i] < alpha``.

    ``statsmodels.stats.multitest.multipletests``:

    * ``"bonferroni"``: ``min(1, m * p_i)``.
    * ``"holm"`` (step-down): with ``p_(1) <= ... <= p_(m)``,
      ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``.
      Never larger than Bonferroni and uniformly more powerful.

    Both control the family-wise error rate at alpha under any dependence between the tests.
    """
    if method not in ("holm", "bonferroni"):
        raise ValueError(f"method must be 'holm' or 'bonferroni', got {method!r}")
    p = np.asarray(pvals, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"pvals must be one-dimensional, got shape {p.shape}")
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    if p.size == 0:
        return p.copy()
    from statsmodels.stats.multitest import multipletests  # imported on use: statsmodels loads slowly

    return np.asarray(multipletests(p, method=method)[1], dtype=np.float64)
