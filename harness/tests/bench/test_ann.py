"""The ANN benchmark's sweep stop rule and paired rounds, on a small index (seconds)."""

from __future__ import annotations

import pytest

from engram_harness.bench.ann import AnnConfig, run_ann_benchmark

pytest.importorskip("hnswlib")  # the harness's bench extra, which the tests session installs


def _config(**kw: object) -> AnnConfig:
    base = dict(sizes=(600,), dim=16, datasets=("lowrank",), libraries=("engram", "hnswlib"), M=8,
                ef_construction=40, efs=(4, 16, 64, 128), queries=40, repeats=2, threads=1, seed=3)  # fmt: skip
    base.update(kw)
    return AnnConfig(**base)  # type: ignore[arg-type]


def test_sweep_stops_after_the_first_setting_reaching_stop_recall() -> None:
    rows = run_ann_benchmark(_config(stop_recall=0.9), log=lambda _s: None)
    for lib in ("engram", "hnswlib"):
        sweep = sorted(
            (r for r in rows if r["library"] == lib and r["mode"] == "single"), key=lambda r: r["ef"]
        )
        assert sweep, lib
        # every setting before the last stayed below the stop recall; the last reached it (or the
        # sweep ran out of settings)
        assert all(r["recall@10"] < 0.9 for r in sweep[:-1]), (lib, [r["recall@10"] for r in sweep])
        assert sweep[-1]["recall@10"] >= 0.9 or len(sweep) == 4
    full = run_ann_benchmark(_config(), log=lambda _s: None)
    assert len([r for r in full if r["mode"] == "single"]) == 8  # no stop rule: every setting of both
    assert len([r for r in rows if r["mode"] == "single"]) < 8


def test_paired_rounds_time_each_library_at_its_cheapest_setting_reaching_the_target() -> None:
    rows = run_ann_benchmark(_config(paired_targets=(0.9,), paired_rounds=3), log=lambda _s: None)
    paired = [r for r in rows if r["mode"] == "paired"]
    assert {r["library"] for r in paired} == {"engram", "hnswlib"}
    for r in paired:
        cheapest = min(x["ef"] for x in rows if x["library"] == r["library"] and x["mode"] == "single"
                       and x["recall@10"] >= 0.9)  # fmt: skip
        assert r["ef"] == cheapest
        assert len(r["cpu_qps_passes"]) == 3 and all(q > 0 for q in r["cpu_qps_passes"])
