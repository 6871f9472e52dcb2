"""A results directory for a whole session (an acceptance run, a regression gate): several scenario
runs, every check and every test outcome in one ``results/<run-id>/``.

Layout (the same files :func:`engram_harness.runs.load` reads for a single run, plus a ``scenario`` column)::

    results/<run-id>/
      manifest.json        git commit, profile, scenarios and seeds, machine fingerprint, versions
      summary.json         pass/fail, counts, per-scenario throughput and latency
      checks.parquet       one row per check (suite, name, measured, comparator, threshold, passed)
      tests.parquet        one row per test (node id, outcome, duration)
      windows.parquet      one row per scenario, operation type and time window
      ops.parquet          one row per scenario and operation type (and "all")
      histograms.parquet   latency buckets per scenario and operation type
      errors.parquet       one row per scenario, operation type and error class
      latencies.parquet    raw per-operation latencies of every scenario run
      runs/<scenario>/     each scenario run's own results directory (write_run), loadable alone
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from engram_harness.checks import Check
from engram_harness.driver.result import RunResult
from engram_harness.runs import layout
from engram_harness.runs.fingerprint import machine_fingerprint
from engram_harness.runs.git import git_info
from engram_harness.runs.loader import RunData, load
from engram_harness.runs.run_id import new_run_id
from engram_harness.runs.writer import _version, checks_frame, write_json, write_run
from engram_harness.scenarios.scenario import Scenario

TEST_COLUMNS = ["nodeid", "outcome", "duration_s", "message"]
_TABLES = (layout.WINDOWS, layout.OPS, layout.HISTOGRAMS, layout.ERRORS, layout.LATENCIES)


@dataclass(frozen=True)
class TestOutcome:
    """One test's outcome as pytest reported it (``passed``, ``failed``, ``skipped``, ``xfailed``...)."""

    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str
    duration_s: float
    message: str = ""


@dataclass
class SessionResults:
    """Collects a session's scenario runs, checks and test outcomes, then writes one directory.

    The run id is fixed when the object is created, so scenario runs can be written (under
    ``runs/``) while the session goes on; :meth:`write` adds the top-level files at the end.
    """

    root: Path
    profile: str
    kind: str = "acceptance"
    run_id: str = field(default_factory=new_run_id)
    simd_level: Callable[[], str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    run_dirs: list[Path] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    tests: list[TestOutcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    @property
    def run_dir(self) -> Path:
        return self.root / self.run_id

    def add_run(
        self,
        result: RunResult,
        *,
        scenario: Scenario | None = None,
        name: str | None = None,
        profile_scale: float = 1.0,
        checks: Iterable[Check] | None = None,
        raw: bool = True,
        extra: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write one scenario run to ``runs/<name>/`` (``name`` defaults to the scenario's) and
        return its directory; its checks default to the scenario's thresholds."""
        label = _slug(name or (scenario.name if scenario is not None else result.scenario))
        taken = {p.name for p in self.run_dirs}
        unique, n = label, 2
        while unique in taken:
            unique, n = f"{label}-{n}", n + 1
        run_dir = write_run(
            result, scenario=scenario, root=self.run_dir / layout.RUNS, profile=self.profile,
            profile_scale=profile_scale, checks=checks, run_id=unique, simd_level=self.simd_level,
            raw=raw, extra=extra,
        )  # fmt: skip
        self.run_dirs.append(run_dir)
        return run_dir

    def write(self, *, pytest_args: Sequence[str] = ()) -> Path:
        """Write the manifest, summary and tables of the whole session; returns the directory."""
        d = self.run_dir
        d.mkdir(parents=True, exist_ok=True)
        runs = [load(p) for p in self.run_dirs]
        for name in _TABLES:
            frame = _combined(runs, name)
            if frame is not None:
                frame.to_parquet(d / name, index=False)
        checks = checks_frame(self.checks)
        checks.to_parquet(d / layout.CHECKS, index=False)
        tests = pd.DataFrame([vars(t) for t in self.tests], columns=TEST_COLUMNS).astype(
            {"duration_s": "float64"}
        )
        tests.to_parquet(d / layout.TESTS, index=False)
        seeds = {r.run_dir.name: r.manifest.get("seed") for r in runs}
        distinct = set(seeds.values())
        manifest = {
            "schema_version": layout.SCHEMA_VERSION,
            "kind": self.kind,
            "run_id": self.run_id,
            "created_at_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(),
            "git": git_info(),
            "scenario": {
                "name": f"{self.kind} ({self.profile})",
                "scenarios": [r.manifest.get("scenario", {}).get("name") for r in runs],
                "runs": [f"{layout.RUNS}/{r.run_dir.name}" for r in runs],
            },
            "profile": self.profile,
            "seed": distinct.pop() if len(distinct) == 1 else None,
            "seeds": seeds,
            "pytest_args": list(pytest_args),
            "machine": machine_fingerprint(self.simd_level),
            "versions": {dist: _version(dist) for dist in ("engram", "numpy", "pandas", "pyarrow", "pytest")},
            "extra": self.extra,
        }
        write_json(d / layout.MANIFEST, manifest)
        write_json(d / layout.SUMMARY, self._summary(runs, checks, tests))
        return d

    def _summary(self, runs: list[RunData], checks: pd.DataFrame, tests: pd.DataFrame) -> dict[str, Any]:
        failed_checks = [
            f"{r.suite}: {r.name}" if r.suite else r.name for r in checks.itertuples() if not r.passed
        ]
        failed_tests = tests.loc[tests["outcome"].isin(["failed", "error"]), "nodeid"].tolist()
        per_scenario = {r.run_dir.name: r.summary for r in runs}
        ops = sum(int(s.get("operations") or 0) for s in per_scenario.values())
        errors = sum(int(s.get("errors") or 0) for s in per_scenario.values())
        return {
            "schema_version": layout.SCHEMA_VERSION,
            "kind": self.kind,
            "run_id": self.run_id,
            "scenario": f"{self.kind} ({self.profile})",
            "profile": self.profile,
            "executor": ", ".join(sorted({str(s.get("executor")) for s in per_scenario.values()})) or None,
            "passed": not failed_checks and not failed_tests,
            "checks": len(checks),
            "failed_checks": failed_checks,
            "tests": {k: int(v) for k, v in tests["outcome"].value_counts().items()},
            "failed_tests": failed_tests,
            "operations": ops,
            "errors": errors,
            "error_rate": errors / ops if ops else 0.0,
            # Sessions run scenarios one after another: throughput and wall time are per scenario.
            "throughput": None,
            "wall_time_s": sum(float(s.get("wall_time_s") or 0.0) for s in per_scenario.values()),
            "scenarios": {
                name: {k: s.get(k) for k in ("scenario", "operations", "errors", "throughput", "latency_ms")}
                for name, s in per_scenario.items()
            },
        }


def write_session_results(
    results_dir: str | Path,
    profile: str,
    checks: Iterable[Check],
    *,
    session: SessionResults | None = None,
    tests: Iterable[TestOutcome] = (),
    pytest_args: Sequence[str] = (),
) -> Path:
    """Write a session's results directory under ``results_dir`` and return it. ``session`` carries
    the scenario runs written during the session (a new, empty one when omitted)."""
    s = session if session is not None else SessionResults(Path(results_dir), profile)
    s.checks = list(checks)
    s.tests = list(tests)
    return s.write(pytest_args=pytest_args)


def _combined(runs: list[RunData], name: str) -> pd.DataFrame | None:
    frames = []
    for r in runs:
        path = r.run_dir / name
        if path.exists():
            df = pd.read_parquet(path)
            df.insert(0, "scenario", r.run_dir.name)
            frames.append(df)
    if not frames:
        return None if name == layout.LATENCIES else _empty(name)
    if name == layout.LATENCIES:  # categoricals with different categories: concatenate as strings
        frames = [f.astype({c: "string" for c in ("op", "space", "error_class") if c in f}) for f in frames]
    return pd.concat(frames, ignore_index=True)


def _empty(name: str) -> pd.DataFrame:
    """An empty table with the columns a single run would have (so loaders and reports still work)."""
    from engram_harness.driver.windows import WINDOW_COLUMNS

    columns = {
        layout.WINDOWS: WINDOW_COLUMNS,
        layout.OPS: ["op", "count", "ok", "errors", "error_rate", "throughput", "mean_ms", "p50_ms",
                     "p90_ms", "p95_ms", "p99_ms", "p999_ms", "p9999_ms", "p99999_ms", "max_ms", "overflow"],
        layout.HISTOGRAMS: ["op", "lowest_ns", "width_ns", "count"],
        layout.ERRORS: ["op", "error_class", "count", "sample"],
    }[name]  # fmt: skip
    return pd.DataFrame({"scenario": pd.Series(dtype="string"), **{c: [] for c in columns}})


def _slug(text: str) -> str:
    """A directory name: letters, digits, ``-``, ``_`` and ``.``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "run"
