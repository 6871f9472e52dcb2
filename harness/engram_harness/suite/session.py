"""What an acceptance session writes: ``results/<run-id>/`` through :mod:`engram_harness.runs.session`.

``acceptance/conftest.py`` creates one :class:`SessionResults` per pytest session (the
``session_results`` fixture), suites add their scenario runs with ``session_results.add_run(...)``,
and at the end of the session every recorded check and test outcome is written with
:func:`write_session_results`.
"""

from engram_harness.runs.session import SessionResults, TestOutcome, write_session_results

__all__ = ["SessionResults", "TestOutcome", "write_session_results"]
