from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engram_harness import runs
from engram_harness.driver import RunResult
from engram_harness.runs.run_id import RUN_ID_RE
from engram_harness.scenarios import Scenario
from engram_harness.stats import quantile


def test_run_ids_sort_chronologically() -> None:
    t = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    ids = [runs.new_run_id(t + dt.timedelta(seconds=s)) for s in (0, 1, 60, 3600, 86400)]
    assert ids == sorted(ids) and all(RUN_ID_RE.match(i) for i in ids)
    assert ids[0].startswith("20250102T030405Z-")
    assert runs.new_run_id(t) != runs.new_run_id(t)


def test_fingerprint() -> None:
    fp = runs.machine_fingerprint(lambda: "avx2")
    assert fp["simd_level"] == "avx2" and fp["logical_cores"] >= 1
    for key in ("cpu_model", "memory_bytes", "kernel", "python", "cxx_compiler"):
        assert key in fp
    assert runs.machine_fingerprint()["simd_level"] == "unknown"

    def broken() -> str:
        raise RuntimeError

    assert runs.machine_fingerprint(broken)["simd_level"] == "unknown"


def test_round_trip(small_run: tuple[Scenario, RunResult], results_root: Path) -> None:
    sc, res = small_run
    run_dir = runs.write_run(res, scenario=sc, root=results_root, profile="quick", simd_level=lambda: "avx2")
    for name in (
        "manifest.json",
        "summary.json",
        "windows.parquet",
        "ops.parquet",
        "checks.parquet",
        "latencies.parquet",
    ):
        assert (run_dir / name).is_file()
    run = runs.load(run_dir)
    m = run.manifest
    assert m["scenario"]["name"] == "small" and m["scenario"]["toml"] == sc.toml_text
    assert m["seed"] == 5 and m["profile"] == "quick" and m["machine"]["simd_level"] == "avx2"
    assert "commit" in m["git"]
    assert isinstance(run.ops, pd.DataFrame) and set(run.ops["op"]) == {
        "remember",
        "recall_episodic",
        "search",
        "all",
    }
    all_row = run.ops.set_index("op").loc["all"]
    assert all_row["count"] == len(res) == 200
    # reported quantiles are exact order statistics of the successful latencies; the stored histogram
    # agrees within its bucket error
    ok_ns = res.latency_ns[~res.failed & (res.latency_ns >= 0)]
    assert all_row["p99_ms"] == quantile(ok_ns, 0.99) / 1e6
    hist = res.histograms()["all"]
    assert hist.quantile(0.99) / 1e6 == pytest.approx(all_row["p99_ms"], rel=hist.relative_error)
    # windows: one row per op per second, counts add up to the schedule
    w = run.windows
    assert w.loc[w["op"] == "all", "count"].sum() == len(res)
    # checks: every threshold, the impossible one failing; relative ones need a baseline
    names = set(run.checks["name"])
    assert names == {"error_rate", "throughput", "p99_ms.all", "p99_ms.search"}
    assert not run.passed and run.checks.set_index("name").loc["p99_ms.search", "passed"] == np.False_
    assert run.summary["failed_checks"] == ["p99_ms.search"] and run.summary["passed"] is False
    lat = run.latencies
    assert lat is not None and len(lat) == len(res)
    assert np.array_equal(lat["latency_ns"].to_numpy(), res.latency_ns)
    h = run.histogram("all")
    assert h.total == len(res) and h.quantile(0.5) == pytest.approx(res.histograms()["all"].quantile(0.5))
    json.loads((run_dir / "summary.json").read_text())  # standard JSON (no NaN)
    assert "NaN" not in (run_dir / "summary.json").read_text()


def test_relative_checks_and_listing(small_run: tuple[Scenario, RunResult], results_root: Path) -> None:
    sc, res = small_run
    first = runs.write_run(res, scenario=sc, root=results_root, raw=False)
    base = runs.load(first)
    assert base.latencies is None
    second = runs.write_run(res, scenario=sc, root=results_root, baseline_ops=base.ops)
    checks = runs.load(second).checks.set_index("name")
    assert checks.loc["throughput_decrease", "measured"] == pytest.approx(0.0)
    assert checks.loc["p99_increase.all", "passed"]
    assert runs.list_runs(results_root) == sorted([first, second])
    assert runs.latest_run(results_root) in (first, second)
    with pytest.raises(FileNotFoundError):
        runs.load(results_root / "missing")


def test_a_run_that_did_nothing_fails_its_thresholds() -> None:
    """No operations: no error rate, throughput or latency was measured, so every check fails
    instead of passing on a 0 (an error rate of 0.0 would pass ``max_error_rate``)."""
    from engram_harness.scenarios.thresholds import Thresholds, evaluate

    empty = RunResult(
        scenario="nothing", seed=0, executor="test", op_names=("remember",), space_names=("s",),
        op=np.empty(0, np.uint8), space=np.empty(0, np.int16), intended_start_ns=np.empty(0, np.int64),
        actual_start_ns=np.empty(0, np.int64), latency_ns=np.empty(0, np.int64), error_code=np.empty(0, np.int16),
    )  # fmt: skip
    assert np.isnan(empty.error_rate) and np.isnan(empty.throughput)
    ops = empty.op_summary()
    all_row = ops.set_index("op").loc["all"]
    assert np.isnan(all_row["error_rate"]) and np.isnan(all_row["p99_ms"])
    th = Thresholds(max_error_rate=0.0, min_throughput=1.0, latency_ms={("p99_ms", "all"): 50.0})
    checks = evaluate(th, ops)
    assert len(checks) == 3 and not any(c.passed for c in checks)


def test_op_summary_quantiles_are_exact_per_operation() -> None:
    lat = np.array([5, 1, 4, 2, 3, 9, 7], dtype=np.int64) * 1_000_000
    err = np.array([0, 0, 0, 0, 0, 1, 0], dtype=np.int16)
    res = RunResult(
        scenario="s", seed=0, executor="test", op_names=("remember", "search"), space_names=("s",),
        op=np.array([0, 0, 0, 0, 1, 1, 1], np.uint8), space=np.zeros(7, np.int16),
        intended_start_ns=np.arange(7, dtype=np.int64), actual_start_ns=np.arange(7, dtype=np.int64),
        latency_ns=lat, error_code=err, error_classes=("", "Boom"), wall_time_s=1.0,
    )  # fmt: skip
    ops = res.op_summary().set_index("op")
    assert ops.loc["remember", "p50_ms"] == 2.0 and ops.loc["remember", "p99_ms"] == 5.0  # no interpolation
    assert ops.loc["search", "p50_ms"] == 3.0 and ops.loc["search", "max_ms"] == 7.0  # the failed 9 ms is out
    assert ops.loc["all", "p50_ms"] == 3.0 and ops.loc["all", "error_rate"] == pytest.approx(1 / 7)
