"""Suite 015 (competitive baseline tracking), quick profile: the history file and the trend classifier,
on synthetic series with fixed seeds. Nothing here runs a competitor."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engram_harness.bench import tracking
from engram_harness.bench.tracking import (
    COLUMNS,
    HistoryRow,
    append_runs,
    classify_trend,
    gap_shrinking,
    monthly_regression,
    plot_ratios,
    prune,
    ratio_series,
    read_history,
)

T0 = pd.Timestamp("2026-01-05T03:00:00Z")


def _days(days: np.ndarray | list[float]) -> pd.DatetimeIndex:
    return T0 + pd.to_timedelta(np.asarray(days, dtype=float), unit="D")


def _weekly(n: int) -> pd.DatetimeIndex:
    return _days(7.0 * np.arange(n))


def _row(run: str, day: float, system: str, value: float, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "run_id": run,
        "timestamp_utc": (T0 + pd.Timedelta(days=day)).isoformat(),
        "git_commit": "0123abcd",
        "machine": "ci-x86-16",
        "workload": "ann-10k-768",
        "metric": "p99_ms",
        "system": system,
        "version": "1.0",
        "settings": "ef=128,M=16",
        "value": value,
    }
    row.update(kw)
    return row


# ---------------------------------------------------------------------------------------------- trend


@pytest.mark.parametrize(
    ("slope", "expected"),
    [(0.0, "stable"), (1.0, "regressing"), (-1.0, "improving"), (0.3, "stable"), (-0.3, "stable")],
)
def test_classify_trend_on_noisy_weekly_series(slope: float, expected: str) -> None:
    rng = np.random.default_rng(15)
    t = _weekly(16)
    weeks = np.arange(16, dtype=float)
    v = 20.0 + slope * weeks + rng.normal(0.0, 0.5, weeks.size)
    verdict = classify_trend(t, v)
    assert verdict.classification == expected
    assert verdict.n == 16
    assert verdict.slope_ms_per_week == pytest.approx(slope, abs=0.15)
    assert verdict.span_weeks == pytest.approx(15.0)


def test_classify_trend_slope_is_fitted_on_raw_values_and_rolling_mean_is_four_weeks() -> None:
    t = _weekly(10)
    v = 10.0 + 1.0 * np.arange(10)
    verdict = classify_trend(t, v)
    # A fit on the smoothed series would give less than 1 (partial windows at the start).
    assert verdict.slope_ms_per_week == pytest.approx(1.0, rel=1e-9)
    assert verdict.r_squared == pytest.approx(1.0)
    # (t - 28 d, t] holds the last four weekly points: 16, 17, 18, 19.
    assert verdict.level_ms == pytest.approx(17.5)
    assert verdict.rolling_mean[0] == pytest.approx(10.0)
    assert verdict.rolling_mean[1] == pytest.approx(10.5)
    assert verdict.fit is not None and verdict.fit.n == 10


def test_classify_trend_unsorted_input_is_sorted_by_time() -> None:
    t = _weekly(8)
    v = 5.0 + 2.0 * np.arange(8)
    order = np.random.default_rng(1).permutation(8)
    assert classify_trend(t[order], v[order]).slope_ms_per_week == pytest.approx(2.0)


def test_classify_trend_thresholds_are_parameters() -> None:
    t = _weekly(8)
    v = 10.0 + 0.3 * np.arange(8)
    assert classify_trend(t, v).classification == "stable"
    assert classify_trend(t, v, regressing_above=0.2).classification == "regressing"


def test_classify_trend_insufficient_series() -> None:
    short = classify_trend(_weekly(3), [1.0, 5.0, 9.0])
    assert short.classification == "insufficient"
    assert math.isnan(short.slope_ms_per_week) and short.fit is None and short.n == 3
    # Enough points but under two weeks spanned.
    narrow = classify_trend(_days([0, 2, 4, 6, 8, 10, 12]), np.arange(7) * 10.0)
    assert narrow.classification == "insufficient"
    # Four points over exactly three weeks are enough.
    assert classify_trend(_weekly(4), [10.0, 12.0, 14.0, 16.0]).classification == "regressing"


def test_classify_trend_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="NaN"):
        classify_trend(_weekly(5), [1.0, 2.0, math.nan, 4.0, 5.0])
    with pytest.raises(ValueError, match="equally long"):
        classify_trend(_weekly(5), [1.0, 2.0])


# ---------------------------------------------------------------------------------- monthly regression


def _stepped(
    step: float, *, days: np.ndarray, rng_seed: int, noise: float = 0.01, at: float = 30.0
) -> np.ndarray:
    """10 ms with relative noise, times ``1 + step`` from day ``at`` on."""
    rng = np.random.default_rng(rng_seed)
    base = 10.0 * (1.0 + rng.normal(0.0, noise, days.size))
    return np.where(days >= at, base * (1.0 + step), base)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_monthly_regression_detects_six_percent_step_not_three(seed: int) -> None:
    days = np.arange(60, dtype=float)
    six = monthly_regression(_days(days), _stepped(0.06, days=days, rng_seed=seed))
    assert six.regressed and six.status == "regressed"
    assert six.worse_by == pytest.approx(0.06, abs=0.01)
    assert six.p_value < 0.05
    assert six.n_previous == 30 and six.n_recent == 30
    assert six.hl_shift == pytest.approx(0.6, abs=0.15)
    three = monthly_regression(_days(days), _stepped(0.03, days=days, rng_seed=seed))
    assert not three.regressed and three.status == "ok"
    assert three.worse_by == pytest.approx(0.03, abs=0.01)


def test_monthly_regression_on_weekly_runs() -> None:
    days = 7.0 * np.arange(9)  # previous window: days 0-21 (4 runs); recent: 28-56 (5 runs)
    v = _stepped(0.06, days=days, rng_seed=3, noise=0.005, at=28.0)
    verdict = monthly_regression(_days(days), v)
    assert (verdict.n_previous, verdict.n_recent) == (4, 5)
    assert verdict.regressed and verdict.p_value == pytest.approx(2 / 126)  # complete separation
    three = _stepped(0.03, days=days, rng_seed=3, noise=0.005, at=28.0)
    assert not monthly_regression(_days(days), three).regressed


def test_monthly_regression_needs_the_rank_test_not_only_the_medians() -> None:
    # Medians 10.05 -> 10.725 (+6.7%), but one slow week before and one fast week after: the windows
    # overlap and Mann-Whitney cannot separate them, so no alarm.
    days = 7.0 * np.arange(8) + 4.0  # windows end at day 56: previous days 4-25, recent 32-53
    v = [10.0, 10.1, 9.9, 12.0, 10.7, 10.8, 10.75, 9.0]
    verdict = monthly_regression(_days(days), v, end=_days([56])[0])
    assert (verdict.n_previous, verdict.n_recent) == (4, 4)
    assert verdict.worse_by > 0.05 and verdict.p_value > 0.05
    assert not verdict.regressed and verdict.status == "ok"


def test_monthly_regression_direction_for_throughput() -> None:
    days = np.arange(60, dtype=float)
    drop = _stepped(-0.06, days=days, rng_seed=4)
    rise = _stepped(0.06, days=days, rng_seed=4)
    assert monthly_regression(_days(days), drop, higher_is_better=True).regressed
    assert not monthly_regression(_days(days), rise, higher_is_better=True).regressed
    # The same drop is an improvement for a latency.
    assert not monthly_regression(_days(days), drop).regressed


def test_monthly_regression_improvement_is_not_flagged_and_end_anchors_windows() -> None:
    days = np.arange(90, dtype=float)
    v = np.where(days >= 30, 11.0, 10.0) + np.random.default_rng(5).normal(0, 0.05, days.size)
    # Windows ending at day 59 hold the step; windows ending at day 89 are both after it.
    assert monthly_regression(_days(days), v, end=_days([59])[0]).regressed
    assert not monthly_regression(_days(days), v).regressed


def test_monthly_regression_too_few_runs_is_insufficient() -> None:
    days = np.array([20.0, 25.0, 40.0, 50.0])  # 2 and 2: the rank test can never reach 0.05
    verdict = monthly_regression(_days(days), [10.0, 10.0, 20.0, 20.0])
    assert verdict.status == "insufficient" and not verdict.regressed
    only_recent = monthly_regression(_days([40.0, 45.0, 50.0, 55.0]), [1.0, 2.0, 3.0, 4.0])
    assert only_recent.status == "insufficient" and only_recent.n_previous == 0


# ------------------------------------------------------------------------------------------ gap alert


def test_gap_shrinking_fires_on_ratio_drifting_from_half_to_0_8() -> None:
    days = np.arange(0, 61, 3, dtype=float)
    rng = np.random.default_rng(6)
    ratios = 0.5 + 0.3 * days / 60.0 + rng.normal(0.0, 0.01, days.size)
    verdict = gap_shrinking(_days(days), ratios)
    assert verdict.alert and verdict.status == "alert"
    assert verdict.slope_per_month == pytest.approx(0.15, abs=0.02)
    assert verdict.ratio_start == pytest.approx(0.5, abs=0.03)
    assert verdict.ratio_end == pytest.approx(0.8, abs=0.03)
    assert not verdict.behind


def test_gap_shrinking_quiet_on_flat_and_widening_ratio() -> None:
    days = np.arange(0, 61, 3, dtype=float)
    rng = np.random.default_rng(7)
    flat = gap_shrinking(_days(days), 0.5 + rng.normal(0.0, 0.02, days.size))
    assert not flat.alert and flat.status == "ok"
    assert abs(flat.slope_per_month) < 0.05
    widening = gap_shrinking(_days(days), 0.8 - 0.3 * days / 60.0)
    assert not widening.alert


def test_gap_shrinking_for_higher_is_better_and_when_behind() -> None:
    days = np.arange(0, 61, 7, dtype=float)
    qps_ratio = 2.0 - 0.6 * days / 60.0  # 2x the competitor's throughput falling to 1.4x
    assert gap_shrinking(_days(days), qps_ratio, higher_is_better=True).alert
    assert not gap_shrinking(_days(days), qps_ratio).alert
    falling_behind = gap_shrinking(_days(days), 1.1 + 0.2 * days / 60.0)
    assert falling_behind.alert and falling_behind.behind


def test_gap_shrinking_insufficient() -> None:
    assert gap_shrinking(_days([0, 7, 14]), [0.5, 0.7, 0.9]).status == "insufficient"


# --------------------------------------------------------------------------------------------- history


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "history" / "competitive.csv"
    rows = [
        _row("r1", 0, "engram", 1.25),
        _row("r1", 0, "hnswlib", 2.5, version="0.8.0"),
        HistoryRow(
            run_id="r1",
            timestamp_utc="2026-01-05T04:00:00+01:00",
            git_commit="0123abcd",
            machine="ci",
            workload="ann-10k-768",
            metric="qps",
            system="engram",
            version="1.0",
            settings="default",
            value=812.5,
        ),
        _row("r1", 0, "engram", 0.9951, metric="recall_at_10"),
    ]
    assert append_runs(path, rows) == 4
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    df = read_history(path)
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 4
    assert df["value"].tolist() == [1.25, 2.5, 812.5, 0.9951]
    assert df["value"].dtype == np.float64
    assert (df["timestamp_utc"] == T0).all()  # +01:00 was converted to UTC
    assert str(df["timestamp_utc"].dt.tz) == "UTC"
    assert df.loc[1, "version"] == "0.8.0" and df.loc[2, "settings"] == "default"
    assert "2026-01-05T03:00:00Z" in path.read_text()
    # A second append keeps the first rows and adds the new ones.
    assert append_runs(path, [_row("r2", 7, "engram", 1.5)]) == 1
    df2 = read_history(path)
    assert len(df2) == 5 and df2["run_id"].tolist()[-1] == "r2"
    assert df2.iloc[:4].equals(df)


def test_append_is_atomic_and_names_the_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "competitive.csv"
    append_runs(path, [_row("r1", 0, "engram", 1.0), _row("r1", 0, "hnswlib", 2.0)])
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"row 2: .*value"):
        append_runs(path, [_row("r2", 7, "engram", 1.0), _row("r2", 7, "hnswlib", float("nan"))])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["competitive.csv"]  # no temporary file left


def test_failed_write_leaves_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "competitive.csv"
    append_runs(path, [_row("r1", 0, "engram", 1.0)])
    before = path.read_bytes()

    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(tracking.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        append_runs(path, [_row("r2", 7, "engram", 2.0)])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["competitive.csv"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_row("r2", 7, "hnswlib", 2.0, metric="latency"), r"row 2: unknown metric 'latency'"),
        (_row("r2", 7, "", 2.0), r"row 2: missing or empty system"),
        (_row("r2", 7, "hnswlib", None), r"row 2: missing or empty value"),
        (_row("r2", 7, "hnswlib", "fast"), r"row 2: value 'fast' is not a number"),
        (_row("r2", 7, "hnswlib", float("inf")), r"row 2: value inf is NaN or infinite"),
        (_row("r2", 7, "hnswlib", 2.0, timestamp_utc="last tuesday"), r"row 2: timestamp_utc 'last tuesday'"),
        (
            {k: v for k, v in _row("r2", 7, "hnswlib", 2.0).items() if k != "git_commit"},
            r"row 2: .*git_commit",
        ),
        ({**_row("r2", 7, "hnswlib", 2.0), "unit": "ms"}, r"row 2: unknown column\(s\) unit"),
        (_row("r1", 0, "engram", 3.0), r"row 2: duplicate"),
    ],
)
def test_bad_rows_are_refused(tmp_path: Path, bad: dict[str, object], message: str) -> None:
    path = tmp_path / "competitive.csv"
    append_runs(path, [_row("r1", 0, "engram", 1.0)])
    before = path.read_bytes()
    with pytest.raises(ValueError, match=message):
        append_runs(path, [_row("r2", 7, "engram", 1.0), bad])
    assert path.read_bytes() == before


def test_refused_first_append_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "competitive.csv"
    with pytest.raises(ValueError, match="row 1"):
        append_runs(path, [_row("r1", 0, "engram", float("nan"))])
    assert not path.exists()


def test_read_history_reports_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "competitive.csv"
    path.write_text("run_id,timestamp_utc,value\nr1,2026-01-05T00:00:00Z,1\n")
    with pytest.raises(ValueError, match="missing git_commit"):
        read_history(path)
    append_runs(path := tmp_path / "ok.csv", [_row("r1", 0, "engram", 1.0), _row("r1", 0, "faiss", 1.0)])
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace(",p99_ms,", ",p42_ms,")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"line 3: unknown metric 'p42_ms'"):
        read_history(path)
    # A damaged history is never appended to.
    with pytest.raises(ValueError, match="line 3"):
        append_runs(path, [_row("r2", 7, "engram", 1.0)])


def test_prune_keeps_at_least_six_months(tmp_path: Path) -> None:
    path = tmp_path / "competitive.csv"
    days = np.arange(0, 400, 7)
    append_runs(path, [_row(f"r{d}", float(d), "engram", 1.0) for d in days])
    df = read_history(path)
    newest = df["timestamp_utc"].max()
    kept = prune(df, keep_days=183)
    assert kept["timestamp_utc"].min() >= newest - pd.Timedelta(days=183)
    assert (newest - kept["timestamp_utc"].min()).days >= 180  # six months are really there
    assert len(kept) == int(np.sum(days >= days[-1] - 183))
    assert len(prune(df)) == int(np.sum(days >= days[-1] - 366))
    assert len(prune(df, keep_days=1000)) == len(df)
    for too_short in (30, 182.9):
        with pytest.raises(ValueError, match="at least 183"):
            prune(df, keep_days=too_short)
    # "now" far in the future prunes relative to it (the default never empties a paused history).
    assert prune(df, keep_days=183, now=newest + pd.Timedelta(days=500)).empty


# ------------------------------------------------------------------------------------ ratios and plot


def _history(tmp_path: Path) -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    for week in range(10):
        run, day = f"w{week}", 7.0 * week
        rows.append(_row(run, day, "engram", 1.0 + 0.1 * week))
        rows.append(_row(run, day, "hnswlib", 2.0))
        if week != 3:  # faiss missing from one run
            rows.append(_row(run, day, "faiss", 4.0))
        rows.append(_row(run, day, "engram", 500.0, metric="qps"))
    path = tmp_path / "competitive.csv"
    append_runs(path, rows)
    return read_history(path)


def test_ratio_series(tmp_path: Path) -> None:
    df = _history(tmp_path)
    r = ratio_series(df, "ann-10k-768", "p99_ms", "hnswlib")
    assert len(r) == 10 and isinstance(r.index, pd.DatetimeIndex)
    np.testing.assert_allclose(r.to_numpy(), (1.0 + 0.1 * np.arange(10)) / 2.0)
    assert r.index[0] == T0 and r.index.is_monotonic_increasing
    f = ratio_series(df, "ann-10k-768", "p99_ms", "faiss")
    assert len(f) == 9 and _days([21])[0] not in f.index
    assert ratio_series(df, "ann-10k-768", "qps", "hnswlib").empty
    assert gap_shrinking(r.index, r.to_numpy()).alert  # 0.5 -> 0.95 over nine weeks


def test_ratio_series_needs_settings_when_a_run_has_several(tmp_path: Path) -> None:
    path = tmp_path / "competitive.csv"
    append_runs(path, [_row("r1", 0, "engram", 1.0), _row("r1", 0, "hnswlib", 2.0),
                       _row("r1", 0, "hnswlib", 4.0, settings="ef=256,M=16")])  # fmt: skip
    df = read_history(path)
    with pytest.raises(ValueError, match="several hnswlib rows"):
        ratio_series(df, "ann-10k-768", "p99_ms", "hnswlib")
    r = ratio_series(df, "ann-10k-768", "p99_ms", "hnswlib", competitor_settings="ef=256,M=16")
    assert r.tolist() == [0.25]


def test_plot_writes_png(tmp_path: Path) -> None:
    df = _history(tmp_path)
    out = tmp_path / "plots" / "ratios.png"
    assert plot_ratios(df, "ann-10k-768", "p99_ms", out) == ["faiss", "hnswlib"]
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    with pytest.raises(ValueError, match="no competitor"):
        plot_ratios(df, "ann-10k-768", "qps", tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_default_history_path_and_metrics() -> None:
    assert tracking.DEFAULT_HISTORY.as_posix() == "docs/bench/history/competitive.csv"
    assert tracking.METRICS["p99_ms"] is False and tracking.METRICS["qps"] is True
    assert tracking.MIN_KEEP_DAYS == 183
