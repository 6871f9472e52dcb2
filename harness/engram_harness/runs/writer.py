"""Write one run to ``results/<run-id>/``: manifest, summary and tidy Parquet tables."""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engram_harness.checks import Check
from engram_harness.driver.result import RunResult
from engram_harness.runs import layout
from engram_harness.runs.fingerprint import machine_fingerprint
from engram_harness.runs.git import git_info
from engram_harness.runs.run_id import new_run_id
from engram_harness.scenarios.scenario import Scenario
from engram_harness.scenarios.thresholds import evaluate

CHECK_COLUMNS = [
    "suite", "name", "measured", "comparator", "threshold", "threshold_high", "unit", "detail", "passed",
]  # fmt: skip


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if math.isnan(obj) else float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean(obj: Any) -> Any:
    """NaN/inf become null so the JSON stays standard."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    text = json.dumps(_clean(dict(data)), indent=2, sort_keys=False, default=_json_default)
    path.write_text(text + "\n", encoding="utf-8")


def checks_frame(checks: Iterable[Check]) -> pd.DataFrame:
    rows = [c.as_row() for c in checks]
    df = pd.DataFrame(rows, columns=CHECK_COLUMNS)
    return df.astype(
        {"measured": "float64", "threshold": "float64", "threshold_high": "float64", "passed": "bool"}
    )


def histograms_frame(result: RunResult) -> pd.DataFrame:
    frames = []
    for op, h in result.histograms().items():
        lowest, width, count = h.buckets()
        frames.append(pd.DataFrame({"op": op, "lowest_ns": lowest, "width_ns": width, "count": count}))
    if not frames:
        return pd.DataFrame({"op": [], "lowest_ns": [], "width_ns": [], "count": []})
    return pd.concat(frames, ignore_index=True)


def latencies_frame(result: RunResult) -> pd.DataFrame:
    names = np.asarray(result.op_names, dtype=object)
    classes = np.asarray(result.error_classes, dtype=object)
    return pd.DataFrame(
        {
            "op": pd.Categorical(names[result.op.astype(np.int64)], categories=list(result.op_names)),
            "space": pd.Categorical(
                np.asarray(result.space_names, dtype=object)[result.space.astype(np.int64)],
                categories=list(result.space_names),
            ),
            "intended_start_ns": result.intended_start_ns,
            "actual_start_ns": result.actual_start_ns,
            "latency_ns": result.latency_ns,
            "error_class": pd.Categorical(
                classes[result.error_code.astype(np.int64)], categories=list(dict.fromkeys(classes))
            ),
        }
    )


def summarise(
    run_id: str, result: RunResult, ops: pd.DataFrame, checks: pd.DataFrame, profile: str
) -> dict[str, Any]:
    all_row = ops.loc[ops["op"] == "all"].iloc[0].to_dict() if (ops["op"] == "all").any() else {}
    per_op = {
        r["op"]: {k: r[k] for k in ("count", "errors", "p50_ms", "p99_ms", "p999_ms", "max_ms")}
        for r in ops.to_dict("records")
        if r["op"] != "all"
    }
    failed = checks.loc[~checks["passed"], "name"].tolist() if len(checks) else []
    return {
        "schema_version": layout.SCHEMA_VERSION,
        "run_id": run_id,
        "scenario": result.scenario,
        "profile": profile,
        "executor": result.executor,
        "passed": not failed,
        "checks": len(checks),
        "failed_checks": failed,
        "operations": len(result),
        "errors": result.errors,
        "error_rate": result.error_rate,
        "error_classes": result.error_counts(),
        "throughput": result.throughput,
        "wall_time_s": result.wall_time_s,
        "duration_s": result.duration_s,
        "latency_ms": {
            k: all_row.get(k)
            for k in ("mean_ms", "p50_ms", "p95_ms", "p99_ms", "p999_ms", "p9999_ms", "max_ms")
        },
        "per_op": per_op,
    }


def write_run(
    result: RunResult,
    *,
    scenario: Scenario | None = None,
    root: str | Path = "results",
    profile: str = "quick",
    profile_scale: float = 1.0,
    checks: Iterable[Check] | None = None,
    baseline_ops: pd.DataFrame | None = None,
    run_id: str | None = None,
    simd_level: Callable[[], str] | None = None,
    window_s: float = 1.0,
    raw: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``root/<run-id>/`` and return its path.

    ``checks`` default to the scenario's thresholds evaluated on this run (relative ones against
    ``baseline_ops``, an ``ops`` table of an earlier run). ``raw`` also writes every operation's
    latency (``latencies.parquet``), which the statistics need for before/after comparisons.
    """
    run_id = run_id or new_run_id()
    run_dir = Path(root) / run_id
    run_dir.mkdir(parents=True, exist_ok=False)

    ops = result.op_summary()
    if checks is None:
        checks = evaluate(scenario.thresholds, ops, baseline_ops) if scenario is not None else []
    checks_df = checks_frame(checks)

    result.windows(window_s).to_parquet(run_dir / layout.WINDOWS, index=False)
    ops.to_parquet(run_dir / layout.OPS, index=False)
    checks_df.to_parquet(run_dir / layout.CHECKS, index=False)
    histograms_frame(result).to_parquet(run_dir / layout.HISTOGRAMS, index=False)
    result.error_table().to_parquet(run_dir / layout.ERRORS, index=False)
    if raw:
        latencies_frame(result).to_parquet(run_dir / layout.LATENCIES, index=False)

    manifest = {
        "schema_version": layout.SCHEMA_VERSION,
        "run_id": run_id,
        "created_at_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        "run_started_at_utc": result.started_at_utc,
        "git": git_info(),
        "scenario": {
            "name": scenario.name if scenario is not None else result.scenario,
            "description": scenario.description if scenario is not None else "",
            "source": scenario.source if scenario is not None else None,
            "toml": scenario.toml_text if scenario is not None else None,
            "duration_s": scenario.duration_s if scenario is not None else result.duration_s,
        },
        "profile": profile,
        "profile_scale": profile_scale,
        "seed": result.seed,
        "executor": result.executor,
        "window_s": window_s,
        "machine": machine_fingerprint(simd_level),
        "versions": {d: _version(d) for d in ("engram", "numpy", "pandas", "pyarrow")},
        "extra": dict(extra or {}),
    }
    write_json(run_dir / layout.MANIFEST, manifest)
    write_json(run_dir / layout.SUMMARY, summarise(run_id, result, ops, checks_df, profile))
    return run_dir
