"""Figures for the report, rendered by matplotlib (Agg) into base64 PNG data URIs."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd

from engram_harness.runs.loader import RunData

_QS = np.array([0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999])


def _pyplot():  # imported lazily: matplotlib is only needed for reports
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _data_uri(fig) -> str:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def latency_distribution(runs: Sequence[RunData]) -> str:
    """Latency by percentile (HdrHistogram-style: x axis is 1/(1-q), log scale), per operation type;
    with several runs, solid lines are the first run and dashed lines the others."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    styles = ["-", "--", ":", "-."]
    x = 1.0 / (1.0 - np.minimum(_QS, 0.999999))
    for i, run in enumerate(runs):
        for op in sorted(set(run.histograms["op"])):
            h = run.histogram(op)
            if h.total == 0:
                continue
            y = h.quantiles(_QS) / 1e6
            label = op if len(runs) == 1 else f"{op} ({run.run_id})"
            ax.plot(x, y, styles[i % len(styles)], marker=".", label=label, linewidth=2 if op == "all" else 1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(x[1:], [f"p{q * 100:g}" for q in _QS[1:]], rotation=45, fontsize=8)
    ax.set_ylabel("latency (ms, from intended start)")
    ax.set_title("Latency by percentile")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # an empty session has no lines
        ax.legend(fontsize=7, loc="upper left")
    return _data_uri(fig)


def time_series(run: RunData, baseline: RunData | None = None) -> str:
    """Per-window throughput, P99 and errors over the run (all operations)."""
    plt = _pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(8, 6.5), sharex=True)
    for data, style, label in ((run, "-", run.run_id), (baseline, "--", baseline.run_id if baseline else "")):
        if data is None:
            continue
        w: pd.DataFrame = data.windows[data.windows["op"] == "all"]
        groups = w.groupby("scenario", sort=False) if "scenario" in w.columns else [(None, w)]
        for scenario, g in groups:  # a session directory holds one series per scenario run
            name = label if scenario is None else f"{scenario} ({label})"
            axes[0].plot(g["t_start_s"], g["rate"], style, label=name)
            axes[1].plot(g["t_start_s"], g["p99_ms"], style, label=name)
            axes[2].plot(g["t_start_s"], g["errors"], style, label=name)
    axes[0].set_ylabel("ops/s")
    axes[1].set_ylabel("P99 (ms)")
    axes[1].set_yscale("log")
    axes[2].set_ylabel("errors")
    axes[2].set_xlabel("time since run start (s, by intended start)")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=7)
    axes[0].set_title("Per-window rate, P99 and errors")
    return _data_uri(fig)
