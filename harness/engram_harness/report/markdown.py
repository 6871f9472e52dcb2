"""Markdown summary of a run (for CI logs and pull requests)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from engram_harness.runs.loader import RunData


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


CHECK_COLUMNS = ("suite", "name", "measured", "comparator", "threshold", "threshold_high", "unit", "passed")
OPS_COLUMNS = ("scenario", "op", "count", "errors", "p50_ms", "p99_ms", "p999_ms", "max_ms")
#: Columns of a gate's ``verdicts.parquet`` shown in reports (see engram_harness.gate).
VERDICT_COLUMNS = ("comparison", "metric", "regression", "rounds_worse", "p_value", "p_adjusted", "median_ratio",
                   "median_ratio_low", "median_ratio_high", "p99_ratio", "n_before", "n_after")  # fmt: skip


def _present(df: pd.DataFrame, *columns: str) -> list[str]:
    """The given columns that ``df`` has (older runs and sessions carry different optional columns)."""
    return [c for c in columns if c in df.columns]


def md_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "_(none)_\n"
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines) + "\n"


def render_markdown(
    run: RunData, comparison: pd.DataFrame | None = None, verdicts: list[dict[str, Any]] | None = None
) -> str:
    s = run.summary
    git = run.manifest.get("git", {})
    machine = run.manifest.get("machine", {})
    status = "PASS" if run.passed else "FAIL"
    parts = [
        f"# {status}: {s.get('scenario')} ({run.run_id})\n",
        f"- profile: {s.get('profile')}, executor: {s.get('executor')}, seed: {run.manifest.get('seed')}",
        f"- git: {git.get('commit')} (dirty: {git.get('dirty')})",
        f"- machine: {machine.get('cpu_model')}, {machine.get('logical_cores')} cores, "
        f"SIMD {machine.get('simd_level')}",
        f"- operations: {s.get('operations')}, errors: {s.get('errors')} ({_fmt(s.get('error_rate'))}), "
        f"throughput: {_fmt(s.get('throughput'))} ops/s over {_fmt(s.get('wall_time_s'))} s\n",
        "## Checks\n",
        md_table(run.checks[_present(run.checks, *CHECK_COLUMNS)]),
        "\n## Operations (latency in ms from intended start)\n",
        md_table(run.ops[_present(run.ops, *OPS_COLUMNS)]),
    ]
    tests = run.tests
    if tests is not None and len(tests):
        parts += ["\n## Tests\n", md_table(tests[["nodeid", "outcome", "duration_s"]])]
    gate = run.verdicts
    if gate is not None and len(gate):
        parts += ["\n## Regression verdicts\n", md_table(gate[_present(gate, *VERDICT_COLUMNS)])]
    if len(run.errors):
        parts += ["\n## Errors\n", md_table(run.errors[["op", "error_class", "count"]])]
    if comparison is not None:
        parts += ["\n## Comparison with baseline\n", md_table(comparison)]
    if verdicts:
        parts += ["\n## Statistical verdicts\n"] + [f"- {v['op']}: {v['text']}" for v in verdicts]
    return "\n".join(parts) + "\n"
