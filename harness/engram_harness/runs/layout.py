"""File names inside ``results/<run-id>/``."""

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
WINDOWS = "windows.parquet"  # one row per operation type per time window
OPS = "ops.parquet"  # one row per operation type (and "all")
CHECKS = "checks.parquet"  # one row per check
HISTOGRAMS = "histograms.parquet"  # one row per non-empty latency bucket per operation type
ERRORS = "errors.parquet"  # one row per (operation type, error class)
LATENCIES = "latencies.parquet"  # optional: one row per operation (raw samples, for statistics)
TESTS = "tests.parquet"  # acceptance sessions: one row per test (outcome, duration)
VERDICTS = "verdicts.parquet"  # regression gate: one row per statistical comparison
RUNS = "runs"  # acceptance sessions: runs/<scenario>/ holds each scenario run's own results directory

SCHEMA_VERSION = 1
