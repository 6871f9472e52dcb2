"""Pass/fail checks: the one ``Check`` type of the project, and the scenario-threshold evaluation.

A :class:`Check` is ``measured <comparator> threshold`` with the measured value kept whether it
passes or not, so a run reports every measurement instead of stopping at the first miss. Scenario
runs produce them with :func:`evaluate`; acceptance suites record their own through
:class:`engram.acceptance.CheckRecorder`; both end up in ``checks.parquet`` of a results directory.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass

import pandas as pd

from engram.workloads.thresholds import Thresholds

COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "==": operator.eq,
}
INTERVAL = "in"  # closed interval: threshold is (low, high)


@dataclass(frozen=True)
class Check:
    """One verdict: ``measured <comparator> threshold``; a NaN measurement (no samples) fails.

    ``comparator`` is one of ``< <= > >= ==`` with a scalar threshold, or ``"in"`` with a
    ``(low, high)`` threshold (closed interval). ``suite`` names the acceptance suite that recorded
    it (empty for scenario checks); ``detail`` says how the value was obtained.
    """

    name: str
    measured: float
    threshold: float | tuple[float, float]
    comparator: str
    unit: str = ""
    detail: str = ""
    suite: str = ""

    def __post_init__(self) -> None:
        if self.comparator == INTERVAL:
            if not (isinstance(self.threshold, tuple) and len(self.threshold) == 2):
                raise TypeError(
                    f"check {self.name!r}: comparator 'in' needs a (low, high) threshold, got {self.threshold!r}"
                )
        elif self.comparator not in COMPARATORS:
            raise ValueError(
                f"check {self.name!r}: unknown comparator {self.comparator!r}; "
                f"expected one of {[*COMPARATORS, INTERVAL]}"
            )
        elif isinstance(self.threshold, tuple):
            raise TypeError(
                f"check {self.name!r}: comparator {self.comparator!r} needs a scalar threshold, "
                f"got {self.threshold!r}"
            )

    @property
    def passed(self) -> bool:
        if self.measured is None:
            return False
        value = float(self.measured)
        if math.isnan(value):
            return False
        if isinstance(self.threshold, tuple):
            return bool(self.threshold[0] <= value <= self.threshold[1])
        return bool(COMPARATORS[self.comparator](value, float(self.threshold)))

    @property
    def note(self) -> str:
        """Alias of :attr:`detail` (the name the acceptance recorder used)."""
        return self.detail

    def describe(self) -> str:
        """``PASS suite: name = 1.23ms (required <= 5)``."""
        thr = (
            f"[{self.threshold[0]:g}, {self.threshold[1]:g}]"
            if isinstance(self.threshold, tuple)
            else f"{float(self.threshold):g}"
        )
        where = f"{self.suite}: " if self.suite else ""
        verdict = "PASS" if self.passed else "FAIL"
        unit = f" {self.unit}" if self.unit else ""
        return f"{verdict} {where}{self.name} = {float(self.measured):.6g}{unit} (required {self.comparator} {thr}{unit})"

    def as_row(self) -> dict[str, object]:
        """A flat row for ``checks.parquet``: an interval threshold is split into ``threshold`` and
        ``threshold_high`` (NaN for scalar thresholds)."""
        row: dict[str, object] = {**asdict(self), "passed": self.passed}
        if isinstance(self.threshold, tuple):
            row["threshold"], row["threshold_high"] = (float(v) for v in self.threshold)
        else:
            row["threshold"], row["threshold_high"] = float(self.threshold), math.nan
        return row

    def to_row(self) -> dict[str, object]:
        """Alias of :meth:`as_row`."""
        return self.as_row()


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
