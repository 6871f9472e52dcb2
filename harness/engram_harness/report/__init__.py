"""Reports (self-contained HTML and Markdown) built from ``results/<run-id>/`` only."""

from engram_harness.report.compare import compare_tables, statistical_verdicts
from engram_harness.report.report import ReportFiles, write_report

__all__ = ["ReportFiles", "compare_tables", "statistical_verdicts", "write_report"]
