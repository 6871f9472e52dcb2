"""Run results: ``results/<run-id>/`` with a manifest, a JSON summary and tidy Parquet tables.

>>> from engram_harness import runs  # doctest: +SKIP
>>> run = runs.load("results/20250101T000000Z-abcdef")
>>> run.ops[["op", "p99_ms"]]
"""

from engram_harness.runs.fingerprint import fingerprint_key, machine_fingerprint
from engram_harness.runs.git import git_info
from engram_harness.runs.loader import RunData, latest_run, list_runs, load
from engram_harness.runs.run_id import new_run_id
from engram_harness.runs.session import SessionResults, TestOutcome, write_session_results
from engram_harness.runs.writer import write_run

__all__ = [
    "RunData",
    "SessionResults",
    "TestOutcome",
    "fingerprint_key",
    "git_info",
    "latest_run",
    "list_runs",
    "load",
    "machine_fingerprint",
    "new_run_id",
    "write_run",
    "write_session_results",
]
