"""Per-second (or any width) windows of rate, latency quantiles and errors, by intended start time.

Window quantiles are exact order statistics of the window's samples (the one percentile definition,
:mod:`engram_harness.stats.quantiles`), not histogram buckets.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from engram_harness.stats.quantiles import group_quantiles

WINDOW_COLUMNS = ["window", "t_start_s", "op", "count", "rate", "ok", "errors", "p50_ms", "p99_ms", "max_ms"]


def compute_windows(
    intended_start_ns: npt.ArrayLike,
    latency_ns: npt.ArrayLike,
    error: npt.ArrayLike,
    op: npt.ArrayLike | None = None,
    op_names: tuple[str, ...] | None = None,
    *,
    window_s: float = 1.0,
    duration_s: float | None = None,
) -> pd.DataFrame:
    """One row per (window, op) plus ``op == "all"`` rows, with columns :data:`WINDOW_COLUMNS`.

    Operations fall into the window of their *intended* start. ``rate`` is operations per second
    scheduled in the window (successful or not); latency quantiles cover successful operations (with a
    known latency) only; ``errors`` counts failed ones. Every window up to ``duration_s`` appears, even
    an empty one, so gaps show as zeros rather than missing rows.
    """
    t = np.asarray(intended_start_ns, dtype=np.int64)
    lat = np.asarray(latency_ns, dtype=np.int64)
    err = np.asarray(error).astype(bool)
    ops = np.zeros(len(t), dtype=np.int64) if op is None else np.asarray(op, dtype=np.int64)
    names = op_names if op_names is not None else tuple(str(i) for i in range(int(ops.max(initial=0)) + 1))
    width_ns = round(window_s * 1e9)
    win = t // width_ns
    n_win = int(win.max(initial=-1)) + 1
    if duration_s is not None:
        n_win = max(n_win, int(np.ceil(duration_s / window_s - 1e-9)))
    frames = []
    n_ops = len(names)
    present = sorted(set(np.unique(ops).tolist())) if len(ops) else []
    for label, sel in [("all", np.ones(len(t), dtype=bool))] + [
        (names[o], ops == o) for o in present if o < n_ops
    ]:
        w = win[sel]
        e = err[sel]
        ok = ~e & (lat[sel] >= 0)
        count = np.bincount(w, minlength=n_win)
        errors = np.bincount(w[e], minlength=n_win)
        ok_n = np.bincount(w[ok], minlength=n_win)
        lw, lv = w[ok], lat[sel][ok]
        frames.append(
            pd.DataFrame(
                {
                    "window": np.arange(n_win, dtype=np.int64),
                    "t_start_s": np.arange(n_win, dtype=np.float64) * window_s,
                    "op": label,
                    "count": count[:n_win].astype(np.int64),
                    "rate": count[:n_win] / window_s,
                    "ok": ok_n[:n_win].astype(np.int64),
                    "errors": errors[:n_win].astype(np.int64),
                    "p50_ms": group_quantiles(lw, lv, n_win, 0.50) / 1e6,
                    "p99_ms": group_quantiles(lw, lv, n_win, 0.99) / 1e6,
                    "max_ms": group_quantiles(lw, lv, n_win, 1.0) / 1e6,
                }
            )
        )
    if not frames:
        return pd.DataFrame({c: [] for c in WINDOW_COLUMNS})
    return pd.concat(frames, ignore_index=True)[WINDOW_COLUMNS]
