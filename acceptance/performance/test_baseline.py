"""The reference baseline scenario, measured in process as the project's own baseline, and over
HTTP against the seeds' absolute budget.

Constant 1,000 ops/s, 50 % remember / 42.5 % recall / 7.5 % search, 768-d clustered embeddings
(requirements section 3). In process: quick profile the first 10 s of the schedule, full all 60 s,
on C++ worker threads with the GIL released. Over HTTP: quick profile 20 s, full 60 s, nothing
preloaded (as the seeds wrote the scenario), a real server started by engram_harness.server and the
C++ executor's HTTP target (keep-alive connections). Latency is measured from each intended start.
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
from pathlib import Path

import pytest

import engram
from engram_harness.bench.http import run_schedule_over_http, server_command
from engram_harness.driver.inprocess import run_inprocess
from engram_harness.driver.native_http import available as http_target_available
from engram_harness.scenarios import Thresholds, build_schedule, evaluate, load_scenario
from engram_harness.server import running_server_process
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


#: The seeds' absolute budget, measured over HTTP (requirements sections 2-3, M18.1); "all" is the
#: maximum over operation types, as the reference reported its overall percentiles. Never loosened.
SEEDS_BUDGET = Thresholds(
    max_error_rate=0.0,
    min_throughput=949.9,
    latency_ms={("p99_ms", "all"): 0.526, ("p95_ms", "all"): 0.458},
)


def _server_software(url: str) -> str:
    with urllib.request.urlopen(url + "/health/live", timeout=5) as r:
        return str(r.headers.get("Server", ""))


@pytest.mark.skipif(not http_target_available(), reason="engram built without the HTTP load target (Boost)")
def test_baseline_http(profile: Profile, checks: CheckRecorder, session_results: SessionResults) -> None:
    scenario = load_scenario(SCENARIO)
    scale = profile.pick(quick=20 / 60, full=1.0)
    schedule = build_schedule(scenario, profile_scale=scale)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as logs, running_server_process(
        None, log_dir=logs, command=server_command(), no_auth=True, dim=scenario.data.dim,
        log_level="warning", max_inflight=1024,
    ) as sp:  # fmt: skip
        software = _server_software(sp.url)
        result, resources = run_schedule_over_http(
            scenario, schedule, sp.url, connections=16, server_pid=sp.proc.pid
        )
        from engram.client import Client

        with Client(sp.url) as client:
            stored = sum(len(client.space(n)) for n in schedule.space_names)

    host = f"host load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} logical CPUs"
    cpu = (f"CPU per op: driver {resources['driver_cpu_ms_per_op']:.3f} ms, "
           f"server {resources['server_cpu_ms_per_op']:.3f} ms ({software or 'unknown server'})")  # fmt: skip
    verdicts = evaluate(SEEDS_BUDGET, result.op_summary())
    for v in verdicts:
        checks.add(v, note=f"{v.detail}; {host}; {cpu}" if v.unit == "ms" else cpu)
    remembered = schedule.counts()["remember"] - int(((result.op == 0) & result.failed).sum())
    checks.check("stored memories == acknowledged remembers (HTTP)", stored - remembered, "==", 0)
    run_dir = session_results.add_run(
        result, scenario=scenario, name="baseline-http", profile_scale=scale, checks=verdicts,
        extra={"host": host, "server": software, **resources},
    )  # fmt: skip
    print(f"baseline over HTTP written to {run_dir}; {cpu}; {host}")
    missed = [v.describe().removeprefix("FAIL ") for v in verdicts if not v.passed]
    if missed and profile.quick:
        # Known gaps, never a loosened threshold: the engine alone is above 0.526 ms P99 in process
        # (issue 18, engine performance), and engramd adds about 1 ms at P99 on two shared cores
        # (issue 13; docs/performance.md). The full profile fails on them.
        pytest.xfail("seeds' HTTP budget not met (issue 18: engine P99 above 0.526 ms in process; issue 13: "
                     f"server overhead over HTTP): {'; '.join(missed)}; {cpu}; {host}")  # fmt: skip
    checks.assert_all()
