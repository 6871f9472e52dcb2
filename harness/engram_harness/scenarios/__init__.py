"""Scenarios: workloads described in TOML (arrival pattern, operation mix, data, thresholds) and
turned into deterministic schedules. :mod:`engram_harness.driver` runs a schedule against a target.

>>> from engram_harness.scenarios import load_scenario, build_schedule  # doctest: +SKIP
>>> sched = build_schedule(load_scenario("acceptance/scenarios/baseline.toml"), profile_scale=0.1)
"""

from engram_harness.scenarios.arrivals import (
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
    poisson_offsets,
)
from engram_harness.scenarios.clock import Clock
from engram_harness.scenarios.data import scenario_data
from engram_harness.scenarios.errors import ScenarioError
from engram_harness.scenarios.keys import KeyPopularity, sample_zipf, zipf_pmf
from engram_harness.scenarios.mix import OperationMix, Phase
from engram_harness.scenarios.ops import OP_NAMES, Op
from engram_harness.scenarios.params import OpParams
from engram_harness.scenarios.scenario import Scenario, load_scenario, parse_scenario
from engram_harness.scenarios.schedule import Schedule, build_schedule
from engram_harness.scenarios.spaces import Spaces
from engram_harness.scenarios.thresholds import Thresholds, evaluate

__all__ = [
    "OP_NAMES",
    "Arrival",
    "BurstSequence",
    "BurstSpec",
    "Bursts",
    "Clock",
    "Composite",
    "Constant",
    "Diurnal",
    "KeyPopularity",
    "Op",
    "OpParams",
    "OperationMix",
    "PeriodicBurst",
    "Phase",
    "Ramp",
    "Scenario",
    "ScenarioError",
    "Schedule",
    "Spaces",
    "Thresholds",
    "arrival_times",
    "build_schedule",
    "evaluate",
    "load_scenario",
    "parse_scenario",
    "poisson_offsets",
    "sample_zipf",
    "scenario_data",
    "zipf_pmf",
]
