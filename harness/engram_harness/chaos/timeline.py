"""Runs a :class:`ChaosScenario` on a timeline while a workload runs: each fault's injector is
entered at its start and exited at its end, on a background thread; every step is recorded (what
an operator would correlate with the server's metrics and logs)."""

from __future__ import annotations

import contextlib
import heapq
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from engram_harness.chaos.errors import ChaosError
from engram_harness.chaos.injectors import REGISTRY, ChaosTarget
from engram_harness.chaos.scenario import ChaosScenario, Fault


@dataclass
class TimelineEvent:
    t_s: float  # seconds since the run started, when it happened
    fault: int  # the fault's index in the scenario
    injector: str
    action: str  # "start" | "end" | "error"
    detail: str = ""


@dataclass
class ChaosRunner:
    """``with ChaosRunner(scenario, target) as run: ...workload...; run.wait()``. Leaving the block
    ends every active fault (in reverse order of start) and raises the first injector error."""

    scenario: ChaosScenario
    target: ChaosTarget
    events: list[TimelineEvent] = field(default_factory=list)
    clock: Any = time.monotonic

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._failed = threading.Event()
        self._active: dict[int, contextlib.AbstractContextManager[Any]] = {}
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name="chaos-timeline", daemon=True)
        self._t0 = 0.0

    @property
    def started_at(self) -> float:
        """The clock's reading when the run started (events' ``t_s`` count from it)."""
        return self._t0

    def elapsed(self) -> float:
        return self.clock() - self._t0

    def _record(self, f: Fault, action: str, detail: str = "") -> None:
        self.events.append(TimelineEvent(self.elapsed(), f.index, f.injector, action, detail))

    def _begin(self, f: Fault) -> None:
        cm = REGISTRY[f.injector].apply(self.target, f.params)
        cm.__enter__()
        self._active[f.index] = cm
        self._record(f, "start", repr(f.params))
        if REGISTRY[f.injector].instantaneous:
            self._end(f)

    def _end(self, f: Fault) -> None:
        cm = self._active.pop(f.index, None)
        if cm is not None:
            cm.__exit__(None, None, None)
            self._record(f, "end")

    def _run(self) -> None:
        # (time, order, start?, fault): ends sort before starts at the same instant
        queue: list[tuple[float, int, int, Fault]] = []
        for f in self.scenario.faults:
            queue.append((f.at_s, 1, f.index, f))
            if not REGISTRY[f.injector].instantaneous:
                queue.append((f.end_s, 0, f.index, f))
        heapq.heapify(queue)
        while queue and not self._stop.is_set():  # bounded by the scenario's faults
            at, is_start, _, f = heapq.heappop(queue)
            if self._stop.wait(max(0.0, at - self.elapsed())):
                break
            try:
                self._begin(f) if is_start else self._end(f)
            except Exception as exc:  # recorded and raised when the run ends
                self._errors.append(exc)
                self._record(f, "error", f"{type(exc).__name__}: {exc}")
                self._failed.set()
                break

    def start(self) -> ChaosRunner:
        self._t0 = self.clock()
        self._thread.start()
        return self

    def wait(self) -> None:
        """Until the scenario's duration has passed, or an injector failed."""
        self._failed.wait(max(0.0, self.scenario.duration_s - self.elapsed()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)
        for index in sorted(self._active, reverse=True):
            f = next(f for f in self.scenario.faults if f.index == index)
            try:
                self._end(f)
            except Exception as exc:  # keep ending the others
                self._errors.append(exc)
        if self._errors:
            raise ChaosError(f"chaos scenario {self.scenario.name!r}: {self._errors[0]}") from self._errors[0]

    def __enter__(self) -> ChaosRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
