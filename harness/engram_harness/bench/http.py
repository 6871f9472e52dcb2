"""The reference baseline scenario over HTTP: ``engram serve`` plus the open-loop driver with
:class:`engram_harness.driver.http.HttpTarget`, reporting per-operation P50/P95/P99.

    python -m engram_harness.bench.http --scenario acceptance/scenarios/baseline.toml --scale 1.0
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from engram_harness.driver import OpenLoopDriver
from engram_harness.driver.http import HttpTarget
from engram_harness.driver.inprocess import run_inprocess
from engram_harness.scenarios import build_schedule, load_scenario
from engram_harness.server import running_server_process


def _summary(df: pd.DataFrame) -> list[dict[str, object]]:
    cols = ["op", "count", "errors", "throughput", "p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms"]
    return [
        {c: (round(float(r[c]), 3) if c not in ("op",) else r[c]) for c in cols} for _, r in df.iterrows()
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="engram-harness bench http", description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default="acceptance/scenarios/baseline.toml")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the scenario's duration to run")
    p.add_argument("--workers", type=int, default=16, help="driver threads (concurrent requests at most)")
    p.add_argument("--data", help="serve a durable engine in this directory (default: in memory)")
    p.add_argument("--durability", default="group")
    p.add_argument("--inprocess", action="store_true", help="also run the same schedule in process")
    p.add_argument("--inline-engine-calls", action="store_true", help="server option of the same name")
    p.add_argument("--json", help="write the summaries here")
    args = p.parse_args(argv)

    scenario = load_scenario(args.scenario)
    schedule = build_schedule(scenario, profile_scale=args.scale)
    out: dict[str, object] = {"scenario": scenario.name, "scale": args.scale, "ops": len(schedule),
                              "inline_engine_calls": args.inline_engine_calls}  # fmt: skip
    with tempfile.TemporaryDirectory() as logs:
        opts: dict[str, object] = {"no_auth": True, "dim": scenario.data.dim, "log_level": "warning",
                                   "max_inflight": 1024}  # fmt: skip
        if args.data:
            opts["durability"] = args.durability
        if args.inline_engine_calls:
            opts["inline_engine_calls"] = True
        with running_server_process(args.data, log_dir=logs, **opts) as sp:
            target = HttpTarget(sp.url)
            target.ensure_spaces(list(schedule.space_names), scenario.data.dim)
            result = OpenLoopDriver(target, workers=args.workers).run(schedule)
            target.close()
        out["http"] = _summary(result.op_summary())
        out["http_errors"] = result.error_counts()
    if args.inprocess:
        import engram

        with engram.Engine(path=None, dim=scenario.data.dim) as eng:
            ip = run_inprocess(schedule, eng, threads=2)
        out["inprocess"] = _summary(ip.op_summary())
    text = json.dumps(out, indent=2, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
