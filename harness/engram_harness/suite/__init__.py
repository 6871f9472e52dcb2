"""Support for the acceptance suites: profiles, recorded threshold checks and session results."""

from engram_harness.checks import Check, CheckRecorder
from engram_harness.suite.components import missing_component, require_modules
from engram_harness.suite.profile import Profile
from engram_harness.suite.session import SessionResults, TestOutcome, write_session_results

__all__ = [
    "Check",
    "CheckRecorder",
    "Profile",
    "SessionResults",
    "TestOutcome",
    "missing_component",
    "require_modules",
    "write_session_results",
]
