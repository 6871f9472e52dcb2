"""The ``[thresholds]`` table: the limits that decide whether a run passes.

Absolute limits::

    [thresholds]
    max_error_rate = 0.0        # fraction of scheduled operations that failed
    min_throughput = 949.9      # successful ops/s over the run's wall time
    [thresholds.p99_ms]         # also p50_ms, p95_ms, p999_ms, p9999_ms, max_ms
    all = 50.0                  # "all": the maximum over operation types (the reference's convention)
    remember = 10.0

Relative limits, checked only when a baseline run is supplied::

    [thresholds.relative]
    max_p99_increase = 0.05          # P99 may grow by at most 5 % (per operation type and "all")
    max_throughput_decrease = 0.05
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from engram_harness.checks import Check
from engram_harness.scenarios.ops import OP_NAMES, op_from_name
from engram_harness.scenarios.toml_table import Table

#: Quantile keys accepted under ``[thresholds]`` and the quantile each stands for.
QUANTILE_KEYS: dict[str, float] = {
    "p50_ms": 0.50,
    "p95_ms": 0.95,
    "p99_ms": 0.99,
    "p999_ms": 0.999,
    "p9999_ms": 0.9999,
    "max_ms": 1.0,
}


@dataclass(frozen=True)
class Thresholds:
    max_error_rate: float | None = None
    min_throughput: float | None = None
    #: ``(quantile key, op name or "all") -> limit in ms``
    latency_ms: dict[tuple[str, str], float] = field(default_factory=dict)
    max_p99_increase: float | None = None
    max_throughput_decrease: float | None = None


def parse_thresholds(tab: Table) -> Thresholds:
    latency: dict[tuple[str, str], float] = {}
    for qkey in QUANTILE_KEYS:
        if not tab.has(qkey):
            continue
        sub = tab.table(qkey)
        for op in list(sub.data):
            if op != "all":
                try:
                    op_name = OP_NAMES[op_from_name(op)]
                except KeyError:
                    raise sub.error(
                        op, sub.data[op], f"'all' or an operation name, one of {list(OP_NAMES)}"
                    ) from None
            else:
                op_name = "all"
            latency[(qkey, op_name)] = sub.number(op, lo=0.0, lo_open=True)
    rel_inc = rel_dec = None
    if tab.has("relative"):
        rel = tab.table("relative")
        rel_inc = rel.number("max_p99_increase", None, lo=0.0) if rel.has("max_p99_increase") else None
        rel_dec = (
            rel.number("max_throughput_decrease", None, lo=0.0, hi=1.0)
            if rel.has("max_throughput_decrease")
            else None
        )
        rel.reject_unknown()
    th = Thresholds(
        max_error_rate=tab.number("max_error_rate", None, lo=0.0, hi=1.0)
        if tab.has("max_error_rate")
        else None,
        min_throughput=tab.number("min_throughput", None, lo=0.0) if tab.has("min_throughput") else None,
        latency_ms=latency,
        max_p99_increase=rel_inc,
        max_throughput_decrease=rel_dec,
    )
    tab.reject_unknown()
    return th


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
