"""Support for the acceptance suites: profiles, recorded threshold checks and session results."""

from engram.acceptance.checks import Check, CheckRecorder
from engram.acceptance.profile import Profile
from engram.acceptance.session_results import SessionResults, TestOutcome, write_session_results

__all__ = ["Check", "CheckRecorder", "Profile", "SessionResults", "TestOutcome", "write_session_results"]
