"""Ramp runner with stop rules, and what a ramp's steps say: the breaking point, the maximum
sustainable rate under a P99 bound, and the knee of the latency curve.

A ramp offers rising constant rates, one step each, and stops at the first step that breaks a stop
rule (requirements 005: P99 > 100 ms or error rate > 5 %), at the last rate, or at a deadline. The
step function is injected, so the rules and the analysis run on synthetic steps in unit tests.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    """One ramp step: what was offered and what came back (server CPU optional)."""

    offered: float  # ops/s
    achieved: float  # successful ops per second of wall time
    p99_ms: float  # over every operation type (pooled) -- see ``p99_max_over_ops_ms``
    error_rate: float  # failed / sent (every error class, NotStarted and timeouts included)
    ops: int = 0
    server_cpu_s: float = math.nan
    wall_s: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def server_cores(self) -> float:
        """Server CPU seconds per wall second (NaN when not measured)."""
        return self.server_cpu_s / self.wall_s if self.wall_s > 0 else math.nan


@dataclass(frozen=True)
class StopRule:
    """requirements 005: stop when P99 exceeds ``p99_ms`` or the error rate exceeds ``error_rate``."""

    p99_ms: float = 100.0
    error_rate: float = 0.05

    def broken(self, step: Step) -> str | None:
        """Why ``step`` breaks the rule (None when it does not). A step that measured no latency
        (NaN P99: every operation failed) breaks it too."""
        if not step.error_rate <= self.error_rate:
            return f"error rate {step.error_rate:.1%} > {self.error_rate:.0%}"
        if not step.p99_ms <= self.p99_ms:
            return f"P99 {step.p99_ms:.1f} ms > {self.p99_ms:g} ms"
        return None


@dataclass
class Ramp:
    steps: list[Step]
    stop_reason: str  # "P99 ...", "error rate ...", "last rate", "deadline"
    rule: StopRule
    #: Steps between the last step that held and the first that broke (:func:`refine`), in run order.
    refinement: list[Step] = field(default_factory=list)

    def bracket(self) -> tuple[Step, Step] | None:
        """(the highest step that held, the lowest that broke above it), refinement included; None
        unless the ramp broke after a step that held."""
        if not self.broke or len(self.steps) < 2:
            return None
        held = [s for s in (self.steps[-2], *self.refinement) if self.rule.broken(s) is None]
        broke = [s for s in (self.steps[-1], *self.refinement) if self.rule.broken(s) is not None]
        lo = max(held, key=lambda s: s.offered)
        above = [s for s in broke if s.offered > lo.offered]
        return (lo, min(above, key=lambda s: s.offered)) if above else None

    @property
    def broke(self) -> bool:
        """Whether the ramp reached a breaking point (not the end of its rates or its deadline)."""
        return bool(self.steps) and self.rule.broken(self.steps[-1]) is not None


def geometric_rates(start: float, factor: float, limit: float) -> list[float]:
    """start, start*factor, ... up to ``limit`` (requirements 005 quick: x1.25 from 100 ops/s)."""
    if not (start > 0 and factor > 1 and limit >= start):
        raise ValueError(
            f"a geometric ramp needs 0 < start <= limit and factor > 1; got {start}, {factor}, {limit}"
        )
    out, r = [], float(start)
    while r <= limit * (1 + 1e-9):  # bounded: geometric up to limit
        out.append(round(r, 1))
        r *= factor
    return out


def linear_rates(start: float, increment: float, limit: float) -> list[float]:
    """start, start+increment, ... up to ``limit`` (requirements 005: +100 ops/s per step to 5,000)."""
    if not (start > 0 and increment > 0 and limit >= start):
        raise ValueError(
            f"a linear ramp needs 0 < start <= limit and increment > 0; got {start}, {increment}, {limit}"
        )
    n = math.floor((limit - start) / increment + 1e-9) + 1
    return [round(start + i * increment, 1) for i in range(n)]


def run_ramp(step: Callable[[float], Step], rates: Sequence[float], rule: StopRule | None = None, *,
             deadline_s: float = math.inf, clock: Callable[[], float] = time.monotonic) -> Ramp:  # fmt: skip
    """Run ``step(rate)`` for each rate until a step breaks ``rule``; bounded by the rates and by
    ``deadline_s`` (checked before each step, so a step never starts after it)."""
    rule = rule or StopRule()
    end = clock() + deadline_s
    steps: list[Step] = []
    for rate in rates:  # bounded by len(rates)
        if clock() >= end:
            return Ramp(steps, "deadline", rule)
        s = step(rate)
        steps.append(s)
        why = rule.broken(s)
        if why is not None:
            return Ramp(steps, why, rule)
    return Ramp(steps, "last rate", rule)


def refine(step: Callable[[float], Step], ramp: Ramp, iterations: int) -> Ramp:
    """Bisect (geometrically) between the last step that held and the first that broke,
    ``iterations`` times: a x1.25 ramp locates its breaking point within 25 %, two bisections within
    about 6 %, which a 10 % reproducibility rule needs. Bounded by ``iterations``."""
    for _ in range(iterations):
        b = ramp.bracket()
        if b is None:
            break
        ramp.refinement.append(step(math.sqrt(b[0].offered * b[1].offered)))
    return ramp


def breaking_point(ramp: Ramp) -> float:
    """The offered rate at which the stop rule is crossed, interpolated between the last step that
    held and the first that broke, so three ramps of coarse (x1.25) steps compare within their
    measurements rather than within a step. The crossing is where the breaking quantity reaches its
    limit: log P99 interpolated linearly (latency grows exponentially near saturation), or the error
    rate linearly. NaN when the ramp never broke, and when it broke at its first step: the breaking
    point then lies somewhere below the ramp, unmeasured (three such ramps would otherwise "agree"
    on their first rate)."""
    bracket = ramp.bracket()
    if bracket is None:
        return math.nan
    prev, last = bracket
    rule = ramp.rule
    fractions = []
    if not last.error_rate <= rule.error_rate:
        lo, hi = prev.error_rate, last.error_rate
        fractions.append((rule.error_rate - lo) / (hi - lo) if hi > lo else 1.0)
    if not last.p99_ms <= rule.p99_ms:
        if math.isfinite(last.p99_ms) and prev.p99_ms > 0:
            lo, hi = math.log(prev.p99_ms), math.log(last.p99_ms)
            fractions.append((math.log(rule.p99_ms) - lo) / (hi - lo) if hi > lo else 1.0)
        else:
            fractions.append(1.0)
    f = min(max(min(fractions), 0.0), 1.0)
    return prev.offered + f * (last.offered - prev.offered)


def max_sustainable(steps: Sequence[Step], p99_ms: float = 10.0, min_achieved: float = 0.95,
                    max_error_rate: float = 0.0) -> float:  # fmt: skip
    """The highest offered rate that was sustained: P99 below ``p99_ms``, at least ``min_achieved``
    of the offered rate delivered, errors at most ``max_error_rate``; and every lower step sustained
    as well (a rate that held only after one that did not is luck, not capacity). 0 when none."""
    best = 0.0
    for s in sorted(steps, key=lambda s: s.offered):
        ok = s.p99_ms < p99_ms and s.achieved >= min_achieved * s.offered and s.error_rate <= max_error_rate
        if not ok:
            break
        best = s.offered
    return best


def find_knee(steps: Sequence[Step]) -> Step | None:
    """The knee of the latency curve (Kneedle, Satopää et al. 2011): on offered rate against P99,
    both scaled to [0, 1], the step farthest below the chord from the first to the last step, i.e.
    the last rate before latency turns upward. Steps with no latency are left out; None with fewer
    than three steps (no curve to bend) or when no step lies below the chord (latency rising from
    the first step on: the knee is at or below the ramp's start)."""
    pts = [s for s in sorted(steps, key=lambda s: s.offered) if math.isfinite(s.p99_ms)]
    if len(pts) < 3:
        return None
    x = [s.offered for s in pts]
    y = [s.p99_ms for s in pts]
    x0, x1, y0, y1 = x[0], x[-1], min(y), max(y)
    if x1 <= x0 or y1 <= y0:
        return None
    xs = [(v - x0) / (x1 - x0) for v in x]
    ys = [(v - y0) / (y1 - y0) for v in y]
    # a convex (hockey-stick) latency curve lies below its chord; the knee is where the gap is largest
    c0, c1 = ys[0], ys[-1]
    gaps = [(c0 + (c1 - c0) * xv) - yv for xv, yv in zip(xs, ys, strict=True)]
    i = max(range(len(pts)), key=lambda k: gaps[k])
    return pts[i] if gaps[i] > 0 else None
