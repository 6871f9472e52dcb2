"""Statistics for Engram's acceptance and performance suites (numpy, SciPy, statsmodels, ruptures).

Nothing here imports the engine; every function works on plain arrays. Where SciPy, statsmodels or
ruptures does the job, it is called, with a thin wrapper only where the wrapper adds a guard (a
refusal of samples too small to decide, NaN rather than 0 for nothing measured) or fixes a convention.

- :mod:`~engram_harness.stats.quantiles`: the one percentile definition (order statistics,
  ``np.quantile(method="inverted_cdf")``) for every reported P50/P99.
- :mod:`~engram_harness.stats.verdict`: :func:`compare`, the before/after regression verdict of the gate
  (Mann-Whitney U in :mod:`~engram_harness.stats.rank_sum`, :mod:`~engram_harness.stats.hodges_lehmann`
  shift, exact bootstrap of quantile ratios); :mod:`~engram_harness.stats.calibration` measures its
  false-alarm and detection rates.
- :mod:`~engram_harness.stats.bootstrap`: percentile bootstrap intervals (``scipy.stats.bootstrap``)
  and the exact bootstrap of one quantile.
- :mod:`~engram_harness.stats.multiple`: Holm and Bonferroni (statsmodels).
- :mod:`~engram_harness.stats.classification`: precision and recall of a detector.
- :mod:`~engram_harness.stats.regression` (``scipy.stats.linregress``) and
  :mod:`~engram_harness.stats.trend` (leak and drift gates on it): capacity and soak analyses.
- :mod:`~engram_harness.stats.changepoint`: change points in a per-second series (ruptures).
- :mod:`~engram_harness.stats.goodness_of_fit`: chi-squared tests of category counts and of a realised
  transition matrix (``scipy.stats.chisquare``).

The quantile functions are imported with the package (numpy only: the driver uses them on every run);
everything else is imported on first use, so that ``import engram_harness.driver`` does not load SciPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import SampleTooSmallError
from .quantiles import (
    DEFAULT_PERCENTILES,
    group_quantiles,
    measured_quantile,
    order_statistic_rank,
    percent_to_fraction,
    percentile_table,
    quantile,
    quantiles,
    samples_beyond,
)

if TYPE_CHECKING:
    from .bootstrap import BootstrapCI, bootstrap_ci, bootstrap_quantile, percentile_interval
    from .calibration import (
        CalibrationResult,
        calibrate,
        lognormal_latency_source,
        pooled_source,
        runs_source,
    )
    from .changepoint import detect_change_points, robust_sigma
    from .classification import PrecisionRecall, precision_recall, precision_recall_from_counts
    from .goodness_of_fit import ChiSquaredResult, chi_squared_gof, transition_matrix_gof
    from .hodges_lehmann import hodges_lehmann_shift
    from .multiple import adjust_pvalues
    from .rank_sum import MannWhitneyResult, mann_whitney, min_attainable_p, minimum_sample_size
    from .regression import LinearFit, linear_regression
    from .trend import DriftVerdict, LeakVerdict, detect_drift, detect_leak
    from .verdict import DEFAULT_N_BOOT, DEFAULT_SAMPLE_SIZE, Verdict, compare

#: Lazily imported names and the submodule that defines each.
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ("BootstrapCI", "bootstrap_ci", "bootstrap_quantile", "percentile_interval"), "bootstrap"
    ),
    **dict.fromkeys(
        ("CalibrationResult", "calibrate", "lognormal_latency_source", "pooled_source", "runs_source"),
        "calibration",
    ),
    **dict.fromkeys(("detect_change_points", "robust_sigma"), "changepoint"),
    **dict.fromkeys(
        ("PrecisionRecall", "precision_recall", "precision_recall_from_counts"), "classification"
    ),
    **dict.fromkeys(("DEFAULT_N_BOOT", "DEFAULT_SAMPLE_SIZE", "Verdict", "compare"), "verdict"),
    **dict.fromkeys(("ChiSquaredResult", "chi_squared_gof", "transition_matrix_gof"), "goodness_of_fit"),
    "hodges_lehmann_shift": "hodges_lehmann",
    "adjust_pvalues": "multiple",
    **dict.fromkeys(
        ("MannWhitneyResult", "mann_whitney", "min_attainable_p", "minimum_sample_size"), "rank_sum"
    ),
    **dict.fromkeys(("LinearFit", "linear_regression"), "regression"),
    **dict.fromkeys(("DriftVerdict", "LeakVerdict", "detect_drift", "detect_leak"), "trend"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "DEFAULT_N_BOOT",
    "DEFAULT_PERCENTILES",
    "DEFAULT_SAMPLE_SIZE",
    "BootstrapCI",
    "CalibrationResult",
    "ChiSquaredResult",
    "DriftVerdict",
    "LeakVerdict",
    "LinearFit",
    "MannWhitneyResult",
    "PrecisionRecall",
    "SampleTooSmallError",
    "Verdict",
    "adjust_pvalues",
    "bootstrap_ci",
    "bootstrap_quantile",
    "calibrate",
    "chi_squared_gof",
    "compare",
    "detect_change_points",
    "detect_drift",
    "detect_leak",
    "group_quantiles",
    "hodges_lehmann_shift",
    "linear_regression",
    "lognormal_latency_source",
    "mann_whitney",
    "measured_quantile",
    "min_attainable_p",
    "minimum_sample_size",
    "order_statistic_rank",
    "percent_to_fraction",
    "percentile_interval",
    "percentile_table",
    "pooled_source",
    "precision_recall",
    "precision_recall_from_counts",
    "quantile",
    "quantiles",
    "robust_sigma",
    "runs_source",
    "samples_beyond",
    "transition_matrix_gof",
]
