"""The open-loop driver: runs a :class:`~engram_harness.scenarios.Schedule` against a target (the
engine in process, ``engram serve`` over HTTP, or an in-memory fake), measuring every operation's
latency from its intended start, and the results it produces (latency histograms, windows)."""

from engram_harness.driver.histogram import LatencyHistogram
from engram_harness.driver.in_memory import InMemoryTarget
from engram_harness.driver.open_loop import OpenLoopDriver, run_schedule, stderr_progress
from engram_harness.driver.result import ABANDONED, NOT_STARTED, RunResult
from engram_harness.driver.target import Target
from engram_harness.driver.windows import compute_windows

__all__ = [
    "ABANDONED",
    "NOT_STARTED",
    "InMemoryTarget",
    "LatencyHistogram",
    "OpenLoopDriver",
    "RunResult",
    "Target",
    "compute_windows",
    "run_schedule",
    "stderr_progress",
]
