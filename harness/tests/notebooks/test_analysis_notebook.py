"""``notebooks/analysis.ipynb`` runs from start to end on a small results directory made here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from engram_harness.gate import gate_verdicts
from engram_harness.report.notebook import execute_notebook
from engram_harness.runs import SessionResults, TestOutcome, layout
from engram_harness.checks import Check
from engram_harness.driver import InMemoryTarget, OpenLoopDriver
from engram_harness.scenarios import build_schedule, parse_scenario

ROOT = Path(__file__).resolve().parents[3]
NOTEBOOK = ROOT / "notebooks" / "analysis.ipynb"
SCENARIO = """
name = "nb"
duration_s = 0.5
seed = 3
[arrival]
pattern = "constant"
rate = 400
[operations]
remember = 0.5
search = 0.5
[data]
dim = 8
[thresholds]
max_error_rate = 0.0
"""


@pytest.mark.slow  # starting a Jupyter kernel and matplotlib takes several seconds on 2 cores
def test_analysis_notebook_executes_on_generated_results(tmp_path: Path) -> None:
    sc = parse_scenario(SCENARIO, "nb.toml")
    res = OpenLoopDriver(InMemoryTarget(8), workers=2).run(build_schedule(sc))
    root = tmp_path / "results"
    session = SessionResults(root, "quick")
    session.add_run(res, scenario=sc)
    session.checks = [Check("error_rate", res.error_rate, 0.0, "<=", "fraction", suite="nb")]
    session.tests = [TestOutcome("acceptance/x.py::test_nb", "passed", 2.0)]
    acceptance_dir = session.write()
    gate = SessionResults(root, "gate-base", kind="gate", run_id=session.run_id[:-6] + "ffffff")
    gate.add_run(res, name="A-1", checks=[])
    gate.add_run(res, name="B-1", checks=[])
    gate_dir = gate.write()
    gate_verdicts([res], [res]).to_parquet(gate_dir / layout.VERDICTS, index=False)

    env = {"ENGRAM_RESULTS_RUN": str(acceptance_dir)}
    out = execute_notebook(NOTEBOOK, env=env, out=tmp_path / "executed.ipynb", timeout_s=120)
    text = out.read_text()
    assert f"run {session.run_id} (acceptance)" in text
    assert f"gate run {gate.run_id}" in text and "latency:all" in text
    assert '"output_type": "error"' not in text
    assert np.all([p.exists() for p in (acceptance_dir / "manifest.json", gate_dir / "verdicts.parquet")])
