"""Watch the background consolidator and record every run's duration and time window.

The engine exposes, per space, a run counter and the end time (engine clock) and duration of the
last run (``consolidation_status()``). Polling much faster than the consolidation interval sees
every run; a counter that jumps by more than one between polls is recorded as ``missed`` rather
than silently ignored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ConsolidationRun:
    space: str
    started_at: float  # engine clock, seconds since the epoch
    ended_at: float
    duration_s: float


@dataclass
class ConsolidationMonitor:
    """Poll ``status()`` every ``poll_s`` seconds on a daemon thread between start() and stop()."""

    status: Callable[[], Mapping[str, Any]]
    poll_s: float = 0.02
    runs: list[ConsolidationRun] = field(default_factory=list)
    missed: int = 0
    errors: list[str] = field(default_factory=list)
    _last: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._poll()  # baseline counters: runs before start() are not this workflow's
        self.runs.clear()
        self._thread = threading.Thread(target=self._loop, name="consolidation-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        self._poll()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self._poll()
            except Exception as exc:  # reported by the workflow's zero-errors check
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def _poll(self) -> None:
        for name, s in dict(self.status().get("spaces", {})).items():
            count = int(s["runs"])
            before = self._last.get(name)
            self._last[name] = count
            if before is None or count == before:
                continue
            self.missed += count - before - 1
            end, dur = float(s["last_run_at"]), float(s["last_duration_s"])
            self.runs.append(ConsolidationRun(name, end - dur, end, dur))

    def durations_s(self) -> list[float]:
        return [r.duration_s for r in self.runs]

    def runs_of(self, space: str) -> list[ConsolidationRun]:
        return [r for r in self.runs if r.space == space]
