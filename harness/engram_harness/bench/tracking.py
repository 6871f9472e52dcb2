"""Competitive baseline tracking (performance suite 015): the history file and its trend analysis.

The history is one committed CSV, ``docs/bench/history/competitive.csv``, one row per measured number::

    run_id,timestamp_utc,git_commit,machine,workload,metric,system,version,settings,value

``run_id`` groups the rows of one scheduled run; ``timestamp_utc`` is ISO 8601 (written as
``2026-01-05T03:00:00Z``); ``workload`` names the data set and shape (``ann-10k-768``); ``metric`` is one
of :data:`METRICS` (its name carries its unit); ``system`` is ``engram`` or a competitor (``hnswlib``,
``faiss``, ``usearch``, ``qdrant-local``, ``networkx``, ``kuzu``, ...); ``version`` is that system's
version; ``settings`` is a short description of its parameters (``ef=128,M=16``; ``default`` when none);
``value`` is the number. Every field is required. :func:`append_runs` is the only writer (atomic, validated);
:func:`read_history` the only reader.

The analyses (all on plain arrays of times and values, so they can be unit-tested on synthetic series):

- :func:`classify_trend`: least-squares slope in ms/week, improving (< -0.5), regressing (> +0.5) or stable;
  the 4-week rolling mean is reported alongside (see there for why the slope is fitted on the raw values).
- :func:`monthly_regression`: the last 30 days' median against the previous 30 days', flagged when more
  than 5% worse and the Mann-Whitney U test separates the two windows.
- :func:`gap_shrinking`: the alert when our ratio to a competitor moves toward parity (or further behind)
  faster than a threshold per month.
- :func:`ratio_series` (engram / competitor per run), :func:`prune` (never below 183 days),
  :func:`plot_ratios` (PNG, matplotlib Agg).
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from engram_harness.stats.hodges_lehmann import hodges_lehmann_shift
from engram_harness.stats.rank_sum import mann_whitney, min_attainable_p
from engram_harness.stats.regression import LinearFit, linear_regression

__all__ = [
    "COLUMNS",
    "DEFAULT_HISTORY",
    "ENGRAM",
    "METRICS",
    "MIN_KEEP_DAYS",
    "GapVerdict",
    "HistoryRow",
    "RegressionVerdict",
    "TrendVerdict",
    "append_runs",
    "classify_trend",
    "gap_shrinking",
    "monthly_regression",
    "plot_ratios",
    "prune",
    "ratio_series",
    "read_history",
    "rolling_mean",
]

#: The history's columns, in file order.
COLUMNS: tuple[str, ...] = (
    "run_id",
    "timestamp_utc",
    "git_commit",
    "machine",
    "workload",
    "metric",
    "system",
    "version",
    "settings",
    "value",
)

#: Known metrics and whether a higher value is better. Anything else is refused by the writer and reader.
METRICS: dict[str, bool] = {
    "p50_ms": False,
    "p95_ms": False,
    "p99_ms": False,
    "mean_ms": False,
    "qps": True,
    "recall_at_10": True,
    "build_s": False,
    "rss_mb": False,
}

#: The system whose ratio to every other one is tracked.
ENGRAM = "engram"

#: The committed history, relative to the repository root.
DEFAULT_HISTORY = Path("docs/bench/history/competitive.csv")

#: History is never pruned below this many days (6 months).
MIN_KEEP_DAYS = 183

_WEEK = pd.Timedelta(weeks=1)
_DAY = pd.Timedelta(days=1)
_MONTH_DAYS = 30.0
_ROLLING_WINDOW = "28D"  # the 4-week rolling mean
_MIN_POINTS = 4
_MIN_SPAN = pd.Timedelta(weeks=2)


@dataclass(frozen=True)
class HistoryRow:
    """One measured number (see the module docstring for the meaning of each field)."""

    run_id: str
    timestamp_utc: str
    git_commit: str
    machine: str
    workload: str
    metric: str
    system: str
    version: str
    settings: str
    value: float


# --------------------------------------------------------------------------------------------------------
# The history file


def _format_timestamp(raw: object) -> str:
    ts = pd.Timestamp(raw)  # type: ignore[arg-type]
    if pd.isna(ts):
        raise ValueError("missing timestamp")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ts.microsecond:06d}" if ts.microsecond else "") + "Z"


def _is_missing(v: object) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def _normalise_row(row: HistoryRow | Mapping[str, Any], where: str) -> dict[str, str]:
    """The row as the strings written to the CSV, or ``ValueError`` naming ``where``."""
    d = dict(row.__dict__) if isinstance(row, HistoryRow) else dict(row)
    missing = [c for c in COLUMNS if c not in d or _is_missing(d[c])]
    if missing:
        raise ValueError(f"{where}: missing or empty {', '.join(missing)} (row: {d!r})")
    extra = sorted(set(d) - set(COLUMNS))
    if extra:
        raise ValueError(f"{where}: unknown column(s) {', '.join(extra)} (row: {d!r})")
    out = {c: str(d[c]).strip() for c in COLUMNS if c not in ("timestamp_utc", "value")}
    for c, v in out.items():
        if any(ch in v for ch in "\r\n"):
            raise ValueError(f"{where}: {c} contains a line break (row: {d!r})")
    if out["metric"] not in METRICS:
        raise ValueError(
            f"{where}: unknown metric {out['metric']!r} (known: {', '.join(sorted(METRICS))}) (row: {d!r})"
        )
    try:
        out["timestamp_utc"] = _format_timestamp(d["timestamp_utc"])
    except (ValueError, TypeError) as e:
        raise ValueError(f"{where}: timestamp_utc {d['timestamp_utc']!r} is not ISO 8601 ({e})") from e
    raw = d["value"]
    if isinstance(raw, bool):
        raise ValueError(f"{where}: value {raw!r} is not a number (row: {d!r})")
    try:
        value = float(raw)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: value {raw!r} is not a number (row: {d!r})") from e
    if not math.isfinite(value):
        raise ValueError(f"{where}: value {raw!r} is NaN or infinite (row: {d!r})")
    out["value"] = repr(value)
    return out


def _row_key(r: Mapping[str, str]) -> tuple[str, ...]:
    return (r["run_id"], r["workload"], r["metric"], r["system"], r["settings"])


def append_runs(path: str | os.PathLike[str], rows: Iterable[HistoryRow | Mapping[str, Any]]) -> int:
    """Append ``rows`` to the history at ``path`` (created with its header if absent); returns how many.

    All or nothing: every row is validated first (all fields present and non-empty, a known metric, an
    ISO 8601 timestamp, a finite value, no duplicate of a row already there or given twice: same run,
    workload, metric, system and settings), and a bad row raises ``ValueError`` naming it (``row 3`` is the
    third given, counting from 1) without touching the file. The new file is written to a temporary file
    in the same directory, flushed to disk and renamed over the old one, so a crash leaves either the old
    or the new history, never a torn one. The existing file is read with :func:`read_history` first, so a
    damaged history is reported rather than appended to. Not safe against two concurrent writers (the
    weekly job is the only one).
    """
    target = Path(path)
    new = [_normalise_row(r, f"row {i}") for i, r in enumerate(rows, start=1)]
    if target.exists():
        old = read_history(target)
        seen = {
            tuple(k)
            for k in old[["run_id", "workload", "metric", "system", "settings"]].itertuples(index=False)
        }
        text = target.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            text += "\n"
    else:
        seen = set()
        text = ",".join(COLUMNS) + "\n"
    for i, r in enumerate(new, start=1):
        key = _row_key(r)
        if key in seen:
            raise ValueError(
                f"row {i}: duplicate of a row already recorded (run_id, workload, metric, system, settings) = {key}"
            )
        seen.add(key)
    if not new:
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            w = csv.DictWriter(f, fieldnames=list(COLUMNS), lineterminator="\n")
            w.writerows(new)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(new)


def read_history(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The history as a DataFrame: string columns, ``timestamp_utc`` as UTC timestamps, ``value`` float.

    Raises ``ValueError`` naming the file and line (the header is line 1) for a missing or unexpected
    column, an empty field, an unknown metric, an unparseable timestamp or a non-finite value. Rows are
    returned in file order.
    """
    p = Path(path)
    raw = pd.read_csv(p, dtype=str, keep_default_na=False, na_filter=False)
    cols = list(raw.columns)
    if cols != list(COLUMNS):
        missing = [c for c in COLUMNS if c not in cols]
        extra = [c for c in cols if c not in COLUMNS]
        raise ValueError(
            f"{p}: columns must be {', '.join(COLUMNS)} in that order"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra)}" if extra else "")
        )
    for c in COLUMNS:
        empty = raw.index[raw[c].str.strip() == ""]
        if len(empty):
            raise ValueError(f"{p}: line {int(empty[0]) + 2}: empty {c}")
    bad_metric = raw.index[~raw["metric"].isin(list(METRICS))]
    if len(bad_metric):
        i = int(bad_metric[0])
        raise ValueError(f"{p}: line {i + 2}: unknown metric {raw.at[i, 'metric']!r}")
    times = pd.to_datetime(raw["timestamp_utc"], format="ISO8601", utc=True, errors="coerce")
    bad_time = raw.index[times.isna()]
    if len(bad_time):
        i = int(bad_time[0])
        raise ValueError(f"{p}: line {i + 2}: timestamp_utc {raw.at[i, 'timestamp_utc']!r} is not ISO 8601")
    values = pd.to_numeric(raw["value"], errors="coerce").astype(np.float64)
    bad_value = raw.index[~np.isfinite(values.to_numpy())]
    if len(bad_value):
        i = int(bad_value[0])
        raise ValueError(f"{p}: line {i + 2}: value {raw.at[i, 'value']!r} is not a finite number")
    df = raw.copy()
    df["timestamp_utc"] = times
    df["value"] = values
    return df


def prune(df: pd.DataFrame, keep_days: float = 366, *, now: object = None) -> pd.DataFrame:
    """Rows no older than ``keep_days`` before ``now`` (default: the newest row's time, so that a pause in
    the weekly runs never empties the history). ``keep_days`` below :data:`MIN_KEEP_DAYS` (6 months) is
    refused: the requirement is 6+ months of history kept."""
    if not keep_days >= MIN_KEEP_DAYS:
        raise ValueError(f"keep_days must be at least {MIN_KEEP_DAYS} (6 months), got {keep_days}")
    if df.empty:
        return df.copy()
    ts = pd.to_datetime(df["timestamp_utc"], utc=True)
    end = ts.max() if now is None else _as_times([now])[0]
    return df.loc[ts >= end - keep_days * _DAY].copy()


# --------------------------------------------------------------------------------------------------------
# Series


def _as_times(times: ArrayLike | Iterable[object]) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(pd.to_datetime(list(np.asarray(times, dtype=object).ravel()), utc=True))
    if idx.hasnans:
        raise ValueError("times contain a missing value")
    return idx


def _series(times: ArrayLike | Iterable[object], values: ArrayLike, name: str) -> pd.Series:
    idx = _as_times(times)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size != len(idx):
        raise ValueError(f"times and {name} must be 1-D and equally long, got {len(idx)} and {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return pd.Series(v, index=idx, name=name).sort_index(kind="stable")


def rolling_mean(
    times: ArrayLike | Iterable[object], values: ArrayLike, window: str = _ROLLING_WINDOW
) -> pd.Series:
    """Trailing time-based rolling mean (default 4 weeks: each point averages the values in
    ``(t - 28 days, t]``), time-indexed and sorted."""
    return _series(times, values, "values").rolling(window, min_periods=1).mean()


def ratio_series(
    df: pd.DataFrame,
    workload: str,
    metric: str,
    competitor: str,
    *,
    engram_settings: str | None = None,
    competitor_settings: str | None = None,
) -> pd.Series:
    """Engram's value / the competitor's value for every run that measured both, indexed by the run's time
    (its earliest row) and sorted. Below 1 Engram is faster for a ``_ms`` metric; above 1 it is better for
    ``qps`` or recall. A run with several rows for one side (several settings) is refused unless the
    settings are chosen with ``engram_settings`` / ``competitor_settings``."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r} (known: {', '.join(sorted(METRICS))})")
    sel = df[(df["workload"] == workload) & (df["metric"] == metric)]
    sides: dict[str, pd.DataFrame] = {}
    for system, settings in ((ENGRAM, engram_settings), (competitor, competitor_settings)):
        part = sel[sel["system"] == system]
        if settings is not None:
            part = part[part["settings"] == settings]
        dup = part["run_id"][part["run_id"].duplicated()]
        if len(dup):
            raise ValueError(
                f"run {dup.iloc[0]!r} has several {system} rows for {workload}/{metric} "
                f"(settings {sorted(part.loc[part['run_id'] == dup.iloc[0], 'settings'])}); choose one"
            )
        sides[system] = part.set_index("run_id")
    ours, theirs = sides[ENGRAM], sides[competitor]
    runs = ours.index.intersection(theirs.index)
    if (theirs.loc[runs, "value"] == 0).any():
        raise ValueError(f"{competitor} has a zero {metric}; the ratio is undefined")
    t = pd.concat(
        [
            pd.to_datetime(ours.loc[runs, "timestamp_utc"], utc=True),
            pd.to_datetime(theirs.loc[runs, "timestamp_utc"], utc=True),
        ],
        axis=1,
    ).min(axis=1)
    ratio = ours.loc[runs, "value"].astype(np.float64) / theirs.loc[runs, "value"].astype(np.float64)
    out = pd.Series(ratio.to_numpy(), index=pd.DatetimeIndex(t.to_numpy()), name=f"{ENGRAM}/{competitor}")
    out.index.name = "timestamp_utc"
    return out.sort_index(kind="stable")


# --------------------------------------------------------------------------------------------------------
# Trend classification


@dataclass(frozen=True)
class TrendVerdict:
    """Result of :func:`classify_trend`.

    ``classification`` is ``"improving"`` (slope < ``improving_below``), ``"regressing"`` (slope >
    ``regressing_above``), ``"stable"`` or ``"insufficient"`` (fewer than 4 points, or under 2 weeks
    spanned; then slope and r^2 are nan and ``fit`` is None). ``rolling_mean`` is the 4-week trailing mean
    at each point (time order); ``level_ms`` its last value.
    """

    classification: str
    slope_ms_per_week: float
    slope_stderr: float
    r_squared: float
    n: int
    span_weeks: float
    level_ms: float
    rolling_mean: tuple[float, ...]
    improving_below: float
    regressing_above: float
    fit: LinearFit | None


def classify_trend(
    times: ArrayLike | Iterable[object],
    values_ms: ArrayLike,
    *,
    improving_below: float = -0.5,
    regressing_above: float = 0.5,
) -> TrendVerdict:
    """Classify a latency series (ms; lower is better) by its least-squares slope in ms/week.

    The slope is fitted on the **raw** values, not on the 4-week rolling mean, which is computed and
    reported (``rolling_mean``, ``level_ms``) for the plot and the reader. Reasons: on a straight-line
    trend a full trailing window keeps the slope, but the first four weeks have partial windows whose
    means lag less, so fitting the smoothed series there understates the slope (by half at the start);
    and smoothing correlates neighbouring residuals, which inflates r^2 and makes the slope's standard
    error meaningless, while it leaves the least-squares slope of a linear trend, already an average over
    all points, no more precise. The fit is :func:`engram_harness.stats.regression.linear_regression`.

    For throughput or recall pass the negated values, or use :func:`monthly_regression`, which knows
    the direction; the ms/week thresholds only make sense for latencies.
    """
    if not improving_below <= regressing_above:
        raise ValueError("improving_below must not exceed regressing_above")
    s = _series(times, values_ms, "values_ms")
    smooth = s.rolling(_ROLLING_WINDOW, min_periods=1).mean()
    n = int(s.size)
    span = (s.index[-1] - s.index[0]) / _WEEK if n else 0.0
    level = float(smooth.iloc[-1]) if n else math.nan
    common = {
        "n": n,
        "span_weeks": float(span),
        "level_ms": level,
        "rolling_mean": tuple(float(x) for x in smooth.to_numpy()),
        "improving_below": improving_below,
        "regressing_above": regressing_above,
    }
    if n < _MIN_POINTS or span * _WEEK < _MIN_SPAN:
        return TrendVerdict(
            classification="insufficient",
            slope_ms_per_week=math.nan,
            slope_stderr=math.nan,
            r_squared=math.nan,
            fit=None,
            **common,
        )
    weeks = ((s.index - s.index[0]) / _WEEK).to_numpy(dtype=np.float64)
    fit = linear_regression(weeks, s.to_numpy())
    if fit.slope < improving_below:
        cls = "improving"
    elif fit.slope > regressing_above:
        cls = "regressing"
    else:
        cls = "stable"
    return TrendVerdict(
        classification=cls,
        slope_ms_per_week=fit.slope,
        slope_stderr=fit.slope_stderr,
        r_squared=fit.r_squared,
        fit=fit,
        **common,
    )


# --------------------------------------------------------------------------------------------------------
# Monthly regression


@dataclass(frozen=True)
class RegressionVerdict:
    """Result of :func:`monthly_regression`.

    ``change`` is (recent median - previous median) / previous median (signed; for a higher-is-better
    metric a drop is worse). ``worse_by`` is that change oriented so that positive means worse.
    ``regressed`` is ``worse_by > threshold and p_value < alpha``. ``status`` is ``"regressed"``, ``"ok"``
    or ``"insufficient"`` (a window is empty, or the two windows are too small for the rank test ever to
    reach ``alpha``: 4 runs each, weekly, are enough at 0.05). ``hl_shift`` is the Hodges-Lehmann shift
    (recent - previous) in the metric's unit, for the reader.
    """

    status: str
    regressed: bool
    change: float
    worse_by: float
    previous_median: float
    recent_median: float
    hl_shift: float
    p_value: float
    n_previous: int
    n_recent: int
    threshold: float
    alpha: float
    higher_is_better: bool


def monthly_regression(
    times: ArrayLike | Iterable[object],
    values: ArrayLike,
    *,
    threshold: float = 0.05,
    higher_is_better: bool = False,
    alpha: float = 0.05,
    end: object = None,
) -> RegressionVerdict:
    """Compare the last 30 days, ``(end - 30 d, end]``, with the 30 days before, ``(end - 60 d, end - 30 d]``.

    ``end`` defaults to the newest time. Flags a regression when the recent median is worse than the
    previous one by more than ``threshold`` (5%) **and** the two-sided Mann-Whitney U test
    (:func:`engram_harness.stats.rank_sum.mann_whitney`) gives p < ``alpha``, so that one noisy week does
    not raise the alarm by itself.
    """
    s = _series(times, values, "values")
    stop = s.index[-1] if end is None else _as_times([end])[0]
    month = _MONTH_DAYS * _DAY
    recent = s[(s.index > stop - month) & (s.index <= stop)].to_numpy()
    previous = s[(s.index > stop - 2 * month) & (s.index <= stop - month)].to_numpy()
    n_prev, n_rec = int(previous.size), int(recent.size)
    if n_prev == 0 or n_rec == 0 or min_attainable_p(n_prev, n_rec) >= alpha:
        return RegressionVerdict(
            status="insufficient",
            regressed=False,
            change=math.nan,
            worse_by=math.nan,
            previous_median=float(np.median(previous)) if n_prev else math.nan,
            recent_median=float(np.median(recent)) if n_rec else math.nan,
            hl_shift=math.nan,
            p_value=math.nan,
            n_previous=n_prev,
            n_recent=n_rec,
            threshold=threshold,
            alpha=alpha,
            higher_is_better=higher_is_better,
        )
    prev_med, rec_med = float(np.median(previous)), float(np.median(recent))
    if prev_med == 0:
        raise ValueError("the previous month's median is 0; a relative change is undefined")
    change = (rec_med - prev_med) / abs(prev_med)
    worse_by = -change if higher_is_better else change
    p = mann_whitney(previous, recent).p_value
    regressed = bool(worse_by > threshold and p < alpha)
    return RegressionVerdict(
        status="regressed" if regressed else "ok",
        regressed=regressed,
        change=change,
        worse_by=worse_by,
        previous_median=prev_med,
        recent_median=rec_med,
        hl_shift=hodges_lehmann_shift(previous, recent),
        p_value=p,
        n_previous=n_prev,
        n_recent=n_rec,
        threshold=threshold,
        alpha=alpha,
        higher_is_better=higher_is_better,
    )


# --------------------------------------------------------------------------------------------------------
# Gap to a competitor


@dataclass(frozen=True)
class GapVerdict:
    """Result of :func:`gap_shrinking`.

    ``slope_per_month`` is the fitted change of the ratio (engram / competitor) per 30 days;
    ``worsening_per_month`` the same oriented so that positive means moving against us (the ratio rising
    for a lower-is-better metric, falling for a higher-is-better one). ``alert`` is
    ``worsening_per_month > threshold_per_month``. ``ratio_start`` / ``ratio_end`` are the fitted line at
    the first and last point; ``behind`` says the fitted ratio ends on the losing side of 1.
    ``status`` is ``"alert"``, ``"ok"`` or ``"insufficient"`` (fewer than 4 runs or under 2 weeks).
    """

    status: str
    alert: bool
    slope_per_month: float
    worsening_per_month: float
    ratio_start: float
    ratio_end: float
    behind: bool
    r_squared: float
    n: int
    threshold_per_month: float
    higher_is_better: bool


def gap_shrinking(
    ratio_times: ArrayLike | Iterable[object],
    ratios: ArrayLike,
    *,
    threshold_per_month: float = 0.05,
    higher_is_better: bool = False,
) -> GapVerdict:
    """Alert when our advantage over a competitor shrinks by more than ``threshold_per_month``.

    The ratio series (from :func:`ratio_series`) is fitted by least squares against time in units of
    30 days. For a latency (lower is better) a ratio of 0.5 means Engram takes half the competitor's time;
    the advantage is ``1 - ratio``, and the alert fires when the fitted ratio rises by more than
    ``threshold_per_month`` (default 0.05 ratio units, i.e. five points of advantage lost per month).
    For ``qps`` or recall (``higher_is_better``) the advantage is ``ratio - 1`` and a falling ratio counts.
    The same rule fires when we are already behind and falling further behind (``behind`` tells them apart).
    """
    s = _series(ratio_times, ratios, "ratios")
    n = int(s.size)
    span = s.index[-1] - s.index[0] if n else pd.Timedelta(0)
    if n < _MIN_POINTS or span < _MIN_SPAN:
        return GapVerdict(
            status="insufficient",
            alert=False,
            slope_per_month=math.nan,
            worsening_per_month=math.nan,
            ratio_start=math.nan,
            ratio_end=math.nan,
            behind=False,
            r_squared=math.nan,
            n=n,
            threshold_per_month=threshold_per_month,
            higher_is_better=higher_is_better,
        )
    months = ((s.index - s.index[0]) / (_MONTH_DAYS * _DAY)).to_numpy(dtype=np.float64)
    fit = linear_regression(months, s.to_numpy())
    worsening = -fit.slope if higher_is_better else fit.slope
    start, stop = (float(v) for v in fit.predict([months[0], months[-1]]))
    behind = stop < 1.0 if higher_is_better else stop > 1.0
    alert = bool(worsening > threshold_per_month)
    return GapVerdict(
        status="alert" if alert else "ok",
        alert=alert,
        slope_per_month=fit.slope,
        worsening_per_month=float(worsening),
        ratio_start=start,
        ratio_end=stop,
        behind=bool(behind),
        r_squared=fit.r_squared,
        n=n,
        threshold_per_month=threshold_per_month,
        higher_is_better=higher_is_better,
    )


# --------------------------------------------------------------------------------------------------------
# Plot


def plot_ratios(df: pd.DataFrame, workload: str, metric: str, out_png: str | os.PathLike[str]) -> list[str]:
    """Write a PNG of Engram's ratio to each competitor over time (points, and the 4-week rolling mean
    as a line; parity at 1 dashed). Returns the competitors drawn; raises ``ValueError`` if none shares a
    run with Engram for this workload and metric. A competitor measured with several settings in one run
    is drawn once per settings value."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    sel = df[(df["workload"] == workload) & (df["metric"] == metric)]
    engram_settings = sorted(set(sel.loc[sel["system"] == ENGRAM, "settings"]))
    curves: list[tuple[str, pd.Series]] = []
    for comp in sorted(set(sel["system"]) - {ENGRAM}):
        comp_settings: Sequence[str | None] = sorted(set(sel.loc[sel["system"] == comp, "settings"]))
        if len(comp_settings) == 1:
            comp_settings = [None]
        for es in engram_settings if len(engram_settings) > 1 else [None]:
            for cs in comp_settings:
                r = ratio_series(df, workload, metric, comp, engram_settings=es, competitor_settings=cs)
                if r.empty:
                    continue
                label = comp + (f" [{cs}]" if cs else "") + (f" vs engram [{es}]" if es else "")
                curves.append((label, r))
    if not curves:
        raise ValueError(f"no competitor shares a run with {ENGRAM} for {workload}/{metric}")
    fig, ax = plt.subplots(figsize=(8, 4.2))
    try:
        for label, r in curves:
            (line,) = ax.plot(r.index, r.to_numpy(), "o", ms=3, alpha=0.5)
            smooth = r.rolling(_ROLLING_WINDOW, min_periods=1).mean()
            ax.plot(smooth.index, smooth.to_numpy(), "-", color=line.get_color(), label=label)
        ax.axhline(1.0, color="grey", ls="--", lw=1)
        better = "higher" if METRICS.get(metric, False) else "lower"
        ax.set_ylabel(f"{ENGRAM} / competitor ({metric}; {better} is better for {ENGRAM})")
        ax.set_title(f"{workload}: {metric} ratio, 4-week rolling mean")
        ax.legend(fontsize=8)
        fig.autofmt_xdate()
        Path(out_png).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_png, format="png", dpi=90, bbox_inches="tight")
    finally:
        plt.close(fig)
    return sorted({label.split(" ")[0] for label, _ in curves})
