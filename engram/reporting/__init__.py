"""Reports (self-contained HTML and Markdown) built from ``results/<run-id>/`` only."""

from engram.reporting.compare import compare_tables, statistical_verdicts
from engram.reporting.report import ReportFiles, write_report

__all__ = ["ReportFiles", "compare_tables", "statistical_verdicts", "write_report"]
