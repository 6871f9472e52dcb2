"""Run a long schedule over HTTP in consecutive segments, so that memory holds two segments'
embeddings instead of the whole run's.

Why: the C++ executor (:func:`engram_harness.driver.native_http.run_http`) takes every operation's
embedding before it starts; an hour at 1,000 ops/s of 768-d float32 vectors is 11 GiB, workflow 110's
24 h soak 265 GiB. Segments of ``segment_s`` run back to back, each over fresh keep-alive connections,
and the next segment's columns are built in a thread while the current one runs (the run releases the
GIL). Each segment's intended and actual starts are placed on one timeline from its measured start, so
per-window statistics read real time; the seam between segments (the last responses of one, the
connections of the next: milliseconds) is part of that timeline, not hidden.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from engram_harness.driver.executor_io import schedule_columns
from engram_harness.driver.native_http import HttpRun, run_http
from engram_harness.driver.result import RunResult
from engram_harness.scenarios.schedule import Schedule

__all__ = [
    "DEFAULT_MAX_VECTOR_BYTES",
    "concat_runs",
    "run_http_segmented",
    "segment_bounds",
    "slice_schedule",
]

#: A schedule whose embeddings fit in this many bytes runs in one piece, exactly as ``run_http``.
DEFAULT_MAX_VECTOR_BYTES = 2 * 2**30


def segment_bounds(duration_ns: int, segment_ns: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` intervals of at most ``segment_ns`` covering ``[0, duration_ns)``."""
    if segment_ns <= 0 or duration_ns <= 0:
        raise ValueError(f"duration and segment must be > 0 ns, got {duration_ns} and {segment_ns}")
    return [(lo, min(lo + segment_ns, duration_ns)) for lo in range(0, duration_ns, segment_ns)]


def slice_schedule(schedule: Schedule, lo_ns: int, hi_ns: int) -> Schedule:
    """The operations intended in ``[lo_ns, hi_ns)``, their starts shifted to begin at 0 (no preload)."""
    i, j = (int(x) for x in np.searchsorted(schedule.start_ns, [lo_ns, hi_ns], side="left"))
    return dataclasses.replace(
        schedule, duration_ns=hi_ns - lo_ns, start_ns=schedule.start_ns[i:j] - lo_ns, op=schedule.op[i:j],
        space=schedule.space[i:j], key=schedule.key[i:j], k=schedule.k[i:j], threshold=schedule.threshold[i:j],
        confidence=schedule.confidence[i:j], preload=0,
    )  # fmt: skip


def concat_runs(schedule: Schedule, parts: Sequence[tuple[float, HttpRun]]) -> HttpRun:
    """One :class:`HttpRun` from segments run back to back: ``parts`` holds each segment's start (a
    ``time.monotonic`` reading: its return time minus its wall time) and its run. Starts move onto the
    first segment's clock, error codes onto one merged class list; CPU, bytes and connections add up."""
    if not parts:
        raise ValueError("no segments to join")
    t_first = parts[0][0]
    index: dict[str, int] = {"": 0}
    op, space, intended, actual, latency, codes = [], [], [], [], [], []
    samples: dict[str, str] = {}
    for t, run in parts:
        r = run.result
        off = round((t - t_first) * 1e9)
        remap = np.array([index.setdefault(c, len(index)) for c in r.error_classes], dtype=np.int16)
        codes.append(remap[r.error_code.astype(np.int64)])
        op.append(r.op)
        space.append(r.space)
        intended.append(r.intended_start_ns + off)
        actual.append(np.where(r.actual_start_ns >= 0, r.actual_start_ns + off, -1))
        latency.append(r.latency_ns)
        for c, msg in r.error_samples.items():
            samples.setdefault(c, msg)
    first, (t_last, last) = parts[0][1].result, parts[-1]
    result = RunResult(
        scenario=schedule.scenario, seed=schedule.seed, executor=f"{first.executor}-x{len(parts)}",
        op_names=first.op_names, space_names=first.space_names, op=np.concatenate(op), space=np.concatenate(space),
        intended_start_ns=np.concatenate(intended), actual_start_ns=np.concatenate(actual),
        latency_ns=np.concatenate(latency), error_code=np.concatenate(codes),
        error_classes=tuple(sorted(index, key=index.__getitem__)),
        duration_s=(t_last - t_first) + last.result.duration_s,
        wall_time_s=(t_last - t_first) + last.result.wall_time_s, started_at_utc=first.started_at_utc,
        error_samples=samples,
    )  # fmt: skip

    def total(name: str) -> Any:
        return sum(getattr(run, name) for _, run in parts)

    return HttpRun(
        result=result, driver_cpu_s=total("driver_cpu_s"), driver_process_cpu_s=total("driver_process_cpu_s"),
        server_cpu_s=total("server_cpu_s"), connections_opened=total("connections_opened"),
        bodies_prebuilt=total("bodies_prebuilt"), prebuild_cpu_s=total("prebuild_cpu_s"),
        bytes_sent=total("bytes_sent"), bytes_received=total("bytes_received"),
    )  # fmt: skip


def _prepare(schedule: Schedule, bounds: tuple[int, int]) -> tuple[Schedule, tuple[npt.NDArray[Any], ...]]:
    seg = slice_schedule(schedule, *bounds)
    return seg, schedule_columns(seg)


def run_http_segmented(
    schedule: Schedule,
    url: str,
    *,
    segment_s: float = 300.0,
    max_vector_bytes: float = DEFAULT_MAX_VECTOR_BYTES,
    **kwargs: Any,
) -> HttpRun:
    """``run_http(schedule, url, **kwargs)``, in segments of ``segment_s`` when the schedule's embeddings
    exceed ``max_vector_bytes`` (else in one piece, the same call)."""
    if len(schedule) * schedule.embeddings.dim * 4 <= max_vector_bytes:
        return run_http(schedule, url, **kwargs)
    bounds = segment_bounds(schedule.duration_ns, round(segment_s * 1e9))
    parts: list[tuple[float, HttpRun]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="segment-prep") as pool:
        upcoming = pool.submit(_prepare, schedule, bounds[0])
        for i in range(len(bounds)):
            seg, cols = upcoming.result()
            if i + 1 < len(bounds):
                upcoming = pool.submit(_prepare, schedule, bounds[i + 1])
            run = run_http(seg, url, columns=cols, **kwargs)
            parts.append((time.monotonic() - run.result.wall_time_s, run))
            del seg, cols
    return concat_runs(schedule, parts)
