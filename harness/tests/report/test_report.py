from __future__ import annotations

from pathlib import Path

from engram_harness import runs
from engram_harness.driver import InMemoryTarget, OpenLoopDriver
from engram_harness.report import write_report
from engram_harness.scenarios import build_schedule, parse_scenario

SCENARIO = """
name = "report"
duration_s = 0.4
seed = 8
[arrival]
pattern = "constant"
rate = 300
[operations]
remember = 0.6
search = 0.4
[data]
dim = 8
[thresholds]
max_error_rate = 0.0
min_throughput = 10
[thresholds.p99_ms]
all = 1000
remember = 0.000001
[thresholds.relative]
max_p99_increase = 0.05
"""


def _run(root: Path, raw: bool) -> Path:
    sc = parse_scenario(SCENARIO, "report.toml")
    res = OpenLoopDriver(InMemoryTarget(8), workers=2).run(build_schedule(sc))
    return runs.write_run(res, scenario=sc, root=root, raw=raw)


def test_report_renders_every_check(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, raw=False)
    files = write_report(run_dir)
    html = files.html.read_text()
    md = files.markdown.read_text()
    checks = runs.load(run_dir).checks
    assert len(checks) == 4
    for name in checks["name"]:
        assert name in html and name in md
    assert "FAIL" in html and md.startswith("# FAIL")
    assert "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html  # self-contained
    assert "Comparison" not in html


def test_report_with_baseline(tmp_path: Path) -> None:
    base = _run(tmp_path, raw=False)
    new = _run(tmp_path, raw=False)
    files = write_report(new, against=base, out_dir=tmp_path / "report", figures=False)
    html = files.html.read_text()
    assert f"Comparison with {base.name}" in html
    assert "p99_ms" in files.markdown.read_text()
    assert "raw latencies not recorded" in html
