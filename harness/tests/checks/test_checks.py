"""The single Check type: comparators, intervals, NaN, rows, the recorder and the summary table."""

from __future__ import annotations

import math

import pytest

from engram_harness.checks import Check
from engram_harness.suite import Check as AcceptanceCheck
from engram_harness.suite import CheckRecorder
from engram_harness.suite.summary import checks_table


def test_one_check_type_for_scenarios_and_suites() -> None:
    assert AcceptanceCheck is Check


@pytest.mark.parametrize(
    ("measured", "comparator", "threshold", "passed"),
    [
        (1.0, "<=", 1.0, True),
        (1.0001, "<=", 1.0, False),
        (1.0, "<", 1.0, False),
        (2.0, ">=", 2.0, True),
        (2.0, ">", 2.0, False),
        (0.0, "==", 0.0, True),
        (1.0, "==", 0.0, False),
        (0.5, "in", (0.5, 0.9), True),
        (0.95, "in", (0.5, 0.9), False),
        (math.nan, "<=", 1.0, False),
        (math.nan, "in", (0.0, 1.0), False),
    ],
)
def test_comparators(measured: float, comparator: str, threshold: object, passed: bool) -> None:
    assert Check("x", measured, threshold, comparator).passed is passed  # type: ignore[arg-type]


def test_bad_comparators_say_what_is_expected() -> None:
    with pytest.raises(ValueError, match="unknown comparator '~'"):
        Check("x", 1.0, 1.0, "~")
    with pytest.raises(TypeError, match=r"needs a \(low, high\) threshold"):
        Check("x", 1.0, 1.0, "in")
    with pytest.raises(TypeError, match="needs a scalar threshold"):
        Check("x", 1.0, (0.0, 1.0), "<=")


def test_rows_split_interval_thresholds() -> None:
    row = Check("ratio", 2.0, (1.8, 2.2), "in", "x", "recent/old", "suite.py").as_row()
    assert (row["threshold"], row["threshold_high"], row["passed"], row["suite"]) == (
        1.8,
        2.2,
        True,
        "suite.py",
    )
    scalar = Check("p99", 3.0, 5.0, "<=", "ms").to_row()
    assert scalar["threshold"] == 5.0 and math.isnan(scalar["threshold_high"])


def test_recorder_keeps_every_measurement_and_lists_misses() -> None:
    rec = CheckRecorder(suite="perf/test_x.py")
    assert rec.check("p99", 3.0, "<=", 5.0, "ms")
    assert not rec.check("throughput", 900.0, ">=", 949.9, "ops/s", note="2 cores")
    assert rec.add(Check("error_rate", 0.0, 0.0, "<=", "fraction", "from evaluate"))
    assert [c.suite for c in rec.checks] == ["perf/test_x.py"] * 3
    assert rec.checks[1].note == "2 cores" and rec.checks[2].detail == "from evaluate"
    with pytest.raises(
        AssertionError, match=r"FAIL perf/test_x.py: throughput = 900 ops/s \(required >= 949.9"
    ):
        rec.assert_all()
    with pytest.raises(AssertionError, match="no checks were recorded"):
        CheckRecorder(suite="empty").assert_all()


def test_summary_table_lists_measured_and_required() -> None:
    lines = checks_table(
        [
            Check("p99", 81.7, 50.0, "<=", "ms", suite="a.py"),
            Check("ratio", 2.0, (1.8, 2.2), "in", suite="b.py"),
        ]
    )
    assert lines[0].split() == ["result", "suite", "check", "measured", "required"]
    assert lines[2].split() == ["FAIL", "a.py", "p99", "81.7", "ms", "<=", "50", "ms"]
    assert lines[3].split() == ["PASS", "b.py", "ratio", "2", "in", "[1.8,", "2.2]"]
    assert lines[-1] == "1 of 2 checks passed"
