"""Comparison of a run against a baseline run, from the results files only."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from engram_harness.runs.loader import RunData

COLUMNS = ["op", "metric", "before", "after", "ratio"]


def compare_tables(run: RunData, baseline: RunData) -> pd.DataFrame:
    """Per operation type: P50/P99/P99.9 and throughput before and after, with after/before ratios."""
    rows = []
    common = [op for op in run.ops["op"] if op in set(baseline.ops["op"])]
    for op in common:
        a = run.ops[run.ops["op"] == op].iloc[0]
        b = baseline.ops[baseline.ops["op"] == op].iloc[0]
        for metric in ("p50_ms", "p99_ms", "p999_ms", "throughput", "error_rate"):
            before, after = float(b[metric]), float(a[metric])
            ratio = after / before if before and math.isfinite(before) else math.nan
            rows.append({"op": op, "metric": metric, "before": before, "after": after, "ratio": ratio})
    return pd.DataFrame(rows, columns=COLUMNS)


def statistical_verdicts(run: RunData, baseline: RunData) -> list[dict[str, Any]]:
    """``engram_harness.stats.compare`` per operation type on the raw latencies, when both runs kept them.
    Each entry: op, regression (bool or None) and a one-line text (or why no verdict)."""
    out: list[dict[str, Any]] = []
    a_lat, b_lat = run.latencies, baseline.latencies
    if a_lat is None or b_lat is None:
        return [{"op": "all", "regression": None, "text": "raw latencies not recorded in both runs"}]
    try:
        from engram_harness.stats import compare
    except Exception as exc:  # the statistics package is optional for reports
        return [{"op": "all", "regression": None, "text": f"engram_harness.stats unavailable: {exc}"}]

    def ok(df: pd.DataFrame, op: str) -> np.ndarray:
        sel = (df["error_class"].astype(str) == "") & (df["latency_ns"] >= 0)
        if op != "all":
            sel &= df["op"].astype(str) == op
        return df.loc[sel, "latency_ns"].to_numpy(dtype=np.float64)

    ops = ["all", *sorted(set(a_lat["op"].astype(str)) & set(b_lat["op"].astype(str)))]
    for op in ops:
        try:
            verdict = compare(ok(b_lat, op), ok(a_lat, op))
            out.append({"op": op, "regression": bool(verdict.regression), "text": verdict.summary()})
        except Exception as exc:  # e.g. samples too small: say so in the report
            out.append({"op": op, "regression": None, "text": f"{type(exc).__name__}: {exc}"})
    return out
