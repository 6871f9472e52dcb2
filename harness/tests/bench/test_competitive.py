"""Workflow 112 / suite 015: the competitive history's comparison with the last run, the equal-recall
reading of a Pareto front and the Pareto plot, on synthetic numbers. Nothing here runs a competitor."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engram_harness.bench.ann import pareto_front, qps_at_recall
from engram_harness.bench.competitive import (
    Comparison,
    compare_to_last,
    history_paths,
    history_rows,
    plot_pareto,
    record_and_compare,
    record_checks,
    verdict_table,
    workload_name,
)
from engram_harness.bench.tracking import DEFAULT_HISTORY, read_history
from engram_harness.checks import CheckRecorder


def _cmp(
    ours: float,
    theirs: float,
    *,
    metric: str = "qps",
    competitor: str = "hnswlib",
    workload: str = "ann-x-10k-768",
) -> Comparison:
    return Comparison(workload, metric, competitor, ours, theirs, "0.1.0", "0.8.0", "ef=32", "ef=40")


def _record(path: Path, run: str, ts: str, comps: list[Comparison]) -> list:
    return record_and_compare(comps, path, run_id=run, timestamp=ts, git_commit="abc", machine="test x2")


def test_first_run_has_no_baseline_and_the_check_fails(tmp_path: Path) -> None:
    h = tmp_path / "h.csv"
    verdicts = _record(h, "r1", "2026-01-01T00:00:00Z", [_cmp(1000, 800)])
    assert [v.status for v in verdicts] == ["no-baseline"]
    rec = CheckRecorder("t")
    record_checks(rec, verdicts, label="ann")
    assert len(rec.failed) == 1 and "previous recorded run" in rec.failed[0].name
    # Both systems' rows were appended, and read back.
    df = read_history(h)
    assert sorted(df["system"]) == ["engram", "hnswlib"]


def test_no_comparisons_fails(tmp_path: Path) -> None:
    rec = CheckRecorder("t")
    record_checks(rec, [], label="ann")
    assert rec.failed


@pytest.mark.parametrize(
    ("metric", "before", "after", "status"),
    [
        ("qps", (1000, 1000), (1000, 1000), "ok"),
        ("qps", (1000, 1000), (950, 1000), "ok"),  # 5% worse: within the band
        ("qps", (1000, 1000), (880, 1000), "regressed"),  # 12% worse
        ("qps", (1000, 1000), (1000, 1150), "regressed"),  # the competitor got 15% faster
        ("qps", (1000, 1000), (2000, 1000), "ok"),  # better
        ("p99_ms", (1.0, 1.0), (1.12, 1.0), "regressed"),  # latency: a rising ratio is worse
        ("p99_ms", (1.0, 1.0), (0.8, 1.0), "ok"),
    ],
)
def test_regression_against_the_last_run(
    tmp_path: Path, metric: str, before: tuple, after: tuple, status: str
) -> None:
    h = tmp_path / "h.csv"
    _record(h, "r1", "2026-01-01T00:00:00Z", [_cmp(*before, metric=metric)])
    (v,) = _record(h, "r2", "2026-01-08T00:00:00Z", [_cmp(*after, metric=metric)])
    assert v.status == status
    assert v.previous_run_id == "r1"
    rec = CheckRecorder("t")
    record_checks(rec, [v], label="ann")
    assert bool(rec.failed) == (status == "regressed")


def test_compares_with_the_newest_earlier_run_of_the_same_workload_and_competitor(tmp_path: Path) -> None:
    h = tmp_path / "h.csv"
    _record(h, "r1", "2026-01-01T00:00:00Z", [_cmp(500, 1000)])
    _record(h, "r2", "2026-01-08T00:00:00Z", [_cmp(1000, 1000), _cmp(1000, 10000, competitor="usearch")])
    _record(h, "r3", "2026-01-09T00:00:00Z", [_cmp(10, 1000, workload="ann-x-100k-768")])
    (v, w, other) = _record(
        h,
        "r4",
        "2026-01-15T00:00:00Z",
        [_cmp(1000, 1000), _cmp(1000, 10000, competitor="usearch"), _cmp(10, 1000, workload="ann-x-1m-768")],
    )
    assert (v.status, v.previous_run_id, v.previous_ratio) == ("ok", "r2", 1.0)
    assert (w.status, w.previous_ratio) == ("ok", 0.1)
    assert other.status == "no-baseline"  # another size is never a baseline


def test_a_run_is_not_compared_with_itself(tmp_path: Path) -> None:
    h = tmp_path / "h.csv"
    _record(h, "r1", "2026-01-01T00:00:00Z", [_cmp(1000, 1000)])
    (v,) = compare_to_last([_cmp(500, 1000)], read_history(h), run_id="r1")
    assert v.status == "no-baseline"


def test_quick_appends_to_a_copy_and_full_to_the_committed_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ENGRAM_COMPETITIVE_HISTORY", raising=False)
    src, dst = history_paths("quick", tmp_path / "run", tmp_path)
    assert src == tmp_path / DEFAULT_HISTORY and dst == tmp_path / "run" / "competitive-history.csv"
    assert history_paths("full", tmp_path / "run", tmp_path) == (src, src)
    _record(src, "r1", "2026-01-01T00:00:00Z", [_cmp(1000, 1000)])
    before = src.read_text()
    (v,) = record_and_compare(
        [_cmp(700, 1000)], src, append_path=dst, run_id="r2", git_commit="x", machine="m"
    )
    assert v.status == "regressed"
    assert src.read_text() == before  # the committed history is untouched by a quick run
    assert set(read_history(dst)["run_id"]) == {"r1", "r2"}
    monkeypatch.setenv("ENGRAM_COMPETITIVE_HISTORY", str(tmp_path / "own.csv"))
    assert history_paths("quick", tmp_path, tmp_path) == (tmp_path / "own.csv", tmp_path / "own.csv")


def test_engram_row_is_shared_and_conflicts_refused() -> None:
    rows = history_rows(
        [_cmp(1000, 800), _cmp(1000, 900, competitor="usearch")], run_id="r", git_commit="c", machine="m"
    )
    assert sorted(r.system for r in rows) == ["engram", "hnswlib", "usearch"]
    with pytest.raises(ValueError, match="two different values"):
        history_rows(
            [_cmp(1000, 800), _cmp(999, 900, competitor="usearch")], run_id="r", git_commit="c", machine="m"
        )


def test_comparison_validation() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        _cmp(1, 1, metric="latency")
    with pytest.raises(ValueError, match="not > 0"):
        _cmp(0, 1)
    with pytest.raises(ValueError, match="engram itself"):
        _cmp(1, 1, competitor="engram")


def test_pareto_front_and_equal_recall() -> None:
    pts = [
        (0.90, 1000.0, "ef=8"),
        (0.96, 500.0, "ef=16"),
        (0.95, 400.0, "ef=12x"),
        (0.99, 250.0, "ef=32"),
        (1.0, 100.0, "ef=64"),
    ]
    assert pareto_front([(r, q) for r, q, _ in pts]) == [
        (0.90, 1000.0),
        (0.96, 500.0),
        (0.99, 250.0),
        (1.0, 100.0),
    ]
    e = qps_at_recall(pts, 0.93)
    assert e is not None and e.method == "interpolated"
    assert e.qps == pytest.approx(math.sqrt(1000 * 500))  # halfway in recall: the geometric mean
    assert e.settings == "ef=8..ef=16"
    exact = qps_at_recall(pts, 0.99)
    assert exact is not None and (exact.method, exact.qps) == ("exact", 250.0)
    low = qps_at_recall(pts, 0.5)
    assert low is not None and (low.method, low.qps, low.settings) == ("cheapest", 1000.0, "ef=8")
    assert qps_at_recall(pts, 1.01) is None
    assert qps_at_recall([], 0.9) is None


def test_plot_and_table(tmp_path: Path) -> None:
    out = plot_pareto(
        {"engram": [(0.9, 1000), (0.99, 300)], "hnswlib": [(0.92, 900)], "none": []},
        tmp_path / "p.png",
        title="t",
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        plot_pareto({"x": []}, tmp_path / "q.png", title="t")
    h = tmp_path / "h.csv"
    verdicts = _record(h, "r1", "2026-01-01T00:00:00Z", [_cmp(1000, 800)])
    assert "no baseline" in verdict_table(verdicts)


def test_workload_name() -> None:
    assert workload_name("ann", "lowrank", 10_000, 768, "r0.95", "1t") == "ann-lowrank-10k-768-r0.95-1t"
    assert workload_name("ann", "lowrank", 1_000_000, 768) == "ann-lowrank-1m-768"
    assert workload_name("hybrid", "g", 1234, 8) == "hybrid-g-1234-8"


def _rounds(ours: list[float], theirs: list[float], workload: str = "ann-x-10k-768-r0.95-1t") -> Comparison:
    e, t = sorted(ours)[len(ours) // 2], sorted(theirs)[len(theirs) // 2]
    return Comparison(workload, "qps", "hnswlib", e, t, "0.1.0", "0.8.0", "ef=32", "ef=40",
                      engram_rounds=tuple(ours), competitor_rounds=tuple(theirs))  # fmt: skip


def test_a_regression_within_the_runs_own_noise_is_not_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    _record(path, "r1", "2026-12-01T00:00:00Z", [_cmp(1000.0, 1000.0, workload="ann-x-10k-768-r0.95-1t")])
    # median ratio 0.85 (15% worse), but rounds from 0.7 to 1.15: not shown beyond the noise
    noisy = _rounds([700, 850, 1150, 800, 1100, 900, 820], [1000] * 7)
    (v,) = record_and_compare([noisy], path, run_id="r2", timestamp="2026-12-02T00:00:00Z")
    assert v.worse_by > 0.10 and v.worse_by_at_least < 0.10 and v.status == "ok" and v.rounds == 7
    checks = CheckRecorder("t")
    record_checks(checks, [v], label="ANN")
    assert all(c.passed for c in checks.checks)


def test_a_regression_every_round_shows_fails(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    _record(path, "r1", "2026-12-01T00:00:00Z", [_cmp(1000.0, 1000.0, workload="ann-x-10k-768-r0.95-1t")])
    slower = _rounds([700, 720, 690, 710, 705, 715, 695], [1000, 1010, 990, 1005, 995, 1000, 1002])
    (v,) = record_and_compare([slower], path, run_id="r2", timestamp="2026-12-02T00:00:00Z")
    assert v.status == "regressed" and v.worse_by_at_least > 0.25
    checks = CheckRecorder("t")
    record_checks(checks, [v], label="ANN")
    assert [c.passed for c in checks.checks] == [True, False]
    assert "95% confidence over 7 rounds" in checks.checks[-1].detail


def test_without_rounds_the_point_values_decide(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    _record(path, "r1", "2026-12-01T00:00:00Z", [_cmp(1000.0, 1000.0, workload="ann-x-10k-768-r0.95-1t")])
    two = _rounds([850, 860], [1000, 1000])  # fewer than three rounds: no interval
    (v,) = record_and_compare([two], path, run_id="r2", timestamp="2026-12-02T00:00:00Z")
    assert math.isnan(v.worse_by_at_least) and v.status == "regressed"
