"""The gate's decision: per-operation latency comparisons (and window throughput), Holm-adjusted.

Each comparison is :func:`engram_harness.stats.compare` on all successful operations of one type pooled over
the rounds of each side (Mann-Whitney U, Hodges-Lehmann shift, bootstrap CIs of the median and P99
ratios). The p-values of the family are adjusted with Holm's step-down method, and a comparison is
a regression when, with the adjusted p-value, it is significant, in the bad direction and a change of
at least ``threshold`` is not ruled out (the rule of :mod:`engram_harness.stats.verdict`). Independently,
a P99 whose whole bootstrap interval lies above ``1 + threshold`` is a regression (the reference's
"P99 increase > 5 %" gate, with evidence instead of a point estimate).

The per-request tests assume independent observations, but every run is a fresh process and on a
shared machine whole runs shift by more than 5 % (A/A between identical builds on the 2-core dev
host gave median ratios of 0.83 with p < 1e-15). So a latency regression must also be reproducible:
in more than half of the interleaved rounds the after-run's median is above the before-run's (with a
stored baseline, above the pooled baseline median). ``rounds_worse`` reports that fraction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from engram_harness.driver.result import RunResult
from engram_harness.stats import SampleTooSmallError, adjust_pvalues, compare
from engram_harness.stats.quantiles import measured_quantile

VALIDITY_MAX_ERROR_RATE = 0.10  # requirements section 2: a run with > 10 % errors invalidates the comparison
ERROR_RATE_JUMP = 0.05  # ... and an error rate 5 percentage points higher (when either is >= 5 %) regresses


def ok_latencies_ms(runs: Sequence[RunResult], op: str) -> npt.NDArray[np.float64]:
    parts = []
    for r in runs:
        sel = ~r.failed & (r.latency_ns >= 0)
        if op != "all":
            sel &= r.op == r.op_names.index(op)
        parts.append(r.latency_ns[sel] / 1e6)
    return np.concatenate(parts) if parts else np.empty(0)


def rounds_worse(before: Sequence[RunResult], after: Sequence[RunResult], op: str) -> float:
    """Fraction of rounds whose after-median exceeds the paired before-median (pooled when unpaired).

    Medians are the inverted-CDF order statistic, as in :func:`engram_harness.stats.compare`; a round
    without successful operations has none (NaN) and is left out.
    """
    med_b = [measured_quantile(ok_latencies_ms([r], op), 0.5) for r in before]
    med_a = [measured_quantile(ok_latencies_ms([r], op), 0.5) for r in after]
    if len(med_b) != len(med_a):  # a stored baseline: compare each round with the pooled baseline
        med_b = [measured_quantile(ok_latencies_ms(before, op), 0.5)] * len(med_a)
    pairs = [(b, a) for b, a in zip(med_b, med_a, strict=True) if not (math.isnan(a) or math.isnan(b))]
    return sum(a > b for b, a in pairs) / len(pairs) if pairs else math.nan


def window_rates(runs: Sequence[RunResult]) -> npt.NDArray[np.float64]:
    """Successful operations per second in each 1 s window of every run (all operation types)."""
    rates = [r.windows(1.0).query("op == 'all'")["ok"].to_numpy(dtype=np.float64) for r in runs]
    return np.concatenate(rates) if rates else np.empty(0)


def error_rate(runs: Sequence[RunResult]) -> float:
    n = sum(len(r) for r in runs)
    return sum(r.errors for r in runs) / n if n else math.nan


def _row(comparison: str, metric: str, op: str, before: npt.NDArray, after: npt.NDArray, **kw: Any) -> dict:
    try:
        v = compare(before, after, metric=metric, **kw)  # type: ignore[arg-type]
    except (SampleTooSmallError, ValueError) as exc:
        return {"comparison": comparison, "metric": metric, "op": op, "valid": False, "summary": str(exc),
                "n_before": len(before), "n_after": len(after)}  # fmt: skip
    return {
        "comparison": comparison, "metric": metric, "op": op, "valid": True, "p_value": v.p_value,
        "worse": v.worse, "material": v.material, "hodges_lehmann_shift": v.hodges_lehmann_shift,
        "median_before": v.median_before, "median_after": v.median_after, "median_ratio": v.median_ratio,
        "median_ratio_low": v.median_ratio_ci[0], "median_ratio_high": v.median_ratio_ci[1],
        "p99_before": v.p99_before, "p99_after": v.p99_after, "p99_ratio": v.p99_ratio,
        "p99_ratio_low": v.p99_ratio_ci[0], "p99_ratio_high": v.p99_ratio_ci[1],
        "n_before": v.n_before, "n_after": v.n_after, "summary": v.summary(),
    }  # fmt: skip


def gate_verdicts(
    before: Sequence[RunResult],
    after: Sequence[RunResult],
    *,
    alpha: float = 0.01,
    threshold: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per comparison: latency of every operation type and ``all``, and window throughput."""
    ops = sorted({n for r in [*before, *after] for n in np.asarray(r.op_names)[np.unique(r.op)]})
    kw = {"alpha": alpha, "threshold": threshold, "seed": seed}
    rows = [
        {
            **_row(
                f"latency:{op}", "latency", op, ok_latencies_ms(before, op), ok_latencies_ms(after, op), **kw
            ),
            "rounds_worse": rounds_worse(before, after, op),
        }
        for op in ["all", *ops]
    ]
    rows.append(
        _row("throughput:windows", "throughput", "all", window_rates(before), window_rates(after), **kw)
    )
    df = pd.DataFrame(rows)
    valid = df["valid"].to_numpy(dtype=bool)
    df["p_adjusted"] = np.nan
    if valid.any():
        df.loc[valid, "p_adjusted"] = adjust_pvalues(df.loc[valid, "p_value"].to_numpy(), method="holm")
    df["significant"] = valid & (df["p_adjusted"] < alpha)
    worse = df["worse"].fillna(False).astype(bool)
    material = df["material"].fillna(False).astype(bool)
    reproducible = (df["metric"] != "latency") | (df["rounds_worse"] > 0.5)
    shift = valid & df["significant"] & worse & material & reproducible
    p99 = (
        valid
        & (df["metric"] == "latency")
        & (df.get("p99_ratio_low", np.nan) > 1.0 + threshold)
        & reproducible
    )
    df["p99_regression"] = p99
    df["regression"] = shift | p99
    df["alpha"], df["threshold"] = alpha, threshold
    return df


def error_verdict(before: Sequence[RunResult], after: Sequence[RunResult]) -> dict[str, Any]:
    """Error-rate rules of the reference compare script: validity and a 5-point jump."""
    eb, ea = error_rate(before), error_rate(after)
    invalid = not (eb <= VALIDITY_MAX_ERROR_RATE and ea <= VALIDITY_MAX_ERROR_RATE)
    jump = (max(eb, ea) >= ERROR_RATE_JUMP) and (ea - eb > ERROR_RATE_JUMP)
    return {"error_rate_before": eb, "error_rate_after": ea, "invalid": invalid, "regression": jump}
