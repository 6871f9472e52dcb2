"""The reference baseline scenario, measured in-process as the project's own baseline.

Constant 1,000 ops/s, 50 % remember / 42.5 % recall / 7.5 % search, 768-d clustered embeddings
(requirements section 3). Quick profile: the first 10 s of the schedule; full: all 60 s. Runs on
C++ worker threads with the GIL released; latency is measured from each intended start.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import engram
from engram.acceptance import CheckRecorder, Profile
from engram.results import write_run
from engram.workloads import build_schedule, evaluate, load_scenario
from engram.workloads.inprocess import run_inprocess

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.toml"

pytestmark = pytest.mark.phase1


def test_baseline_inprocess(profile: Profile, checks: CheckRecorder, request: pytest.FixtureRequest) -> None:
    scenario = load_scenario(SCENARIO)
    scale = profile.pick(quick=10 / 60, full=1.0)
    schedule = build_schedule(scenario, profile_scale=scale)
    with engram.Engine(path=None, dim=scenario.data.dim) as eng:
        result = run_inprocess(schedule, eng, threads=2)
        stored = sum(len(eng.space(n)) for n in eng.spaces())
        integrity = [eng.space(n).validate() for n in eng.spaces()]

    verdicts = evaluate(scenario.thresholds, result.op_summary())
    for v in verdicts:
        checks.add(v)
    remembered = schedule.counts()["remember"] - int(((result.op == 0) & result.failed).sum())
    checks.check("stored memories == acknowledged remembers", stored - remembered, "==", 0)
    checks.check("index integrity problems", sum(not i["ok"] for i in integrity), "==", 0)
    run_dir = write_run(
        result, scenario=scenario, root=request.config.getoption("--results-dir"), profile=profile.name,
        profile_scale=scale, checks=verdicts, simd_level=engram.simd_level,
    )  # fmt: skip
    print(f"baseline run written to {run_dir}")
    checks.assert_all()
