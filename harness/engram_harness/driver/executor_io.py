"""What the C++ open-loop executors take and give back: the schedule's columns in the order
``engram._core.run_schedule`` and ``run_schedule_http`` read them, and their per-operation
outcome as a :class:`RunResult` (both executors fill the same arrays)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from engram_harness.driver.result import RunResult
from engram_harness.scenarios.schedule import Schedule


def utc_now() -> str:
    """The run's ``started_at_utc``."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat()


def preload_batches(schedule: Schedule, batch: int) -> Iterator[tuple[int, npt.NDArray[Any], list[str]]]:
    """The schedule's preloaded items (keys ``0..preload-1``) in batches of at most ``batch`` keys,
    each split over the spaces by key modulo their count: (space index, vectors, contents)."""
    n_sp = len(schedule.space_names)
    for start in range(0, schedule.preload, batch):
        keys = np.arange(start, min(start + batch, schedule.preload))
        vecs = schedule.embeddings.vectors(keys)
        for s in range(n_sp):
            sel = keys % n_sp == s
            if sel.any():
                yield s, vecs[sel], [f"load item {int(k)}" for k in keys[sel]]


def schedule_columns(schedule: Schedule) -> tuple[npt.NDArray[Any], ...]:
    """start_ns, op, space, vectors, k, threshold, confidence: the executors' positional columns
    (NaN parameters become their neutral values: threshold 0, confidence 1)."""
    return (
        schedule.start_ns,
        schedule.op,
        schedule.space,
        schedule.vectors(np.arange(len(schedule))),
        schedule.k,
        np.nan_to_num(schedule.threshold, nan=0.0).astype(np.float32),
        np.nan_to_num(schedule.confidence, nan=1.0).astype(np.float32),
    )


def executor_result(
    schedule: Schedule,
    field: Callable[[str], Any],
    *,
    executor: str,
    error_classes: tuple[str, ...],
    started_at_utc: str,
    error_samples: dict[str, str] | None = None,
) -> RunResult:
    """The :class:`RunResult` of an executor's outcome; ``field(name)`` reads one of its columns
    (``actual_start_ns``, ``latency_ns``, ``error_code``) or ``wall_ns``."""
    return RunResult(
        scenario=schedule.scenario,
        seed=schedule.seed,
        executor=executor,
        op_names=schedule.op_names,
        space_names=schedule.space_names,
        op=schedule.op.copy(),
        space=schedule.space.copy(),
        intended_start_ns=schedule.start_ns.copy(),
        actual_start_ns=np.asarray(field("actual_start_ns"), dtype=np.int64),
        latency_ns=np.asarray(field("latency_ns"), dtype=np.int64),
        error_code=np.asarray(field("error_code"), dtype=np.int16),
        error_classes=error_classes,
        duration_s=schedule.duration_s,
        wall_time_s=float(field("wall_ns")) / 1e9,
        started_at_utc=started_at_utc,
        error_samples=error_samples or {},
    )
