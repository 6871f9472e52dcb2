"""Markdown summary of a run (for CI logs and pull requests)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from engram.results.loader import RunData


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


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
        md_table(run.checks[["name", "measured", "comparator", "threshold", "unit", "passed"]]),
        "\n## Operations (latency in ms from intended start)\n",
        md_table(run.ops[["op", "count", "errors", "p50_ms", "p99_ms", "p999_ms", "max_ms"]]),
    ]
    if len(run.errors):
        parts += ["\n## Errors\n", md_table(run.errors[["op", "error_class", "count"]])]
    if comparison is not None:
        parts += ["\n## Comparison with baseline\n", md_table(comparison)]
    if verdicts:
        parts += ["\n## Statistical verdicts\n"] + [f"- {v['op']}: {v['text']}" for v in verdicts]
    return "\n".join(parts) + "\n"
