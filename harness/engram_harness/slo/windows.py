"""Per-window latency quantiles of a run and their verdict against a latency SLO.

A window holds the operations whose *intended* start falls in it (as
:mod:`engram_harness.driver.windows`), and its quantiles are exact order statistics of the
successful operations' latencies (:func:`engram_harness.stats.quantiles.group_quantiles`). The
judged quantile is the maximum over operation types, never below the pooled one (decision 4 of
docs/acceptance.md: the stricter reading); the pooled one is kept beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engram_harness.stats.quantiles import group_quantiles

QUANTILES = (("p50_ms", 0.50), ("p95_ms", 0.95), ("p99_ms", 0.99))


@dataclass(frozen=True)
class LatencySlo:
    """Limits in milliseconds: overall P50/P95/P99 per window, and P99 per named operation type."""

    p50_ms: float = 5.0
    p95_ms: float = 15.0
    p99_ms: float = 50.0
    op_p99_ms: Mapping[str, float] = field(default_factory=lambda: {"search": 2.0})


@dataclass(frozen=True)
class WindowStats:
    index: int
    t_start_s: float
    width_s: float
    count: int
    ok: int
    errors: int
    judged_ms: Mapping[str, float]  # p50/p95/p99: max over operation types and the pooled value
    pooled_ms: Mapping[str, float]  # the quantiles of every operation together
    op_p99_ms: Mapping[str, float]  # P99 per operation type present in the run

    @property
    def rate(self) -> float:
        return self.count / self.width_s

    def misses(self, slo: LatencySlo) -> list[str]:
        """What this window misses (a NaN quantile, i.e. nothing measured, is a miss)."""
        out = []
        for key, limit in (("p50_ms", slo.p50_ms), ("p95_ms", slo.p95_ms), ("p99_ms", slo.p99_ms)):
            v = self.judged_ms[key]
            if not v < limit:
                out.append(f"{key.removesuffix('_ms').upper()} {v:.2f} ms >= {limit:g}")
        for op, limit in slo.op_p99_ms.items():
            v = self.op_p99_ms.get(op, math.nan)
            if not v < limit:
                out.append(f"{op} P99 {v:.2f} ms >= {limit:g}")
        return out


def window_stats(
    intended_start_ns: npt.ArrayLike,
    latency_ns: npt.ArrayLike,
    failed: npt.ArrayLike,
    op: npt.ArrayLike,
    op_names: Sequence[str],
    *,
    window_s: float,
    duration_s: float,
) -> list[WindowStats]:
    """One :class:`WindowStats` per ``window_s`` window of ``[0, duration_s)``; a trailing partial
    window shorter than half a window is dropped (too few samples to judge its tail)."""
    if not window_s > 0:
        raise ValueError(f"window_s must be > 0, got {window_s!r}")
    t = np.asarray(intended_start_ns, dtype=np.int64)
    lat = np.asarray(latency_ns, dtype=np.int64)
    err = np.asarray(failed).astype(bool)
    ops = np.asarray(op, dtype=np.int64)
    n_win = math.floor(duration_s / window_s + 0.5 - 1e-9)
    width_ns = round(window_s * 1e9)
    win = t // width_ns
    inside = (win >= 0) & (win < n_win)
    ok = inside & ~err & (lat >= 0)
    count = np.bincount(win[inside], minlength=n_win)[:n_win]
    errors = np.bincount(win[inside & err], minlength=n_win)[:n_win]
    n_ok = np.bincount(win[ok], minlength=n_win)[:n_win]
    pooled = {k: group_quantiles(win[ok], lat[ok], n_win, q) / 1e6 for k, q in QUANTILES}
    per_op: dict[str, dict[str, npt.NDArray[np.float64]]] = {}
    for o in sorted(set(ops[inside].tolist())):
        sel = ok & (ops == o)
        per_op[op_names[o]] = {k: group_quantiles(win[sel], lat[sel], n_win, q) / 1e6 for k, q in QUANTILES}
    out = []
    for w in range(n_win):
        judged = {}
        for k, _ in QUANTILES:
            vals = [pooled[k][w], *(per_op[name][k][w] for name in per_op)]
            finite = [v for v in vals if not math.isnan(v)]
            judged[k] = max(finite) if finite else math.nan
        out.append(
            WindowStats(
                index=w,
                t_start_s=w * window_s,
                width_s=window_s,
                count=int(count[w]),
                ok=int(n_ok[w]),
                errors=int(errors[w]),
                judged_ms=judged,
                pooled_ms={k: float(pooled[k][w]) for k, _ in QUANTILES},
                op_p99_ms={name: float(q["p99_ms"][w]) for name, q in per_op.items()},
            )
        )
    return out


def format_windows(
    windows: Sequence[WindowStats], slo: LatencySlo, notes: Mapping[int, str] | None = None
) -> str:
    """A readable table: one line per window, the judged quantiles, search P99 and what missed."""
    ops = sorted({op for w in windows for op in w.op_p99_ms})
    head = f"{'window':>6} {'t_s':>7} {'ops/s':>7} {'err':>4} {'P50':>7} {'P95':>7} {'P99':>7} " + " ".join(
        f"{op[:10] + ' P99':>14}" for op in ops
    )
    lines = [head + "  verdict"]
    for w in windows:
        miss = w.misses(slo)
        cells = " ".join(f"{w.op_p99_ms.get(op, math.nan):>14.2f}" for op in ops)
        verdict = "ok" if not miss else "MISS " + "; ".join(miss)
        if notes and w.index in notes:
            verdict += f" [{notes[w.index]}]"
        lines.append(
            f"{w.index:>6} {w.t_start_s:>7.0f} {w.rate:>7.0f} {w.errors:>4} {w.judged_ms['p50_ms']:>7.2f} "
            f"{w.judged_ms['p95_ms']:>7.2f} {w.judged_ms['p99_ms']:>7.2f} {cells}  {verdict}"
        )
    return "\n".join(lines)
