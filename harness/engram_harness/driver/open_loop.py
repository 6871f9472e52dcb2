"""Pure-Python open-loop load driver.

A dispatcher thread releases every operation at its intended start time into a bounded queue served
by a fixed pool of worker threads. Latency is measured from the *intended* start, so when the target
stalls, the operations queued behind the stall carry the delay they suffered (no coordinated
omission). Every loop is bounded in count (one pass over the schedule) and in time (a hard deadline
after the scheduled end); every failure is recorded with its exception type, and operations the
driver could not send or finish in time are recorded as ``NotStarted`` / ``Abandoned`` errors.
"""

from __future__ import annotations

import datetime as _dt
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from engram_harness.driver.result import ABANDONED, NOT_STARTED, RunResult
from engram_harness.driver.target import Target
from engram_harness.scenarios.ops import RECALL_MODES, Op
from engram_harness.scenarios.schedule import Schedule

ProgressFn = Callable[[int, int], None]

_BLOCK = 256  # embeddings materialised ahead of the dispatcher, this many rows at a time
_IDLE, _RUNNING, _DONE = 0, 1, 2


class _Errors:
    """Thread-safe error class registry: class name -> small integer code (0 = success)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.names: list[str] = [""]
        self.samples: dict[str, str] = {}

    def code(self, name: str, message: str = "") -> int:
        with self._lock:
            if name not in self.names:
                self.names.append(name)
                self.samples[name] = message[:500]
            return self.names.index(name)


def stderr_progress(done: int, total: int) -> None:
    """A one-line text progress bar on stderr."""
    width = 40
    frac = done / total if total else 1.0
    bar = "#" * int(frac * width)
    sys.stderr.write(f"\r[{bar:<{width}}] {done}/{total} ops")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


class OpenLoopDriver:
    """Execute a :class:`Schedule` against a :class:`Target`.

    ``workers``: size of the thread pool; ``queue_depth``: most operations waiting for a worker
    (the dispatcher waits beyond that, still measuring from intended starts); ``max_lag_s``: after the
    scheduled end, how long the dispatcher may keep sending late operations; ``drain_timeout_s``: how
    long to wait for operations in flight after that.
    """

    def __init__(
        self,
        target: Target,
        *,
        workers: int = 8,
        queue_depth: int | None = None,
        max_lag_s: float = 30.0,
        drain_timeout_s: float = 30.0,
        lead_in_s: float = 0.02,
        progress: bool | ProgressFn = False,
        clock: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.target = target
        self.workers = workers
        self.queue_depth = queue_depth if queue_depth is not None else 4 * workers
        self.max_lag_ns = int(max_lag_s * 1e9)
        self.drain_timeout_s = drain_timeout_s
        self.lead_in_ns = int(lead_in_s * 1e9)
        self.progress: ProgressFn | None = stderr_progress if progress is True else (progress or None)
        self.clock = clock

    # ------------------------------------------------------------------------------------------
    def preload(self, schedule: Schedule) -> None:
        """Remember the schedule's preloaded items (keys ``0..preload-1``), spread over the spaces."""
        n_sp = len(schedule.space_names)
        for start in range(0, schedule.preload, _BLOCK):
            keys = np.arange(start, min(start + _BLOCK, schedule.preload))
            vecs = schedule.embeddings.vectors(keys)
            for key, vec in zip(keys, vecs, strict=True):
                self.target.remember(schedule.space_names[int(key) % n_sp], int(key), vec, 1.0)

    def run(self, schedule: Schedule, *, preload: bool = True) -> RunResult:
        if preload and schedule.preload:
            self.preload(schedule)
        n = len(schedule)
        actual = np.full(n, -1, dtype=np.int64)
        latency = np.full(n, -1, dtype=np.int64)
        code = np.zeros(n, dtype=np.int16)
        state = np.zeros(n, dtype=np.int8)
        errors = _Errors()
        q: queue.Queue[tuple[int, np.ndarray] | None] = queue.Queue(maxsize=self.queue_depth)
        stop = threading.Event()
        started_at = _dt.datetime.now(_dt.timezone.utc).isoformat()
        t0 = self.clock() + self.lead_in_ns
        deadline = t0 + schedule.duration_ns + self.max_lag_ns
        starts = schedule.start_ns

        def worker() -> None:
            # bounded: each item is taken once; exits on the sentinel or when told to stop
            while not stop.is_set():
                try:
                    item = q.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is None:
                    return
                i, vec = item
                now = self.clock()
                if now > deadline:
                    code[i] = errors.code(NOT_STARTED, "run deadline passed before a worker was free")
                    state[i] = _DONE
                    continue
                actual[i] = now - t0
                state[i] = _RUNNING
                try:
                    self._execute(schedule, i, vec)
                except Exception as exc:  # classified, never dropped
                    code[i] = errors.code(type(exc).__name__, str(exc))
                latency[i] = self.clock() - (t0 + starts[i])
                state[i] = _DONE

        threads = [
            threading.Thread(target=worker, name=f"engram-load-{w}", daemon=True) for w in range(self.workers)
        ]
        for th in threads:
            th.start()

        vecs = schedule.vectors(np.arange(0, min(_BLOCK, n)))
        next_vecs = None
        last_progress = t0
        sent = 0
        for i in range(n):  # bounded by the schedule length
            b, r = divmod(i, _BLOCK)
            if r == 0 and i > 0:
                vecs = (
                    next_vecs if next_vecs is not None else schedule.vectors(np.arange(i, min(i + _BLOCK, n)))
                )
                next_vecs = None
            due = t0 + int(starts[i])
            now = self.clock()
            if next_vecs is None and (b + 1) * _BLOCK < n and due - now > 2_000_000:
                lo = (b + 1) * _BLOCK  # slack before this op: prepare the next block now
                next_vecs = schedule.vectors(np.arange(lo, min(lo + _BLOCK, n)))
                now = self.clock()
            if due > now:
                time.sleep((due - now) / 1e9)
            if not self._put(q, (i, vecs[r]), deadline):
                break
            sent = i + 1
            if self.progress is not None and self.clock() - last_progress > 1_000_000_000:
                last_progress = self.clock()
                self.progress(i + 1, n)

        for i in range(sent, n):  # never sent before the deadline: counted, not dropped
            code[i] = errors.code(NOT_STARTED, "run deadline passed before the operation was sent")
            state[i] = _DONE
        for _ in threads:
            self._put(q, None, self.clock() + int(self.drain_timeout_s * 1e9))
        join_until = time.monotonic() + self.drain_timeout_s
        for th in threads:
            th.join(timeout=max(0.0, join_until - time.monotonic()))
        stop.set()
        end = self.clock()
        # snapshot before touching anything a straggling worker might still write
        actual, latency, code, state = actual.copy(), latency.copy(), code.copy(), state.copy()
        stuck = state != _DONE
        ran = stuck & (actual >= 0)
        if ran.any():
            code[ran] = errors.code(
                ABANDONED, f"not finished {self.drain_timeout_s} s after the dispatch ended"
            )
            latency[ran] = end - (t0 + starts[ran])  # a lower bound
        queued = stuck & (actual < 0)
        if queued.any():  # sent but no worker ever took it
            code[queued] = errors.code(NOT_STARTED, "still queued when the driver stopped waiting")
        if self.progress is not None:
            self.progress(n, n)
        done = latency >= 0
        last = int((starts[done] + latency[done]).max()) if done.any() else 0
        return RunResult(
            scenario=schedule.scenario,
            seed=schedule.seed,
            executor="python-threads",
            op_names=schedule.op_names,
            space_names=schedule.space_names,
            op=schedule.op.copy(),
            space=schedule.space.copy(),
            intended_start_ns=starts.copy(),
            actual_start_ns=actual,
            latency_ns=latency,
            error_code=code,
            error_classes=tuple(errors.names),
            duration_s=schedule.duration_s,
            wall_time_s=max(last, schedule.duration_ns) / 1e9,
            started_at_utc=started_at,
            error_samples=dict(errors.samples),
        )

    # ------------------------------------------------------------------------------------------
    def _put(self, q: queue.Queue[Any], item: Any, deadline: int) -> bool:
        """Put with a bounded wait: False when ``deadline`` passed first."""
        while True:  # bounded by the deadline
            remaining = (deadline - self.clock()) / 1e9
            if remaining <= 0:
                return False
            try:
                q.put(item, timeout=min(remaining, 0.1))
                return True
            except queue.Full:
                continue

    def _execute(self, s: Schedule, i: int, vec: np.ndarray) -> None:
        op = Op(int(s.op[i]))
        space = s.space_names[int(s.space[i])]
        t = self.target
        if op is Op.REMEMBER:
            t.remember(space, int(s.key[i]), vec, float(s.confidence[i]))
        elif op in RECALL_MODES:
            t.recall(space, vec, RECALL_MODES[op], int(s.k[i]), float(s.threshold[i]))
        elif op is Op.SEARCH:
            t.search(space, vec, int(s.k[i]))
        elif op is Op.SPREAD:
            t.spread(space, int(s.key[i]), vec, int(s.k[i]), float(s.threshold[i]))
        elif op is Op.COMPLETE:
            partial = vec.copy()
            partial[1::2] = np.nan
            t.complete(space, partial, int(s.k[i]), float(s.threshold[i]))
        else:
            t.consolidate(space)


def run_schedule(target: Target, schedule: Schedule, **options: Any) -> RunResult:
    """Shorthand for ``OpenLoopDriver(target, **options).run(schedule)``."""
    return OpenLoopDriver(target, **options).run(schedule)
