"""Execute a schedule in-process on C++ worker threads (engram._core.run_schedule).

The GIL is released for the whole run, so Python never caps the offered load; latency is measured
from each operation's intended start, exactly as the pure-Python driver does.
"""

from __future__ import annotations

from engram import _core
from engram.engine import Engine
from engram_harness.driver.executor_io import executor_result, schedule_columns, utc_now
from engram_harness.driver.result import RunResult
from engram_harness.scenarios.schedule import Schedule


def run_inprocess(
    schedule: Schedule, engine: Engine, *, threads: int = 2, grace_s: float = 30.0
) -> RunResult:
    """Run ``schedule`` against ``engine`` (its spaces are created when missing).

    Operations not started within ``duration + grace_s`` are reported as ``NotStarted`` errors.
    """
    if schedule.preload:
        raise ValueError("run_inprocess does not preload; remember the preload items first")
    spaces = []
    for name in schedule.space_names:
        spaces.append((engine.space(name) if name in engine.spaces() else engine.create_space(name))._core)
    columns = schedule_columns(schedule)
    started = utc_now()
    out = _core.run_schedule(spaces, *columns, int(threads), int(schedule.duration_ns + grace_s * 1e9))
    # The gate runs this harness against older builds too, whose run_schedule returned a dict.
    field = out.__getitem__ if isinstance(out, dict) else lambda name: getattr(out, name)
    return executor_result(
        schedule,
        field,
        executor=f"inprocess-cpp-{threads}t",
        error_classes=tuple(_core.LOAD_ERROR_CLASSES),
        started_at_utc=started,
    )
