"""Turn a scenario's thresholds and a run's per-operation summary into pass/fail checks."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd

from engram.workloads.thresholds import Thresholds

COMPARATORS = {
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


@dataclass(frozen=True)
class Check:
    """One verdict: ``measured <comparator> threshold``; a NaN measurement (no samples) fails."""

    name: str
    measured: float
    threshold: float
    comparator: str
    unit: str = ""
    detail: str = ""

    @property
    def passed(self) -> bool:
        if self.measured is None or (isinstance(self.measured, float) and math.isnan(self.measured)):
            return False
        return bool(COMPARATORS[self.comparator](self.measured, self.threshold))

    def as_row(self) -> dict[str, object]:
        return {**asdict(self), "passed": self.passed}


def _op_value(ops: pd.DataFrame, op: str, column: str) -> float:
    if op == "all" and column.endswith("_ms"):
        per_op = ops.loc[ops["op"] != "all", column]
        return float(per_op.max()) if len(per_op) else math.nan
    row = ops.loc[ops["op"] == op, column]
    return float(row.iloc[0]) if len(row) else math.nan


def evaluate(
    thresholds: Thresholds, ops: pd.DataFrame, baseline_ops: pd.DataFrame | None = None
) -> list[Check]:
    """Checks for every threshold. ``ops`` is :meth:`RunResult.op_summary` (or ``ops.parquet``);
    latency limits on ``all`` apply to the maximum over operation types (the reference's convention).
    Relative limits are checked only when ``baseline_ops`` is given."""
    checks: list[Check] = []
    if thresholds.max_error_rate is not None:
        checks.append(
            Check(
                "error_rate", _op_value(ops, "all", "error_rate"), thresholds.max_error_rate, "<=", "fraction"
            )
        )
    if thresholds.min_throughput is not None:
        checks.append(
            Check("throughput", _op_value(ops, "all", "throughput"), thresholds.min_throughput, ">=", "ops/s")
        )
    for (qkey, op), limit in sorted(thresholds.latency_ms.items()):
        detail = "maximum over operation types" if op == "all" else ""
        checks.append(Check(f"{qkey}.{op}", _op_value(ops, op, qkey), limit, "<=", "ms", detail))
    if baseline_ops is not None:
        if thresholds.max_p99_increase is not None:
            names = sorted(set(ops["op"]) & set(baseline_ops["op"]))
            for op in names:
                before, after = _op_value(baseline_ops, op, "p99_ms"), _op_value(ops, op, "p99_ms")
                change = after / before - 1.0 if before > 0 else math.nan
                checks.append(
                    Check(
                        f"p99_increase.{op}",
                        change,
                        thresholds.max_p99_increase,
                        "<=",
                        "fraction",
                        f"P99 {before:.4g} -> {after:.4g} ms",
                    )
                )
        if thresholds.max_throughput_decrease is not None:
            before, after = _op_value(baseline_ops, "all", "throughput"), _op_value(ops, "all", "throughput")
            change = 1.0 - after / before if before > 0 else math.nan
            checks.append(
                Check(
                    "throughput_decrease",
                    change,
                    thresholds.max_throughput_decrease,
                    "<=",
                    "fraction",
                    f"{before:.6g} -> {after:.6g} ops/s",
                )
            )
    return checks
