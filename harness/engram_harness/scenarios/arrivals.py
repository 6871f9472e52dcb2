"""Arrival processes: when each operation is meant to start.

Every process is a rate shape ``rate(t)`` in operations per second. Deterministic processes place
operation ``k`` where the integrated rate reaches ``k`` (so a constant 1,000 ops/s for 60 s gives exactly
60,000 operations at 1 ms spacing); Poisson processes (``pattern = "poisson"``, or ``poisson = true`` on
any shape) draw unit-rate exponential gaps in integrated-rate space and map them back, which gives a
non-homogeneous Poisson process with the same rate shape.

Time constants (day length, burst lengths, delays) can be compressed with :meth:`Arrival.scaled` so that a
quick profile keeps the shape of a long scenario in less time; rates are never scaled.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from engram_harness.scenarios.clock import Clock
from engram_harness.scenarios.toml_table import Table

FloatArray = npt.NDArray[np.float64]
RateFn = Callable[[FloatArray], FloatArray]

#: Finest grid used to integrate a rate shape (seconds) and the most grid points used.
_GRID_STEP_S = 1e-3
_MAX_GRID = 2_000_000


@dataclass(frozen=True)
class Arrival:
    """Base of every arrival process."""

    poisson: bool = False

    def realise(self, duration_s: float, rng: np.random.Generator) -> RateFn:
        """The concrete rate function for one run (random shapes such as Poisson bursts draw here)."""
        raise NotImplementedError

    def scaled(self, factor: float) -> Arrival:
        """The same shape with its time constants multiplied by ``factor``."""
        return self

    def mean_rate(self, duration_s: float, rng: np.random.Generator | None = None) -> float:
        """Expected operations per second over ``duration_s`` (for a random shape, of one realisation)."""
        fn = self.realise(duration_s, rng if rng is not None else np.random.default_rng(0))
        _, cum = _integrate(fn, duration_s)
        return float(cum[-1] / duration_s) if duration_s > 0 else 0.0


@dataclass(frozen=True)
class Constant(Arrival):
    rate: float = 1.0

    def realise(self, duration_s: float, rng: np.random.Generator) -> RateFn:
        return lambda t: np.full(np.shape(t), self.rate, dtype=np.float64)


@dataclass(frozen=True)
class Diurnal(Arrival):
    """``rate = baseline * (1 + (peak_multiplier - 1) * (1 + cos(phase)) / 2)``.

    The requirement's formula ``baseline * (1 + (peak - 1) * cos(...))`` goes negative as soon as
    ``peak_multiplier > 2``; this one stays within ``[baseline, baseline * peak_multiplier]``: the peak
    at ``peak_hour``, the trough (rate = baseline) at ``trough_hour`` (default ``peak_hour + 12``), with
    the phase running linearly between them so an asymmetric day is allowed.
    """

    baseline_ops: float = 1.0
    peak_multiplier: float = 1.0
    peak_hour: float = 14.0
    trough_hour: float | None = None
    day_seconds: float = 86_400.0
    start_hour: float = 0.0

    def hour_at(self, t: FloatArray) -> FloatArray:
        return np.mod(self.start_hour + 24.0 * np.asarray(t, dtype=np.float64) / self.day_seconds, 24.0)

    def realise(self, duration_s: float, rng: np.random.Generator) -> RateFn:
        trough = self.trough_hour if self.trough_hour is not None else self.peak_hour + 12.0
        span = (trough - self.peak_hour) % 24.0 or 12.0

        def fn(t: FloatArray) -> FloatArray:
            d = np.mod(self.hour_at(t) - self.peak_hour, 24.0)
            phase = np.where(d <= span, math.pi * d / span, math.pi * (24.0 - d) / (24.0 - span))
            return self.baseline_ops * (1.0 + (self.peak_multiplier - 1.0) * (1.0 + np.cos(phase)) / 2.0)

        return fn

    def scaled(self, factor: float) -> Arrival:
        return replace(self, day_seconds=self.day_seconds * factor)


def _windows_rate(base: float, burst: float, starts: FloatArray, ends: FloatArray) -> RateFn:
    order = np.argsort(starts)
    s, e = np.asarray(starts, dtype=np.float64)[order], np.asarray(ends, dtype=np.float64)[order]
    # running maximum of the ends lets one searchsorted answer "inside any window" even when windows overlap
    e_max = np.maximum.accumulate(e) if len(e) else e

    def fn(t: FloatArray) -> FloatArray:
        t = np.asarray(t, dtype=np.float64)
        if len(s) == 0:
            return np.full(t.shape, base)
        i = np.searchsorted(s, t, side="right") - 1
        inside = (i >= 0) & (t < e_max[np.clip(i, 0, None)])
        return np.where(inside, burst, base)

    return fn


@dataclass(frozen=True)
class Bursts(Arrival):
    """Baseline rate with bursts of ``baseline * multiplier`` starting as a Poisson process of
    ``bursts_per_minute`` and lasting ``duration_s`` each."""

    baseline: float = 1.0
    multiplier: float = 1.0
    bursts_per_minute: float = 1.0
    duration_s: float = 1.0

    def realise(self, duration_s: float, rng: np.random.Generator) -> RateFn:
        per_s = self.bursts_per_minute / 60.0
        starts: list[float] = []
        t = 0.0
        for _ in range(1_000_000):  # bounded: a burst every ms for 1000 s at most
            t += rng.exponential(1.0 / per_s) if per_s > 0 else math.inf
            if t >= duration_s:
                break
            starts.append(t)
        st = np.asarray(starts, dtype=np.float64)
        return _windows_rate(self.baseline, self.baseline * self.multiplier, st, st + self.duration_s)

    def scaled(self, factor: float) -> Arrival:
        return replace(
            self, duration_s=self.duration_s * factor, bursts_per_minute=self.bursts_per_minute / factor
        )


@dataclass(frozen=True)
class PeriodicBurst(Arrival):
    """``burst_rate`` during the first ``burst_duration_s`` of every ``period_s``, ``base_rate`` otherwise."""

    base_rate: float = 1.0
    burst_rate: float = 1.0
    burst_duration_s: float = 1.0
    period_s: float = 10.0

    def realise(self, duration_s: float, rng: np.random.Generator) -> RateFn:
        def fn(t: FloatArray) -> FloatArray:
            inside = np.mod(np.asarray(t, dtype=np.float64), self.period_s) < self.burst_duration_s
            return np.where(inside, self.burst_rate, self.base_rate)

        return fn

    def scaled(self, factor: float) -> Arrival:
        return replace(self, burst_duration_s=self.burst_duration_s * factor, period_s=self.period_s * factor)


@dataclass(frozen=True)
class BurstSpec:
    multiplier: float
    duration_s: float
    delay_s: float  # from the end of the previous burst (the run start for the first)


@dataclass(frozen=True)
class BurstSequence(Arrival):
    """Baseline rate with a fixed sequence of bursts, each ``delay_s`` after the previous one ended."""

    baseline_ops: float = 1.0
    bursts: tuple[BurstSpec, ...] = field(default_factory=tuple)

    def windows(self) -> list[tuple[float, float, float]]:
        """``(start_s, end_s, multiplier)`` of every burst."""
        out, t = [], 0.0
        for b in self.bursts:
            start = t + b.delay_s
            out.append((start, start + b.duration_s, b.multiplier))
            t = start + b.duration_s
        return out

    def realise(self, duration_s: float, rng: np.random.Generator) -> RateFn:
        wins = self.windows()
        starts = np.array([w[0] for w in wins], dtype=np.float64)
        ends = np.array([w[1] for w in wins], dtype=np.float64)
        mult = np.array([w[2] for w in wins], dtype=np.float64)

        def fn(t: FloatArray) -> FloatArray:
            t = np.asarray(t, dtype=np.float64)
            out = np.full(t.shape, self.baseline_ops)
            if len(starts):
                i = np.searchsorted(starts, t, side="right") - 1
                ic = np.clip(i, 0, None)
                inside = (i >= 0) & (t < ends[ic])
                out = np.where(inside, self.baseline_ops * mult[ic], out)
            return out

        return fn

    def total_seconds(self) -> float:
        wins = self.windows()
        return wins[-1][1] if wins else 0.0

    def scaled(self, factor: float) -> Arrival:
        bursts = tuple(
            BurstSpec(b.multiplier, b.duration_s * factor, b.delay_s * factor) for b in self.bursts
        )
        return replace(self, bursts=bursts)


@dataclass(frozen=True)
class Ramp(Arrival):
    """From ``start_ops`` to ``end_ops`` over ``ramp_s`` (the whole run when ``None``), then flat.

    ``shape`` is ``linear`` or ``geometric``; ``steps > 0`` holds the rate constant within each of that
    many equal steps (a staircase, as capacity searches use)."""

    start_ops: float = 1.0
    end_ops: float = 1.0
    ramp_s: float | None = None
    steps: int = 0
    shape: str = "linear"

    def realise(self, duration_s: float, rng: np.random.Generator) -> RateFn:
        span = self.ramp_s if self.ramp_s is not None else duration_s

        def fn(t: FloatArray) -> FloatArray:
            x = (
                np.clip(np.asarray(t, dtype=np.float64) / span, 0.0, 1.0)
                if span > 0
                else np.ones(np.shape(t))
            )
            if self.steps > 0:
                x = np.minimum(np.floor(x * self.steps), self.steps - 1) / max(self.steps - 1, 1)
            if self.shape == "geometric":
                return self.start_ops * (self.end_ops / self.start_ops) ** x
            return self.start_ops + (self.end_ops - self.start_ops) * x

        return fn

    def scaled(self, factor: float) -> Arrival:
        return replace(self, ramp_s=None if self.ramp_s is None else self.ramp_s * factor)


@dataclass(frozen=True)
class Composite(Arrival):
    """Weighted superposition: ``rate(t) = sum(weight_i * rate_i(t))``."""

    parts: tuple[tuple[Arrival, float], ...] = field(default_factory=tuple)

    def realise(self, duration_s: float, rng: np.random.Generator) -> RateFn:
        fns = [(p.realise(duration_s, rng), w) for p, w in self.parts]

        def fn(t: FloatArray) -> FloatArray:
            t = np.asarray(t, dtype=np.float64)
            out = np.zeros(t.shape)
            for f, w in fns:
                out = out + w * f(t)
            return out

        return fn

    def scaled(self, factor: float) -> Arrival:
        return replace(self, parts=tuple((p.scaled(factor), w) for p, w in self.parts))


def _integrate(fn: RateFn, duration_s: float) -> tuple[FloatArray, FloatArray]:
    """Grid and cumulative integral of the rate (midpoint rule, exact for piecewise-constant shapes
    up to one grid cell at each step)."""
    n = int(min(max(math.ceil(duration_s / _GRID_STEP_S), 1), _MAX_GRID))
    grid = np.linspace(0.0, duration_s, n + 1)
    mids = (grid[:-1] + grid[1:]) / 2.0
    rates = fn(mids)
    if np.any(rates < 0) or not np.all(np.isfinite(rates)):
        raise ValueError("arrival rate must be finite and non-negative")
    cum = np.concatenate([[0.0], np.cumsum(rates * np.diff(grid))])
    return grid, cum


def arrival_times(arrival: Arrival, duration_s: float, rng: np.random.Generator) -> FloatArray:
    """Intended start times in seconds from the run start, sorted, all in ``[0, duration_s)``."""
    if duration_s <= 0:
        return np.zeros(0)
    if isinstance(arrival, Constant):  # exact closed form, no grid
        if arrival.poisson:
            return _poisson_targets(arrival.rate * duration_s, rng) / arrival.rate
        n = math.ceil(arrival.rate * duration_s - 1e-9)
        return np.arange(n, dtype=np.float64) / arrival.rate
    fn = arrival.realise(duration_s, rng)
    grid, cum = _integrate(fn, duration_s)
    total = float(cum[-1])
    if arrival.poisson:
        targets = _poisson_targets(total, rng)
    else:
        targets = np.arange(math.ceil(total - 1e-9), dtype=np.float64)
    # strictly increasing abscissa for interp: drop grid points where the rate was zero
    keep = np.concatenate([[True], np.diff(cum) > 0])
    times = np.interp(targets, cum[keep], grid[keep])
    return np.clip(times, 0.0, np.nextafter(duration_s, 0.0))


def _poisson_targets(total: float, rng: np.random.Generator) -> FloatArray:
    """Unit-rate Poisson arrival points in ``[0, total)``."""
    n_expected = total + 10.0 * math.sqrt(total + 1.0) + 10.0
    gaps = rng.exponential(1.0, size=int(n_expected))
    points = np.cumsum(gaps)
    while points[-1] < total:  # practically never; bounded by the growth of points
        more = np.cumsum(rng.exponential(1.0, size=int(n_expected))) + points[-1]
        points = np.concatenate([points, more])
    return points[points < total]


PATTERNS = (
    "constant",
    "poisson",
    "exponential",
    "diurnal",
    "bursts",
    "periodic_burst",
    "burst_sequence",
    "ramp",
    "composite",
)


def parse_arrival(tab: Table, clock: Clock, *, child: bool = False) -> Arrival:
    """Read an ``[arrival]`` table (or one entry of a composite's ``patterns``); diurnal shapes use
    the scenario's ``[clock]`` for the length of a day and the hour the run starts at."""
    name = "type" if child else "pattern"
    kind = tab.string(name, choices=[p for p in PATTERNS if not (child and p == "composite")])
    poisson = kind in ("poisson", "exponential")
    if not child and kind not in ("poisson", "exponential"):
        poisson = tab.boolean("poisson", False)
    pos = {"lo": 0.0, "lo_open": True}
    arrival: Arrival
    if kind == "constant":
        arrival = Constant(poisson=poisson, rate=tab.number("rate", **pos))
    elif kind in ("poisson", "exponential"):
        if tab.has("rate") == tab.has("lambda"):
            raise tab.error("lambda", tab.raw("lambda"), "exactly one of 'lambda' or 'rate' (ops/s)")
        key = "rate" if tab.has("rate") else "lambda"
        arrival = Constant(poisson=True, rate=tab.number(key, **pos))
    elif kind == "diurnal":
        trough = tab.number("trough_hour", None, lo=0.0, hi=24.0) if tab.has("trough_hour") else None
        peak = tab.number("peak_hour", 14.0, lo=0.0, hi=24.0)
        if trough is not None and (trough - peak) % 24.0 == 0.0:
            raise tab.error("trough_hour", trough, f"an hour different from peak_hour ({peak})")
        arrival = Diurnal(
            poisson=poisson,
            baseline_ops=tab.number("baseline_ops", **pos),
            peak_multiplier=tab.number("peak_multiplier", lo=1.0),
            peak_hour=peak,
            trough_hour=trough,
            day_seconds=clock.day_seconds,
            start_hour=clock.start_hour,
        )
    elif kind == "bursts":
        arrival = Bursts(
            poisson=poisson,
            baseline=tab.number("baseline", **pos),
            multiplier=tab.number("multiplier", lo=0.0),
            bursts_per_minute=tab.number("lambda", lo=0.0),
            duration_s=tab.number("duration_sec", **pos),
        )
    elif kind == "periodic_burst":
        period = tab.number("burst_period_sec", **pos)
        arrival = PeriodicBurst(
            poisson=poisson,
            base_rate=tab.number("base_rate", lo=0.0),
            burst_rate=tab.number("burst_rate", lo=0.0),
            burst_duration_s=tab.number("burst_duration_sec", lo=0.0, hi=period),
            period_s=period,
        )
    elif kind == "burst_sequence":
        specs = []
        for b in tab.tables("bursts"):
            specs.append(
                BurstSpec(
                    multiplier=b.number("multiplier", lo=0.0),
                    duration_s=b.number("duration_sec", **pos),
                    delay_s=b.number("delay_sec", 0.0, lo=0.0),
                )
            )
            b.reject_unknown()
        arrival = BurstSequence(
            poisson=poisson, baseline_ops=tab.number("baseline_ops", **pos), bursts=tuple(specs)
        )
    elif kind == "ramp":
        shape = tab.string("shape", "linear", choices=("linear", "geometric"))
        lo_open = shape == "geometric"
        arrival = Ramp(
            poisson=poisson,
            start_ops=tab.number("start_ops", lo=0.0, lo_open=lo_open),
            end_ops=tab.number("end_ops", lo=0.0, lo_open=lo_open),
            ramp_s=tab.number("ramp_sec", None, **pos) if tab.has("ramp_sec") else None,
            steps=tab.integer("steps", 0, lo=0),
            shape=shape,
        )
    else:  # composite
        parts = []
        for sub in tab.tables("patterns"):
            weight = sub.number("weight", 1.0, lo=0.0)
            parts.append((parse_arrival(sub, clock, child=True), weight))
        arrival = Composite(poisson=poisson, parts=tuple(parts))
    if child:
        tab.raw("weight")
    tab.reject_unknown()
    return arrival


def poisson_offsets(rate_per_s: float, count: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """``count`` arrival offsets of a homogeneous Poisson process with ``rate_per_s`` (ascending).

    Gaps are independent exponentials with mean ``1 / rate_per_s``; the first arrival is one gap
    after time zero, as in a process observed from its start.
    """
    if not rate_per_s > 0:
        raise ValueError(f"rate_per_s must be positive, got {rate_per_s}")
    if count < 0:
        raise ValueError(f"count must be non-negative, got {count}")
    return np.cumsum(rng.exponential(1.0 / rate_per_s, size=count))
