from __future__ import annotations

from pathlib import Path

import pytest

from engram_harness.driver import InMemoryTarget, OpenLoopDriver, RunResult
from engram_harness.scenarios import Scenario, build_schedule, parse_scenario

SCENARIO = """
name = "small"
duration_s = 0.5
seed = 5
[arrival]
pattern = "constant"
rate = 400
[operations]
remember = 0.5
recall_episodic = 0.3
search = 0.2
[data]
dim = 16
[thresholds]
max_error_rate = 0.0
min_throughput = 300
[thresholds.p99_ms]
all = 1000
search = 0.000001   # impossible on purpose: one failing check
[thresholds.relative]
max_p99_increase = 0.05
max_throughput_decrease = 0.05
"""


@pytest.fixture(scope="session")
def small_run() -> tuple[Scenario, RunResult]:
    sc = parse_scenario(SCENARIO, "small.toml")
    return sc, OpenLoopDriver(InMemoryTarget(16), workers=2).run(build_schedule(sc))


@pytest.fixture
def results_root(tmp_path: Path) -> Path:
    return tmp_path / "results"
