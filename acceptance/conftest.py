"""Acceptance plumbing: --profile, shared fixtures, recorded checks and the end-of-run summary.

Every suite records its thresholds through the ``checks`` fixture and its scenario runs through the
``session_results`` fixture; at the end of the session every check, test outcome and run is written
to ``results/<run-id>/`` (engram_harness.runs.session, layout in docs/acceptance.md) and the checks are
printed as a table with the measured value next to the required one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engram_harness.suite import Check, CheckRecorder, Profile, SessionResults, TestOutcome
from engram_harness.suite.summary import checks_table

ROOT = Path(__file__).resolve().parent.parent

_SESSION_CHECKS: list[Check] = []
_TESTS: dict[str, TestOutcome] = {}  # node id -> outcome, in run order
_SESSION: list[SessionResults] = []  # the session's results directory, created on first use


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("engram")
    group.addoption("--profile", default=os.environ.get("ENGRAM_PROFILE", "quick"),
                    choices=["quick", "full", "soak"], help="size of the run (quick is what CI runs)")  # fmt: skip
    group.addoption("--results-dir", default=os.environ.get("ENGRAM_RESULTS_DIR", str(ROOT / "results")),
                    help="where results/<run-id>/ is written")  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    for marker in ("phase1: performance infrastructure suites", "workflow: production-readiness workflows",
                   "engine: engine-level acceptance checks", "slow: long even in the quick profile"):  # fmt: skip
        config.addinivalue_line("markers", marker)


@pytest.fixture(scope="session")
def profile(request: pytest.FixtureRequest) -> Profile:
    return Profile(str(request.config.getoption("--profile")))


def _session(config: pytest.Config) -> SessionResults:
    if not _SESSION:
        import engram

        _SESSION.append(SessionResults(Path(str(config.getoption("--results-dir"))),
                                       str(config.getoption("--profile")), simd_level=engram.simd_level))  # fmt: skip
    return _SESSION[0]


@pytest.fixture(scope="session")
def session_results(request: pytest.FixtureRequest) -> SessionResults:
    """The session's ``results/<run-id>/``: suites add scenario runs with ``session_results.add_run``."""
    return _session(request.config)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    xfail = hasattr(report, "wasxfail")
    if report.when == "call" or (report.when == "setup" and not report.passed):
        outcome = report.outcome
        if xfail:
            outcome = "xfailed" if report.skipped else "xpassed"
        elif report.when == "setup" and report.failed:
            outcome = "error"
        message = str(getattr(report, "wasxfail", "") or (report.longreprtext.splitlines() or [""])[-1])
        _TESTS[report.nodeid] = TestOutcome(report.nodeid, outcome, float(report.duration), message[:500])
    elif report.when == "teardown" and report.failed:
        _TESTS[report.nodeid] = TestOutcome(report.nodeid, "error", float(report.duration), "teardown failed")


@pytest.fixture
def checks(request: pytest.FixtureRequest) -> Iterator[CheckRecorder]:
    recorder = CheckRecorder(suite=request.node.nodeid.split("::")[0].removeprefix("acceptance/"))
    yield recorder
    _SESSION_CHECKS.extend(recorder.checks)
    # A missed threshold fails its test even where the test forgot checks.assert_all() (a passed
    # call with a failed check would otherwise be reported as a pass).
    outcome = _TESTS.get(request.node.nodeid)
    if recorder.failed and outcome is not None and outcome.outcome == "passed":
        raise AssertionError(
            "thresholds missed (and the test did not call checks.assert_all()):\n"
            + "\n".join(c.describe() for c in recorder.failed)
        )


@pytest.fixture
def engine() -> Iterator[object]:
    import engram

    with engram.Engine(path=None, dim=768) as eng:
        yield eng


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if not _TESTS and not _SESSION_CHECKS:
        return  # nothing ran (e.g. --collect-only)
    tr = terminalreporter
    tr.section("Engram acceptance checks (measured vs required)")
    for line in checks_table(_SESSION_CHECKS):
        tr.write_line(line)
    from engram_harness.suite.session import write_session_results

    out = write_session_results(config.getoption("--results-dir"), str(config.getoption("--profile")),
                                _SESSION_CHECKS, session=_session(config), tests=_TESTS.values(),
                                pytest_args=config.invocation_params.args)  # fmt: skip
    tr.write_line(f"results: {out}")
