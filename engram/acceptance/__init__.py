"""Support for the acceptance suites: profiles and recorded threshold checks."""

from engram.acceptance.checks import Check, CheckRecorder
from engram.acceptance.profile import Profile

__all__ = ["Check", "CheckRecorder", "Profile"]
