"""Operation mix: relative weights per operation type, optionally different per time-of-day phase."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engram_harness.scenarios.ops import OP_ALIASES, OP_NAMES, Op, op_from_name
from engram_harness.scenarios.toml_table import Table


@dataclass(frozen=True)
class Phase:
    """Weights that apply while the scenario clock's hour of day is in ``[start_hour, end_hour)``."""

    start_hour: float
    end_hour: float
    weights: tuple[float, ...]  # normalised, indexed by Op


@dataclass(frozen=True)
class OperationMix:
    weights: tuple[float, ...] | None  # normalised, indexed by Op; None when only phases are given
    phases: tuple[Phase, ...] = field(default_factory=tuple)

    def weights_at(self, hour: float) -> tuple[float, ...]:
        for ph in self.phases:
            if ph.start_hour <= hour < ph.end_hour:
                return ph.weights
        assert self.weights is not None
        return self.weights

    def sample(
        self, rng: np.random.Generator, hours: npt.NDArray[np.float64] | None, n: int
    ) -> npt.NDArray[np.uint8]:
        """One op code per operation; ``hours`` (hour of day per op) selects the phase."""
        table = [self.weights if self.weights is not None else self.phases[0].weights]
        table += [p.weights for p in self.phases]
        cum = np.cumsum(np.asarray(table, dtype=np.float64), axis=1)
        cum[:, -1] = 1.0 + 1e-12  # guard against rounding: every draw lands somewhere
        row = np.zeros(n, dtype=np.int64)
        if self.phases and hours is not None:
            for i, ph in enumerate(self.phases, start=1):
                row[(hours >= ph.start_hour) & (hours < ph.end_hour) & (row == 0)] = i
        u = rng.random(n)
        # op = number of cumulative bounds <= u: a zero-weight op has an empty interval, never chosen
        ops = (u[:, None] >= cum[row]).sum(axis=1)
        return ops.astype(np.uint8)


def _weights(tab: Table, *, skip: tuple[str, ...]) -> tuple[float, ...] | None:
    w = [0.0] * len(Op)
    seen = False
    for key in list(tab.data):
        if key in skip:
            continue
        try:
            op = op_from_name(key)
        except KeyError:
            raise tab.error(key, tab.data[key], f"an operation weight, one of {sorted(OP_ALIASES)}") from None
        w[op] += tab.number(key, lo=0.0)
        seen = True
    if not seen:
        return None
    total = sum(w)
    if total <= 0:
        raise tab.error(OP_NAMES[0], 0.0, "operation weights with a positive sum")
    return tuple(x / total for x in w)


def parse_mix(tab: Table) -> OperationMix:
    """``[operations]``: ``remember = 0.5`` ... plus optional ``[[operations.phases]] hours = [a, b]``."""
    phases: list[Phase] = []
    if tab.has("phases"):
        for sub in tab.tables("phases"):
            lo, hi = sub.pair("hours")
            if not (0 <= lo < hi <= 24):
                raise sub.error("hours", [lo, hi], "[start, end] hours with 0 <= start < end <= 24")
            for other in phases:
                if lo < other.end_hour and other.start_hour < hi:
                    raise sub.error("hours", [lo, hi], "hours that do not overlap another phase")
            ws = _weights(sub, skip=("hours",))
            if ws is None:
                raise sub.error("remember", None, "at least one operation weight in the phase")
            phases.append(Phase(float(lo), float(hi), ws))
    base = _weights(tab, skip=("phases",))
    if base is None:
        covered = sum(p.end_hour - p.start_hour for p in phases)
        if covered < 24:
            raise tab.error(
                "remember", None, "base operation weights, or phases that cover all 24 hours of the day"
            )
    return OperationMix(base, tuple(sorted(phases, key=lambda p: p.start_hour)))
