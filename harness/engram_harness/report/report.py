"""``write_report``: HTML and Markdown reports of a results directory (reads only the results files)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engram_harness.report.compare import compare_tables, statistical_verdicts
from engram_harness.report.html import render_html
from engram_harness.report.markdown import render_markdown
from engram_harness.report.plots import latency_distribution, time_series
from engram_harness.runs.loader import RunData, load


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    markdown: Path


def write_report(
    run_dir: str | Path,
    against: str | Path | None = None,
    *,
    out_dir: str | Path | None = None,
    figures: bool = True,
) -> ReportFiles:
    """Write ``report.html`` and ``report.md`` into ``out_dir`` (default: the run directory).

    With ``against`` (another run directory), add a comparison section: quantile and throughput
    ratios and, when both runs kept raw latencies, ``engram_harness.stats.compare`` verdicts per operation."""
    run = load(run_dir)
    baseline: RunData | None = load(against) if against is not None else None
    comparison = compare_tables(run, baseline) if baseline is not None else None
    verdicts = statistical_verdicts(run, baseline) if baseline is not None else None
    figs: dict[str, str] = {}
    if figures:
        figs["Latency distribution"] = latency_distribution([run] if baseline is None else [run, baseline])
        figs["Per-second time series"] = time_series(run, baseline)
    target = Path(out_dir) if out_dir is not None else Path(run_dir)
    target.mkdir(parents=True, exist_ok=True)
    html_path, md_path = target / "report.html", target / "report.md"
    html_path.write_text(render_html(run, figs, baseline, comparison, verdicts), encoding="utf-8")
    md_path.write_text(render_markdown(run, comparison, verdicts), encoding="utf-8")
    return ReportFiles(html_path, md_path)
