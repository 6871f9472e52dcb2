"""``CheckRecorder``: how an acceptance suite records its thresholds.

A suite calls ``checks.check("search p99", measured, "<=", 20.0, "ms")`` for every threshold and
``checks.assert_all()`` at the end, so one run reports every measurement instead of stopping at
the first miss; the session writes them all to the results directory and the summary table.
The checks are :class:`engram.workloads.checks.Check` (one type for scenario and suite checks);
``Check`` is re-exported here for existing imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from engram.workloads.checks import Check

__all__ = ["Check", "CheckRecorder"]


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
        """Record a check computed elsewhere (e.g. by :func:`engram.workloads.evaluate`)."""
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
