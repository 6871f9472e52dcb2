"""Workloads: scenarios loaded from TOML, deterministic schedules, an open-loop driver and latency
histograms.

>>> from engram.workloads import load_scenario, build_schedule  # doctest: +SKIP
>>> sched = build_schedule(load_scenario("acceptance/scenarios/baseline.toml"), profile_scale=0.1)
"""

from engram.workloads.arrival import (
    Arrival,
    Bursts,
    BurstSequence,
    BurstSpec,
    Composite,
    Constant,
    Diurnal,
    PeriodicBurst,
    Ramp,
    arrival_times,
)
from engram.workloads.checks import Check, evaluate
from engram.workloads.clock import Clock
from engram.workloads.driver import OpenLoopDriver, run_schedule, stderr_progress
from engram.workloads.embeddings import EmbeddingSpec
from engram.workloads.errors import ScenarioError
from engram.workloads.fake_target import InMemoryTarget
from engram.workloads.histogram import LatencyHistogram
from engram.workloads.keys import KeyPopularity, sample_zipf, zipf_pmf
from engram.workloads.mix import OperationMix, Phase
from engram.workloads.ops import OP_NAMES, Op
from engram.workloads.params import OpParams
from engram.workloads.result import ABANDONED, NOT_STARTED, RunResult
from engram.workloads.scenario import Scenario, load_scenario, parse_scenario
from engram.workloads.schedule import Schedule, build_schedule
from engram.workloads.spaces import Spaces
from engram.workloads.target import Target
from engram.workloads.thresholds import Thresholds
from engram.workloads.windows import compute_windows

__all__ = [
    "ABANDONED",
    "NOT_STARTED",
    "OP_NAMES",
    "Arrival",
    "BurstSequence",
    "BurstSpec",
    "Bursts",
    "Check",
    "Clock",
    "Composite",
    "Constant",
    "Diurnal",
    "EmbeddingSpec",
    "InMemoryTarget",
    "KeyPopularity",
    "LatencyHistogram",
    "Op",
    "OpParams",
    "OpenLoopDriver",
    "OperationMix",
    "PeriodicBurst",
    "Phase",
    "Ramp",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Schedule",
    "Spaces",
    "Target",
    "Thresholds",
    "arrival_times",
    "build_schedule",
    "compute_windows",
    "evaluate",
    "load_scenario",
    "parse_scenario",
    "run_schedule",
    "sample_zipf",
    "stderr_progress",
    "zipf_pmf",
]
