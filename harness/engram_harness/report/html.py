"""Self-contained HTML report (inline CSS, figures as data URIs, no external resources)."""

from __future__ import annotations

import html
import json
from typing import Any

import pandas as pd

from engram_harness.report.markdown import VERDICT_COLUMNS, _present
from engram_harness.runs.loader import RunData

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f2f2f2}td.l,th.l{text-align:left}
tr.fail td{background:#fde2e2}tr.pass td{background:#e6f5e6}
.badge{display:inline-block;padding:.2em .8em;border-radius:.3em;color:#fff;font-weight:bold}
.PASS{background:#2e7d32}.FAIL{background:#c62828}
img{max-width:100%}pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:.8em}
"""


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def html_table(df: pd.DataFrame, row_class: pd.Series | None = None) -> str:
    if df.empty:
        return "<p><em>(none)</em></p>"
    head = "".join(f"<th class='l'>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for i, row in enumerate(df.itertuples(index=False)):
        cls = f" class='{row_class.iloc[i]}'" if row_class is not None else ""
        cells = "".join(
            f"<td class='l'>{_cell(v)}</td>" if isinstance(v, str) else f"<td>{_cell(v)}</td>" for v in row
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(
    run: RunData,
    figures: dict[str, str],
    baseline: RunData | None = None,
    comparison: pd.DataFrame | None = None,
    verdicts: list[dict[str, Any]] | None = None,
) -> str:
    s = run.summary
    status = "PASS" if run.passed else "FAIL"
    checks = run.checks[_present(run.checks, "suite", "name", "measured", "comparator", "threshold",
                                 "threshold_high", "unit", "passed", "detail")]  # fmt: skip
    row_class = checks["passed"].map({True: "pass", False: "fail"})
    esc = html.escape
    scenario = run.manifest.get("scenario", {})
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Engram run {esc(run.run_id)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(str(s.get('scenario')))} <span class='badge {status}'>{status}</span></h1>",
        f"<p>Run <code>{esc(run.run_id)}</code>, profile <b>{esc(str(s.get('profile')))}</b>, executor "
        f"{esc(str(s.get('executor')))}, seed {esc(str(run.manifest.get('seed')))}, "
        f"{s.get('operations')} operations, {s.get('errors')} errors, "
        f"throughput {_cell(s.get('throughput'))} ops/s "
        f"over {_cell(s.get('wall_time_s'))} s.</p>",
        "<h2>Checks</h2>",
        html_table(checks, row_class),
        "<h2>Operations</h2><p>Latency in ms, measured from each operation's intended start.</p>",
        html_table(run.ops.drop(columns=[c for c in ("overflow",) if c in run.ops.columns])),
    ]
    if len(run.errors):
        out += ["<h2>Errors</h2>", html_table(run.errors)]
    tests, gate = run.tests, run.verdicts
    if tests is not None and len(tests):
        classes = tests["outcome"].map(lambda o: "fail" if o in ("failed", "error") else "pass")
        out += ["<h2>Tests</h2>", html_table(tests, classes)]
    if gate is not None and len(gate):
        classes = gate["regression"].map({True: "fail", False: "pass"})
        out += ["<h2>Regression verdicts</h2>", html_table(gate[_present(gate, *VERDICT_COLUMNS)], classes)]
    for title, uri in figures.items():
        out.append(f"<h2>{esc(title)}</h2><img alt='{esc(title)}' src='{uri}'>")
    if baseline is not None:
        out.append(f"<h2>Comparison with {esc(baseline.run_id)}</h2>")
        if comparison is not None:
            out.append(html_table(comparison))
        if verdicts:
            out.append(
                "<ul>"
                + "".join(f"<li><b>{esc(v['op'])}</b>: {esc(v['text'])}</li>" for v in verdicts)
                + "</ul>"
            )
    out += [
        "<h2>Manifest</h2>",
        f"<pre>{esc(json.dumps({k: v for k, v in run.manifest.items() if k != 'scenario'}, indent=2))}</pre>",
        "<h2>Scenario</h2>",
        f"<pre>{esc(str(scenario.get('toml') or scenario.get('name')))}</pre>",
        "</body></html>",
    ]
    return "\n".join(out)
