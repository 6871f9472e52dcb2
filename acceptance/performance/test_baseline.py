"""The reference baseline scenario, measured in-process as the project's own baseline.

Constant 1,000 ops/s, 50 % remember / 42.5 % recall / 7.5 % search, 768-d clustered embeddings
(requirements section 3). Quick profile: the first 10 s of the schedule; full: all 60 s. Runs on
C++ worker threads with the GIL released; latency is measured from each intended start.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import engram
from engram_harness.driver.inprocess import run_inprocess
from engram_harness.scenarios import build_schedule, evaluate, load_scenario
from engram_harness.suite import CheckRecorder, Profile, SessionResults

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.toml"

pytestmark = pytest.mark.phase1


def test_baseline_inprocess(profile: Profile, checks: CheckRecorder, session_results: SessionResults) -> None:
    scenario = load_scenario(SCENARIO)
    scale = profile.pick(quick=10 / 60, full=1.0)
    schedule = build_schedule(scenario, profile_scale=scale)
    load_before = os.getloadavg()[0]
    with engram.Engine(path=None, dim=scenario.data.dim) as eng:
        result = run_inprocess(schedule, eng, threads=2)
        stored = sum(len(eng.space(n)) for n in eng.spaces())
        integrity = [eng.space(n).validate() for n in eng.spaces()]

    # Other processes on the host compete with the two executor threads: say how busy it was.
    host = f"host load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} logical CPUs"
    verdicts = evaluate(scenario.thresholds, result.op_summary())
    for v in verdicts:
        checks.add(v, note=f"{v.detail}; {host}" if v.unit == "ms" else "")
    remembered = schedule.counts()["remember"] - int(((result.op == 0) & result.failed).sum())
    checks.check("stored memories == acknowledged remembers", stored - remembered, "==", 0)
    checks.check("index integrity problems", sum(not i["ok"] for i in integrity), "==", 0)
    run_dir = session_results.add_run(
        result, scenario=scenario, profile_scale=scale, checks=verdicts, extra={"host": host}
    )
    print(f"baseline run written to {run_dir}")
    checks.assert_all()
