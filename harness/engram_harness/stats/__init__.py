"""Statistics for Engram's acceptance and performance suites (pure Python: numpy + scipy).

Nothing here imports the engine; every function works on plain arrays. The main entry point is
:func:`compare` (the before/after regression verdict); :mod:`engram_harness.stats.calibration` measures its
false-alarm and detection rates on synthetic or recorded latency samples.
"""

from __future__ import annotations

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
from .compare import DEFAULT_N_BOOT, DEFAULT_SAMPLE_SIZE, Verdict, compare
from .correlation import PearsonResult, pearson_r
from .curves import (
    ExponentialFit,
    LogisticFit,
    QuadraticFit,
    exponential_fit,
    logistic_fit,
    quadratic_fit,
)
from .descriptive import coefficient_of_variation, rolling_mean, zscore_anomalies
from .effect_size import cohens_d
from .errors import FitError, SampleTooSmallError
from .goodness_of_fit import ChiSquaredResult, chi_squared_gof, transition_matrix_gof
from .hodges_lehmann import hodges_lehmann_shift
from .multiple import adjust_pvalues
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
from .rank_test import MannWhitneyResult, mann_whitney, min_attainable_p, minimum_sample_size
from .regression import LinearFit, linear_regression
from .trend import DriftVerdict, LeakVerdict, detect_drift, detect_leak

__all__ = [
    "DEFAULT_N_BOOT",
    "DEFAULT_PERCENTILES",
    "DEFAULT_SAMPLE_SIZE",
    "BootstrapCI",
    "CalibrationResult",
    "ChiSquaredResult",
    "DriftVerdict",
    "ExponentialFit",
    "FitError",
    "LeakVerdict",
    "LinearFit",
    "LogisticFit",
    "MannWhitneyResult",
    "PearsonResult",
    "PrecisionRecall",
    "QuadraticFit",
    "SampleTooSmallError",
    "Verdict",
    "adjust_pvalues",
    "bootstrap_ci",
    "bootstrap_quantile",
    "calibrate",
    "chi_squared_gof",
    "coefficient_of_variation",
    "cohens_d",
    "compare",
    "detect_change_points",
    "detect_drift",
    "detect_leak",
    "exponential_fit",
    "group_quantiles",
    "hodges_lehmann_shift",
    "linear_regression",
    "logistic_fit",
    "lognormal_latency_source",
    "mann_whitney",
    "measured_quantile",
    "min_attainable_p",
    "minimum_sample_size",
    "order_statistic_rank",
    "pearson_r",
    "percent_to_fraction",
    "percentile_interval",
    "percentile_table",
    "pooled_source",
    "precision_recall",
    "precision_recall_from_counts",
    "quadratic_fit",
    "quantile",
    "quantiles",
    "robust_sigma",
    "rolling_mean",
    "runs_source",
    "samples_beyond",
    "transition_matrix_gof",
    "zscore_anomalies",
]
