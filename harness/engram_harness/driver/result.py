"""The outcome of executing a schedule, independent of which executor filled it.

Both the pure-Python driver and the C++ executor fill the same arrays: one entry per scheduled
operation, in schedule order. Latency is measured from the operation's *intended* start (no
coordinated omission); ``error_code`` 0 means success, any other value indexes ``error_classes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from engram_harness.driver.histogram import LatencyHistogram
from engram_harness.driver.windows import compute_windows
from engram_harness.stats.quantiles import quantiles

#: Error classes every executor may report besides exception type names.
NOT_STARTED = "NotStarted"  # the run's deadline passed before the operation could be sent
ABANDONED = "Abandoned"  # still running when the driver stopped waiting; latency is a lower bound

QUANTILES: dict[str, float] = {
    "p50_ms": 0.50,
    "p90_ms": 0.90,
    "p95_ms": 0.95,
    "p99_ms": 0.99,
    "p999_ms": 0.999,
    "p9999_ms": 0.9999,
    "p99999_ms": 0.99999,
}


@dataclass
class RunResult:
    scenario: str
    seed: int
    executor: str
    op_names: tuple[str, ...]
    space_names: tuple[str, ...]
    op: npt.NDArray[np.uint8]
    space: npt.NDArray[np.int16]
    intended_start_ns: npt.NDArray[np.int64]  # offset from the run start
    actual_start_ns: npt.NDArray[np.int64]  # offset from the run start, -1 if never sent
    latency_ns: npt.NDArray[np.int64]  # completion - intended start, -1 if unknown
    error_code: npt.NDArray[np.int16]
    error_classes: tuple[str, ...] = ("",)  # index = error code; 0 is success
    duration_s: float = 0.0  # scheduled duration
    wall_time_s: float = 0.0  # run start to last completion
    started_at_utc: str = ""
    error_samples: dict[str, str] = field(default_factory=dict)  # first message per error class

    def __len__(self) -> int:
        return len(self.op)

    @property
    def failed(self) -> npt.NDArray[np.bool_]:
        return self.error_code != 0

    @property
    def errors(self) -> int:
        return int(self.failed.sum())

    @property
    def error_rate(self) -> float:
        """Failed / scheduled operations; NaN when nothing was scheduled (nothing measured)."""
        return self.errors / len(self) if len(self) else math.nan

    @property
    def throughput(self) -> float:
        """Successful operations per second of wall time; NaN when no wall time was measured."""
        ok = len(self) - self.errors
        return ok / self.wall_time_s if self.wall_time_s > 0 else math.nan

    def error_counts(self) -> dict[str, int]:
        counts = np.bincount(self.error_code.astype(np.int64), minlength=len(self.error_classes))
        return {self.error_classes[c]: int(counts[c]) for c in range(1, len(self.error_classes)) if counts[c]}

    def histograms(self) -> dict[str, LatencyHistogram]:
        """Latency histograms of successful operations per op type that occurs, plus ``"all"``.

        For storage (``histograms.parquet``), merging across runs and plots; their quantiles are the
        bucket of the exact order statistic, within :attr:`LatencyHistogram.relative_error`. Reported
        quantiles come from the samples (:meth:`op_summary`).
        """
        ok = ~self.failed & (self.latency_ns >= 0)
        out: dict[str, LatencyHistogram] = {}
        for code in np.unique(self.op):
            h = LatencyHistogram()
            h.record(self.latency_ns[ok & (self.op == code)])
            out[self.op_names[int(code)]] = h
        out["all"] = LatencyHistogram.merged(out.values()) if out else LatencyHistogram()
        return out

    def op_summary(self) -> pd.DataFrame:
        """One row per operation type (and ``all``): counts, errors, mean and quantiles in ms.

        Quantiles are exact order statistics of the successful operations' latencies (the one
        percentile definition, :func:`engram_harness.stats.quantiles.quantiles`), NaN for an operation
        type with no successful operation; ``overflow`` counts latencies above the histogram's range.
        ``error_rate`` is NaN when nothing was scheduled (a run that did nothing has no error rate, it
        does not pass a ``max_error_rate`` check with 0).
        """
        rows = []
        ok_all = ~self.failed & (self.latency_ns >= 0)
        hists = self.histograms()
        for name, h in hists.items():
            sel = np.ones(len(self), dtype=bool) if name == "all" else self.op == self.op_names.index(name)
            n = int(sel.sum())
            errs = int(self.failed[sel].sum())
            qs = quantiles(self.latency_ns[sel & ok_all], QUANTILES.values()) / 1e6
            rows.append(
                {
                    "op": name,
                    "count": n,
                    "ok": n - errs,
                    "errors": errs,
                    "error_rate": errs / n if n else np.nan,
                    "throughput": (n - errs) / self.wall_time_s if self.wall_time_s > 0 else np.nan,
                    "mean_ms": h.mean_ns / 1e6,
                    **dict(zip(QUANTILES, qs, strict=True)),
                    "max_ms": h.max_ns / 1e6 if h.total else np.nan,
                    "overflow": h.overflow,
                }
            )
        return pd.DataFrame(rows)

    def windows(self, window_s: float = 1.0) -> pd.DataFrame:
        return compute_windows(
            self.intended_start_ns,
            self.latency_ns,
            self.failed,
            self.op,
            self.op_names,
            window_s=window_s,
            duration_s=self.duration_s or None,
        )

    def error_table(self) -> pd.DataFrame:
        """One row per (op, error class) with its count and a sample message."""
        rows = []
        for code in range(1, len(self.error_classes)):
            sel = self.error_code == code
            for op_code in np.unique(self.op[sel]):
                cls = self.error_classes[code]
                rows.append(
                    {
                        "op": self.op_names[int(op_code)],
                        "error_class": cls,
                        "count": int((sel & (self.op == op_code)).sum()),
                        "sample": self.error_samples.get(cls, ""),
                    }
                )
        return pd.DataFrame(rows, columns=["op", "error_class", "count", "sample"])
