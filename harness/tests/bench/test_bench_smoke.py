"""The benchmark commands run end to end on tiny inputs and write what they promise (the numbers
themselves are recorded in docs/performance.md, never asserted in unit tests)."""

from __future__ import annotations

import json
from pathlib import Path

from engram_harness.bench import semantic


def test_semantic_bench_writes_every_measurement(tmp_path: Path) -> None:
    out, md = tmp_path / "s.json", tmp_path / "s.md"
    rc = semantic.main(["--sizes", "400", "--dim", "16", "--reps", "10", "--repeats", "2", "--stores", "60",
                        "--json", str(out), "--markdown", str(md)])  # fmt: skip
    assert rc == 0
    res = json.loads(out.read_text())["results"][0]
    for key in ("recall_episodic", "recall_semantic", "recall_blended", "search_k10", "spread_3_hops",
                "complete_50pct", "consolidate_incremental_1pct"):  # fmt: skip
        assert res[key]["p99_ms"] >= res[key]["p50_ms"] > 0, key
    assert res["spread_3_hops"]["mean_activated"] > 1, "spreading should reach past the seed"
    assert set(res["store"]) >= {"without", "with_consolidator", "p99_ratio", "p99_ratio_ci", "budget_met"}
    assert "consolidate_incremental_1pct" in md.read_text()


def test_http_bench_runs_a_scenario_over_http_and_records_both_sides_cpu(tmp_path: Path) -> None:
    from engram_harness.bench import http
    from engram_harness.driver.native_http import available
    from engram_harness.runs.loader import load

    if not available():
        import pytest

        pytest.skip("engram built without the HTTP load target (Boost)")
    out = tmp_path / "h.json"
    scenario = Path(__file__).resolve().parents[3] / "acceptance" / "scenarios" / "baseline.toml"
    rc = http.main(["--scenario", str(scenario), "--scale", str(1 / 60), "--preload", "300", "--connections", "4",
                    "--results", str(tmp_path / "results"), "--json", str(out)])  # fmt: skip
    assert rc == 0
    d = json.loads(out.read_text())
    assert d["http"][-1]["op"] == "all" and d["http"][-1]["count"] == 1000
    res = d["http_resources"]
    assert res["preload"] == 300 and res["ops_sent"] == 1000 and res["connections_opened"] <= 4
    assert res["driver_cpu_s"] > 0 and res["server_cpu_s"] > 0
    run = load(d["run_dirs"][0])
    assert run.manifest["executor"] == "http-cpp-4c" and run.manifest["extra"]["server_cpu_s"] > 0


def test_serving_bench_writes_every_figure(tmp_path: Path) -> None:
    from engram_harness.bench import serving
    from engram_harness.driver.native_http import available

    if not available():
        import pytest

        pytest.skip("engram built without the HTTP load target (Boost)")
    out, md = tmp_path / "s.json", tmp_path / "s.md"
    scenario = Path(__file__).resolve().parents[3] / "acceptance" / "scenarios" / "baseline.toml"
    rc = serving.main(["--scenario", str(scenario), "--scale", "0.01", "--preload", "100", "--repeats", "1",
                       "--step-s", "0.5", "--ramp-start", "200", "--ramp-max", "400", "--saturation-connections", "8",
                       "--json", str(out), "--markdown", str(md)])  # fmt: skip
    assert rc == 0
    fig = json.loads(out.read_text())
    paths = fig["side_by_side"]["paths"]
    assert set(paths) == {"engram serve", "inprocess"}
    assert paths["engram serve"]["server_cpu_ms_per_op"]["median"] > 0
    for part in ("search_saturation", "mix_saturation"):
        s = fig[part]["engram serve"]
        assert s["http"]["saturation_ops_s"] > 0 and s["inprocess"]["saturation_ops_s"] > 0
        assert s["engine_cpu_ms_per_op"] > 0 and s["server_cpu_over_engine_cpu"] > 0
    assert "Search k=10 saturation" in md.read_text()
