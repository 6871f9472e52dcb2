"""Acceptance plumbing: --profile, shared fixtures, recorded checks and the end-of-run summary.

Every suite records its thresholds through the ``checks`` fixture; at the end of the session all
checks are written to ``results/<run-id>/`` (through engram.results) and printed as a table with
the measured value next to the required one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engram.acceptance import Check, CheckRecorder, Profile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "datasets"))  # engram_datasets (kept out of the installed package)

_SESSION_CHECKS: list[Check] = []


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


@pytest.fixture
def checks(request: pytest.FixtureRequest) -> Iterator[CheckRecorder]:
    recorder = CheckRecorder(suite=request.node.nodeid.split("::")[0].removeprefix("acceptance/"))
    yield recorder
    _SESSION_CHECKS.extend(recorder.checks)


@pytest.fixture
def engine() -> Iterator[object]:
    import engram

    with engram.Engine(path=None, dim=768) as eng:
        yield eng


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if not _SESSION_CHECKS:
        return
    tr = terminalreporter
    tr.section("Engram acceptance checks (measured vs required)")
    for c in _SESSION_CHECKS:
        tr.write_line(c.describe())
    passed = sum(c.passed for c in _SESSION_CHECKS)
    tr.write_line(f"{passed} of {len(_SESSION_CHECKS)} checks passed")
    out = _write_checks(Path(str(config.getoption("--results-dir"))), str(config.getoption("--profile")))
    if out is not None:
        tr.write_line(f"results: {out}")


def _write_checks(results_dir: Path, profile: str) -> Path | None:
    try:
        from engram.acceptance.session_results import write_session_results
    except ImportError:
        return None
    return write_session_results(results_dir, profile, _SESSION_CHECKS)
