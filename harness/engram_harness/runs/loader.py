"""Read ``results/<run-id>/`` back as pandas DataFrames."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from engram_harness.driver.histogram import LatencyHistogram
from engram_harness.runs import layout
from engram_harness.runs.run_id import RUN_ID_RE


@dataclass
class RunData:
    run_dir: Path
    manifest: dict[str, Any]
    summary: dict[str, Any]
    windows: pd.DataFrame
    ops: pd.DataFrame
    checks: pd.DataFrame
    histograms: pd.DataFrame
    errors: pd.DataFrame
    _latencies: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id", self.run_dir.name))

    @property
    def passed(self) -> bool:
        return bool(self.checks["passed"].all()) if len(self.checks) else True

    @property
    def latencies(self) -> pd.DataFrame | None:
        """Raw per-operation latencies (``None`` when the run was written without them); read lazily."""
        if self._latencies is None and (self.run_dir / layout.LATENCIES).exists():
            self._latencies = pd.read_parquet(self.run_dir / layout.LATENCIES)
        return self._latencies

    @property
    def tests(self) -> pd.DataFrame | None:
        """Per-test outcomes of an acceptance session (``None`` for a single scenario run)."""
        path = self.run_dir / layout.TESTS
        return pd.read_parquet(path) if path.exists() else None

    @property
    def verdicts(self) -> pd.DataFrame | None:
        """Statistical regression verdicts of a gate run (``None`` when the run has none)."""
        path = self.run_dir / layout.VERDICTS
        return pd.read_parquet(path) if path.exists() else None

    @property
    def scenarios(self) -> list[str]:
        """Scenario runs held by this directory (session directories have a ``scenario`` column)."""
        if "scenario" in self.ops.columns:
            return list(dict.fromkeys(self.ops["scenario"].astype(str)))
        return [str(self.summary.get("scenario"))]

    def histogram(self, op: str = "all", scenario: str | None = None) -> LatencyHistogram:
        """Rebuild the latency histogram of one operation type (mergeable across runs). In a session
        directory, ``scenario`` selects one scenario run; ``None`` merges them all."""
        if "scenario" in self.ops.columns:
            names = self.scenarios if scenario is None else [scenario]
            parts = [self._histogram(op, name) for name in names]
            return LatencyHistogram.merged(parts) if parts else LatencyHistogram()
        return self._histogram(op, None)

    def _histogram(self, op: str, scenario: str | None) -> LatencyHistogram:
        hist, ops = self.histograms, self.ops
        if scenario is not None:
            hist = hist[hist["scenario"].astype(str) == scenario]
            ops = ops[ops["scenario"].astype(str) == scenario]
        rows = hist[hist["op"] == op]
        meta = ops[ops["op"] == op]
        overflow = int(meta["overflow"].iloc[0]) if len(meta) else 0
        max_ns = (
            round(float(meta["max_ms"].iloc[0]) * 1e6)
            if len(meta) and pd.notna(meta["max_ms"].iloc[0])
            else 0
        )
        min_ns = int(rows["lowest_ns"].min()) if len(rows) else 0
        return LatencyHistogram.from_buckets(
            rows["lowest_ns"], rows["count"], overflow=overflow, min_ns=min_ns, max_ns=max_ns
        )


def load(run_dir: str | Path) -> RunData:
    """Load a run directory written by :func:`engram_harness.runs.write_run`."""
    d = Path(run_dir)
    if not (d / layout.MANIFEST).is_file():
        raise FileNotFoundError(f"{d}: no {layout.MANIFEST}; not a results directory")
    return RunData(
        run_dir=d,
        manifest=json.loads((d / layout.MANIFEST).read_text(encoding="utf-8")),
        summary=json.loads((d / layout.SUMMARY).read_text(encoding="utf-8")),
        windows=pd.read_parquet(d / layout.WINDOWS),
        ops=pd.read_parquet(d / layout.OPS),
        checks=pd.read_parquet(d / layout.CHECKS),
        histograms=pd.read_parquet(d / layout.HISTOGRAMS),
        errors=pd.read_parquet(d / layout.ERRORS),
    )


def list_runs(root: str | Path = "results") -> list[Path]:
    """Run directories under ``root``, oldest first (run ids sort chronologically)."""
    r = Path(root)
    if not r.is_dir():
        return []
    return sorted(
        p for p in r.iterdir() if p.is_dir() and RUN_ID_RE.match(p.name) and (p / layout.MANIFEST).exists()
    )


def latest_run(root: str | Path = "results") -> Path | None:
    runs = list_runs(root)
    return runs[-1] if runs else None
