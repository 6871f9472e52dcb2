"""The A/B gate: verdicts on synthetic runs (A/A passes, injected slowdowns are blocked, invalid data
is reported) and one end-to-end run of ``python -m engram_harness.gate`` on a tiny scenario."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engram_harness import runs
from engram_harness.driver import RunResult
from engram_harness.gate import error_verdict, gate_verdicts

ROOT = Path(__file__).resolve().parents[3]
OPS = ("remember", "search")


def fake_run(
    rng: np.random.Generator, n: int = 6000, slowdown: float = 0.0, error_rate: float = 0.0
) -> RunResult:
    """A run with log-normal latencies (median 0.3 ms) at 1,000 ops/s; ``slowdown`` scales every latency."""
    op = rng.integers(len(OPS), size=n).astype(np.uint8)
    latency = (3e5 * np.exp(0.4 * rng.standard_normal(n)) * (1.0 + slowdown)).astype(np.int64)
    errors = (rng.random(n) < error_rate).astype(np.int16)
    start = np.arange(n, dtype=np.int64) * 1_000_000
    return RunResult(
        scenario="fake", seed=1, executor="test", op_names=OPS, space_names=("default",), op=op,
        space=np.zeros(n, dtype=np.int16), intended_start_ns=start, actual_start_ns=start, latency_ns=latency,
        error_code=errors, error_classes=("", "Boom"), duration_s=n / 1000, wall_time_s=n / 1000,
    )  # fmt: skip


def sides(seed: int, slowdown: float = 0.0, rounds: int = 3) -> tuple[list[RunResult], list[RunResult]]:
    rng = np.random.default_rng(seed)
    return [fake_run(rng) for _ in range(rounds)], [fake_run(rng, slowdown=slowdown) for _ in range(rounds)]


def test_identical_builds_pass() -> None:
    before, after = sides(1)
    v = gate_verdicts(before, after)
    assert list(v["comparison"]) == [
        "latency:all",
        "latency:remember",
        "latency:search",
        "throughput:windows",
    ]
    assert v["valid"].all() and not v["regression"].any(), v.to_string()
    assert np.all(v["p_adjusted"] >= v["p_value"])  # Holm never makes a p-value smaller


@pytest.mark.parametrize("slowdown", [0.10, 0.20])
def test_injected_slowdown_is_blocked(slowdown: float) -> None:
    before, after = sides(2, slowdown)
    v = gate_verdicts(before, after).set_index("comparison")
    assert v.loc["latency:all", "regression"], v.to_string()
    assert v.loc["latency:all", "rounds_worse"] == 1.0
    assert v.loc["latency:all", "median_ratio"] == pytest.approx(1.0 + slowdown, rel=0.03)


def test_a_slowdown_that_does_not_reproduce_across_rounds_is_not_a_regression() -> None:
    rng = np.random.default_rng(3)
    before = [fake_run(rng) for _ in range(3)]
    after = [fake_run(rng, slowdown=0.3), fake_run(rng, slowdown=-0.05), fake_run(rng, slowdown=-0.05)]
    v = gate_verdicts(before, after).set_index("comparison")
    assert v.loc["latency:all", "rounds_worse"] == pytest.approx(1 / 3)
    assert not v.loc["latency:all", "regression"]


def test_error_rules() -> None:
    rng = np.random.default_rng(4)
    clean, broken = [fake_run(rng)], [fake_run(rng, error_rate=0.2)]
    assert error_verdict(clean, clean) == {
        "error_rate_before": 0.0, "error_rate_after": 0.0, "invalid": False, "regression": False,
    }  # fmt: skip
    e = error_verdict(clean, broken)
    assert e["invalid"] and e["regression"] and e["error_rate_after"] == pytest.approx(0.2, abs=0.02)


def test_too_few_samples_is_reported_not_decided() -> None:
    rng = np.random.default_rng(5)
    v = gate_verdicts([fake_run(rng, n=6)], [fake_run(rng, n=6)])
    small = v[~v["valid"]]
    assert len(small) and not small["regression"].any()
    assert small["summary"].str.contains("too small").all()


SCENARIO = """
name = "gate-tiny"
duration_s = 1
seed = 9
[arrival]
pattern = "constant"
rate = 400
[operations]
remember = 0.6
search = 0.4
[data]
dim = 16
"""


@pytest.mark.slow  # two worker processes, each importing the engine and running a schedule
def test_gate_end_to_end_writes_verdicts(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(SCENARIO)
    cmd = [sys.executable, "-m", "engram_harness.gate", "--scenario", str(scenario), "--seconds", "0.5", "--rounds", "1",
           "--base-site", str(ROOT), "--candidate-site", str(ROOT), "--results-dir", str(tmp_path / "results"),
           "--workdir", str(tmp_path / "work")]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    run = runs.load(runs.latest_run(tmp_path / "results"))
    assert run.manifest["kind"] == "gate" and run.scenarios == ["A-1", "B-1"]
    assert run.verdicts is not None and "latency:all" in set(run.verdicts["comparison"])
    assert set(run.checks["suite"]) == {"gate"}
    assert (proc.returncode == 1) == bool(run.verdicts["regression"].any())


def test_gate_without_a_stored_baseline_exits_3(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "engram_harness.gate", "--against", "stored", "--baselines-dir", str(tmp_path),
           "--results-dir", str(tmp_path / "results")]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3 and "no stored gate baseline for this machine" in proc.stdout


@pytest.mark.slow  # two worker processes
def test_record_then_compare_with_a_stored_baseline(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(SCENARIO)
    common = [sys.executable, "-m", "engram_harness.gate", "--scenario", str(scenario), "--seconds", "0.5", "--rounds", "1",
              "--candidate-site", str(ROOT), "--baselines-dir", str(tmp_path / "baselines"),
              "--workdir", str(tmp_path / "work"), "--results-dir", str(tmp_path / "results")]  # fmt: skip
    rec = subprocess.run(
        [*common, "--record-baseline"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert rec.returncode == 0 and "baseline stored in" in rec.stdout, rec.stdout + rec.stderr
    (stored,) = (tmp_path / "baselines").iterdir()
    assert (stored / "baseline.json").is_file() and (stored / "runs.npz").is_file()
    cmp = subprocess.run(
        [*common, "--against", "stored"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert cmp.returncode in (0, 1), cmp.stdout + cmp.stderr
    run = runs.load(runs.latest_run(tmp_path / "results"))
    assert run.manifest["extra"]["against"] == "stored" and run.scenarios == ["A-1", "B-1"]
