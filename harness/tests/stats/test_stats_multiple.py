"""Multiple-comparison corrections (statsmodels)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram_harness.stats import adjust_pvalues

pvals = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=30)


def test_bonferroni_and_holm_known_values() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    assert adjust_pvalues(p, "bonferroni") == pytest.approx([0.04, 0.16, 0.12, 0.02])
    # Holm: sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    assert adjust_pvalues(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])


@settings(max_examples=60, deadline=None)
@given(pvals)
def test_holm_is_between_raw_and_bonferroni(p: list[float]) -> None:
    raw = np.asarray(p)
    holm = adjust_pvalues(raw, "holm")
    bonf = adjust_pvalues(raw, "bonferroni")
    assert np.all(holm >= raw - 1e-15)
    assert np.all(holm <= bonf + 1e-15)
    assert np.all((holm >= 0) & (holm <= 1))
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(holm[order]) >= -1e-15)  # monotone in the raw order


def test_adjust_pvalues_validation() -> None:
    with pytest.raises(ValueError):
        adjust_pvalues([0.1, 1.5])
    with pytest.raises(ValueError):
        adjust_pvalues([0.1], method="fdr")  # type: ignore[arg-type]
    assert adjust_pvalues([]).size == 0
