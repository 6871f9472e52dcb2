"""The scenario clock: maps run time to an hour of day (for diurnal rates and time-of-day mixes)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from engram_harness.scenarios.toml_table import Table


@dataclass(frozen=True)
class Clock:
    """``day_seconds`` of run time make one day (86,400 in real time; 60 compresses a day into a
    minute); the run starts at ``start_hour``."""

    day_seconds: float = 86_400.0
    start_hour: float = 0.0

    def hour_at(self, t_s: npt.ArrayLike) -> npt.NDArray[np.float64]:
        t = np.asarray(t_s, dtype=np.float64)
        return np.mod(self.start_hour + 24.0 * t / self.day_seconds, 24.0)

    def scaled(self, factor: float) -> Clock:
        return replace(self, day_seconds=self.day_seconds * factor)


def parse_clock(tab: Table) -> Clock:
    clock = Clock(
        day_seconds=tab.number("day_seconds", 86_400.0, lo=0.0, lo_open=True),
        start_hour=tab.number("start_hour", 0.0, lo=0.0, hi=24.0),
    )
    tab.reject_unknown()
    return clock
