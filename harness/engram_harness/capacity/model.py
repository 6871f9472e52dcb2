"""The capacity model: memory per episode, throughput per core, and the table that answers "how
many cores and how much memory for N memories at R ops/s with P99 < X".

- Memory: server RSS against stored episodes, a least-squares line ``rss = fixed + per_episode*N``
  (an HNSW index and its records grow linearly; the fixed part is the process, allocator arenas and
  buffers).
- Throughput per core: saturation ops/s divided by the server CPU cores it used there (so it does
  not depend on how much of the shared host the server got). Its inverse, the server CPU time per
  operation, is fitted as ``a + b*ln N``: an HNSW query visits O(log N) nodes, so the cost per
  operation grows about logarithmically (fitting throughput itself as a + b ln N would cross zero
  when extrapolated).
- Headroom at a latency bound: the utilisation at which P99 stays under X, the maximum sustainable
  rate at P99 < X over the saturation rate of the same ramps (an open-loop server queues as it
  fills, so a P99 bound is met only below saturation).

Cores for (N, R, X) = ceil(R / (per_core(N) * utilisation(X))): server cores, the load generator
and other tenants not included. Memory = fixed + per_episode * N.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SEEDS_BYTES_PER_NODE = 768 * 4 + 128  # requirements 004: N x (768 x 4 + 128) = 3,200 B/node


@dataclass(frozen=True)
class Point:
    n: int  # stored episodes
    value: float


@dataclass(frozen=True)
class LinearFit:
    """``value = intercept + slope * f(n)`` with f the identity or ln."""

    intercept: float
    slope: float
    log_n: bool
    points: tuple[Point, ...]

    def predict(self, n: float) -> float:
        x = math.log(n) if self.log_n else float(n)
        return self.intercept + self.slope * x

    def r2(self) -> float:
        y = np.array([p.value for p in self.points])
        pred = np.array([self.predict(p.n) for p in self.points])
        ss = float(((y - y.mean()) ** 2).sum())
        return 1.0 - float(((y - pred) ** 2).sum()) / ss if ss > 0 else math.nan


def fit(points: Sequence[Point], *, log_n: bool) -> LinearFit:
    """Least squares through at least two points at distinct sizes."""
    if len({p.n for p in points}) < 2:
        raise ValueError(f"a fit needs points at two or more sizes; got {[p.n for p in points]}")
    x = np.array([math.log(p.n) if log_n else float(p.n) for p in points])
    y = np.array([p.value for p in points], dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    return LinearFit(float(intercept), float(slope), log_n, tuple(points))


def relative_error(predicted: float, measured: float) -> float:
    """|predicted - measured| / measured (NaN when nothing was measured)."""
    return abs(predicted - measured) / abs(measured) if measured and math.isfinite(measured) else math.nan


@dataclass(frozen=True)
class CapacityModel:
    memory: LinearFit  # bytes against N
    cpu_us: LinearFit  # server CPU microseconds per operation at saturation, against ln N
    utilisation: dict[float, float]  # P99 bound (ms) -> fraction of saturation sustainable under it

    @property
    def bytes_per_episode(self) -> float:
        return self.memory.slope

    def per_core(self, n: float) -> float:
        """Operations per second one server core carries at ``n`` episodes."""
        cost = self.cpu_us.predict(n)
        return 1e6 / cost if cost > 0 else math.nan

    def cores(self, n: float, rate: float, p99_ms: float) -> float:
        """Server cores for ``rate`` ops/s at ``n`` episodes with P99 < ``p99_ms`` (NaN when no
        sustainable utilisation was measured for that bound)."""
        u = self.utilisation.get(p99_ms, math.nan)
        per_core = self.per_core(n)
        if not (u > 0 and per_core > 0):
            return math.nan
        return math.ceil(rate / (per_core * u) * 100) / 100  # to 0.01 core; rounded up by the table

    def memory_bytes(self, n: float) -> float:
        return self.memory.predict(n)


def table(model: CapacityModel, sizes: Sequence[int], rates: Sequence[float], bounds: Sequence[float]) -> str:
    """Markdown: one row per (N, R, X): server cores (fractional and whole) and memory."""
    lines = [
        "| memories N | rate R (ops/s) | P99 < X (ms) | server cores (exact) | cores to provision | memory (GiB) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        mem = model.memory_bytes(n) / 2**30
        for r in rates:
            for x in bounds:
                c = model.cores(n, r, x)
                if model.utilisation.get(x, math.nan) == 0:
                    # measured, and no ramp rate held P99 under x: the model has nothing to scale
                    whole = exact = "n/a (no measured rate held P99 < X)"
                else:
                    whole = "n/a" if not math.isfinite(c) else str(max(1, math.ceil(c)))
                    exact = "n/a" if not math.isfinite(c) else f"{c:.2f}"
                lines.append(f"| {n:,} | {r:,.0f} | {x:g} | {exact} | {whole} | {mem:.2f} |")
    return "\n".join(lines)
