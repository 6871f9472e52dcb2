"""Session results: several scenario runs, every check and test outcome in one loadable directory."""

from __future__ import annotations

import json
from pathlib import Path

from engram_harness import runs
from engram_harness.checks import Check
from engram_harness.driver import RunResult
from engram_harness.report import write_report
from engram_harness.runs import SessionResults, TestOutcome, write_session_results
from engram_harness.scenarios import Scenario


def test_session_directory_round_trip(small_run: tuple[Scenario, RunResult], results_root: Path) -> None:
    sc, res = small_run
    session = SessionResults(results_root, "quick", simd_level=lambda: "avx2")
    first = session.add_run(res, scenario=sc, profile_scale=0.5)
    second = session.add_run(res, scenario=sc)
    assert (first.name, second.name) == ("small", "small-2")
    checks = [Check("p99", 3.0, 5.0, "<=", "ms", suite="perf.py"), Check("x", 2.0, 1.0, "<=", suite="w.py")]
    tests = [TestOutcome("a::t1", "passed", 1.5), TestOutcome("a::t2", "failed", 0.1, "AssertionError")]
    run_dir = write_session_results(results_root, "quick", checks, session=session, tests=tests,
                                    pytest_args=["acceptance", "--profile", "quick"])  # fmt: skip
    assert run_dir == results_root / session.run_id and runs.latest_run(results_root) == run_dir

    run = runs.load(run_dir)
    m = run.manifest
    assert m["kind"] == "acceptance" and m["profile"] == "quick" and m["seed"] == 5
    assert m["seeds"] == {"small": 5, "small-2": 5} and m["scenario"]["runs"] == [
        "runs/small",
        "runs/small-2",
    ]
    assert (
        m["machine"]["simd_level"] == "avx2" and "commit" in m["git"] and m["pytest_args"][0] == "acceptance"
    )
    for key in ("cpu_model", "logical_cores", "memory_bytes", "kernel", "python", "cxx_compiler"):
        assert key in m["machine"]
    assert run.scenarios == ["small", "small-2"]
    assert set(run.windows["scenario"]) == {"small", "small-2"}
    assert len(run.ops) == 2 * len(runs.load(first).ops)
    assert run.histogram("all").total == 2 * len(res) - 2 * res.errors
    assert run.histogram("all", "small").total == len(res) - res.errors
    assert list(run.checks["suite"]) == ["perf.py", "w.py"] and list(run.checks["passed"]) == [True, False]
    assert list(run.tests["outcome"]) == ["passed", "failed"]
    assert len(run.latencies) == 2 * len(res)
    s = json.loads((run_dir / "summary.json").read_text())
    assert s["passed"] is False and s["failed_checks"] == ["w.py: x"] and s["failed_tests"] == ["a::t2"]
    assert s["operations"] == 2 * len(res) and set(s["scenarios"]) == {"small", "small-2"}

    files = write_report(run_dir)
    md = files.markdown.read_text()
    assert "## Tests" in md and "w.py" in md and "small-2" in md


def test_session_without_scenario_runs_still_loads(results_root: Path) -> None:
    run_dir = write_session_results(results_root, "full", [Check("ok", 1.0, 1.0, "==", suite="s.py")])
    run = runs.load(run_dir)
    assert run.passed and len(run.ops) == 0 and run.manifest["seed"] is None
    assert run.histogram("all").total == 0
    write_report(run_dir, figures=True)


def test_scenario_names_become_safe_unique_directories(
    small_run: tuple[Scenario, RunResult], results_root: Path
) -> None:
    _, res = small_run
    session = SessionResults(results_root, "quick")
    assert session.add_run(res, name="../odd name/").name == "odd-name"
    assert session.add_run(res, name="odd name").name == "odd-name-2"
    assert all(p.parent == session.run_dir / "runs" for p in session.run_dirs)
