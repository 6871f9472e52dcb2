"""Pass/fail checks: the one ``Check`` type of the project, and the scenario-threshold evaluation.

A :class:`Check` is ``measured <comparator> threshold`` with the measured value kept whether it
passes or not, so a run reports every measurement instead of stopping at the first miss. Scenario
runs produce them with :func:`evaluate`; acceptance suites record their own through
:class:`engram_harness.suite.CheckRecorder`; both end up in ``checks.parquet`` of a results directory.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

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
        c = Check(name, float(measured), threshold, comparator, unit, note, self.suite)
        self.checks.append(c)
        return c.passed

    def add(self, verdict: Check, note: str = "") -> bool:
        """Record a check computed elsewhere (e.g. by :func:`engram_harness.scenarios.evaluate`)."""
        c = replace(verdict, suite=self.suite, detail=note or verdict.detail)
        self.checks.append(c)
        return c.passed

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
