"""Threshold checks that record the measured value whether they pass or fail.

A suite calls ``checks.check("search p99 (ms)", measured, "<=", 20.0)`` for every threshold and
``checks.assert_all()`` at the end, so one run reports every measurement instead of stopping at
the first miss; the session writes them all to the results directory and the summary table.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

_COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Check:
    suite: str
    name: str
    measured: float
    comparator: str
    threshold: float | tuple[float, float]
    unit: str
    passed: bool
    note: str = ""

    def describe(self) -> str:
        thr = (
            f"[{self.threshold[0]:g}, {self.threshold[1]:g}]"
            if isinstance(self.threshold, tuple)
            else f"{self.threshold:g}"
        )
        verdict = "PASS" if self.passed else "FAIL"
        return f"{verdict} {self.suite}: {self.name} = {self.measured:.6g}{self.unit} (required {self.comparator} {thr})"

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        if isinstance(self.threshold, tuple):
            row["threshold"], row["threshold_high"] = self.threshold
        else:
            row["threshold_high"] = float("nan")
        return row


@dataclass
class CheckRecorder:
    suite: str
    checks: list[Check] = field(default_factory=list)

    def check(
        self,
        name: str,
        measured: float,
        comparator: str,
        threshold: float | tuple[float, float],
        unit: str = "",
        note: str = "",
    ) -> bool:
        """Record one check; ``comparator`` is one of < <= > >= == or "in" (closed interval)."""
        value = float(measured)
        if comparator == "in":
            if not isinstance(threshold, tuple):
                raise TypeError("comparator 'in' needs a (low, high) threshold")
            passed = threshold[0] <= value <= threshold[1]
        else:
            if comparator not in _COMPARATORS or isinstance(threshold, tuple):
                raise ValueError(f"unknown comparator {comparator!r} for a scalar threshold")
            passed = _COMPARATORS[comparator](value, float(threshold))
        passed = passed and not math.isnan(value)
        self.checks.append(Check(self.suite, name, value, comparator, threshold, unit, passed, note))
        return passed

    def add(self, verdict: Any, note: str = "") -> bool:
        """Record a verdict computed elsewhere (e.g. engram.workloads.checks.Check from a scenario)."""
        return self.check(verdict.name, verdict.measured, verdict.comparator, verdict.threshold,
                          verdict.unit, note or verdict.detail)  # fmt: skip

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def assert_all(self) -> None:
        """Fail the test with every missed threshold listed (after all were recorded)."""
        if not self.checks:
            raise AssertionError(f"{self.suite}: no checks were recorded")
        missed = self.failed
        if missed:
            raise AssertionError("thresholds missed:\n" + "\n".join(c.describe() for c in missed))
