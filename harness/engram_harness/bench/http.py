"""A scenario over HTTP: the C++ open-loop executor's HTTP target (keep-alive connections, latency
from each intended start) against ``engram serve`` started here, or against any API v1 server given
with ``--target``; per-operation P50/P95/P99 and the CPU each side spent per operation.

    engram-harness bench http --scenario acceptance/scenarios/baseline.toml --scale 1.0 --inprocess
    engram-harness bench http --target http://127.0.0.1:8080 --api-key engram_<id>_<secret> --connections 32

``--driver python`` runs the pure-Python driver (``engram.client``) instead: for functional checks,
not for measuring a server (it spends about as much CPU per request as the server it measures).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from engram_harness.driver import OpenLoopDriver, RunResult
from engram_harness.driver.executor_io import preload_batches
from engram_harness.driver.http import HttpTarget
from engram_harness.driver.native_http import preload_http, run_http
from engram_harness.scenarios import Schedule, build_schedule, load_scenario
from engram_harness.scenarios.scenario import Scenario
from engram_harness.server import ServerProcess, start_server


def summary_rows(df: pd.DataFrame) -> list[dict[str, object]]:
    cols = ["op", "count", "errors", "throughput", "p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms"]
    return [{c: (r[c] if c == "op" else round(float(r[c]), 3)) for c in cols} for _, r in df.iterrows()]


def server_command() -> list[str] | None:
    """The server under test: ``ENGRAM_SERVER_COMMAND`` (a command line, e.g. a sanitizer build's
    ``engramd``) or, unset, the installed ``engram serve`` (which execs ``engramd``). Either gets
    ``serve``'s flags appended."""
    cmd = os.environ.get("ENGRAM_SERVER_COMMAND", "").split()
    return cmd or None


@contextlib.contextmanager
def serving(dim: int, *, data: str | None = None, durability: str = "group", command: list[str] | None = None,
            **opts: Any) -> Iterator[ServerProcess]:  # fmt: skip
    """A started server (in memory unless ``data``), no auth, ready; stopped on exit."""
    with tempfile.TemporaryDirectory() as logs:
        flags: dict[str, Any] = {
            "no_auth": True,
            "dim": dim,
            "log_level": "warning",
            "max_inflight": 1024,
            **opts,
        }
        if data:
            flags["durability"] = durability
        sp = start_server(data, log_dir=logs, command=command, **flags)
        try:
            yield sp
        finally:
            if sp.exit_code is None:
                sp.stop()


def ensure_spaces(url: str, schedule: Schedule, dim: int, api_key: str | None = None) -> None:
    target = HttpTarget(url, api_key)
    try:
        target.ensure_spaces(list(schedule.space_names), dim)
    finally:
        target.close()


def preload_inprocess(schedule: Schedule, engine: Any, batch: int = 1024) -> None:
    """Remember the preload items in process, spread over the spaces as over HTTP."""
    spaces = [
        engine.space(n) if n in engine.spaces() else engine.create_space(n) for n in schedule.space_names
    ]
    for s, vecs, contents in preload_batches(schedule, batch):
        spaces[s].remember_batch(vecs, contents=contents)


def run_schedule_over_http(
    scenario: Scenario,
    schedule: Schedule,
    url: str,
    *,
    api_key: str | None = None,
    connections: int = 16,
    threads: int = 1,
    server_pid: int | None = None,
    driver: str = "native",
    workers: int = 16,
    embeddings: Literal["base64", "json"] = "base64",
) -> tuple[RunResult, dict[str, Any]]:
    """Create the spaces, preload (batch route, untimed), run the schedule; returns the result and
    the resources spent (driver and server CPU per operation, connections, bytes)."""
    ensure_spaces(url, schedule, scenario.data.dim, api_key)
    extra: dict[str, Any] = {"driver": driver, "preload": schedule.preload}
    if schedule.preload:
        extra["preload_s"] = round(preload_http(schedule, url, api_key=api_key), 2)
        schedule = dataclasses.replace(schedule, preload=0)
    if driver == "native":
        run = run_http(schedule, url, api_key=api_key, connections=connections, threads=threads,
                       server_pid=server_pid, embeddings=embeddings)  # fmt: skip
        extra |= {"connections": connections, "threads": threads, "embeddings": embeddings, **run.resources()}
        return run.result, extra
    import time

    from engram_harness.driver.native_http import process_cpu_s

    target = HttpTarget(url, api_key)
    server0 = process_cpu_s(server_pid) if server_pid else math.nan
    cpu0 = time.process_time()
    result = OpenLoopDriver(target, workers=workers).run(schedule)
    driver_cpu = time.process_time() - cpu0
    server_cpu = process_cpu_s(server_pid) - server0 if server_pid else math.nan
    target.close()
    n = int((result.actual_start_ns >= 0).sum()) or 1
    extra |= {"workers": workers, "driver_cpu_s": round(driver_cpu, 3), "server_cpu_s": round(server_cpu, 3),
              "driver_cpu_ms_per_op": round(1e3 * driver_cpu / n, 4),
              "server_cpu_ms_per_op": round(1e3 * server_cpu / n, 4)}  # fmt: skip
    return result, extra


def add_embeddings_argument(p: argparse.ArgumentParser) -> None:
    """``--embeddings``: how the load generator's request bodies carry vectors."""
    p.add_argument(
        "--embeddings",
        choices=["base64", "json"],
        default="base64",
        help="vectors in request bodies: base64 float32 (engramd) or JSON arrays (any API v1 server)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="engram-harness bench http", description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default="acceptance/scenarios/baseline.toml")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the scenario's duration to run")
    p.add_argument("--preload", type=int, help="memories to preload (untimed), overriding the scenario's")
    p.add_argument("--target", help="an API v1 server's URL (http://host:port); default: start engram serve")
    p.add_argument("--api-key", help="sent as 'Authorization: Bearer <key>'")
    p.add_argument("--connections", type=int, default=16, help="keep-alive connections (native driver)")
    p.add_argument("--threads", type=int, default=1, help="I/O threads of the native driver")
    p.add_argument("--driver", choices=["native", "python"], default="native")
    p.add_argument("--workers", type=int, default=16, help="threads of the python driver")
    p.add_argument("--data", help="serve a durable engine in this directory (default: in memory)")
    p.add_argument("--durability", default="group")
    p.add_argument("--inprocess", action="store_true", help="also run the same schedule in process")
    p.add_argument("--results", help="write the run(s) to DIR/<run-id>/ (the run store's layout)")
    add_embeddings_argument(p)
    p.add_argument("--json", help="write the summaries here")
    args = p.parse_args(argv)

    scenario = load_scenario(args.scenario)
    schedule = build_schedule(scenario, profile_scale=args.scale)
    if args.preload is not None:
        schedule = dataclasses.replace(schedule, preload=args.preload)
    out: dict[str, Any] = {"scenario": scenario.name, "scale": args.scale, "ops": len(schedule),
                           "preload": schedule.preload, "host_load_before": os.getloadavg()}  # fmt: skip
    if args.target:
        result, extra = run_schedule_over_http(
            scenario, schedule, args.target, api_key=args.api_key, connections=args.connections,
            threads=args.threads, driver=args.driver, workers=args.workers, embeddings=args.embeddings,
        )  # fmt: skip
    else:
        with serving(scenario.data.dim, data=args.data, durability=args.durability,
                     command=server_command()) as sp:  # fmt: skip
            result, extra = run_schedule_over_http(
                scenario, schedule, sp.url, connections=args.connections, threads=args.threads,
                server_pid=sp.proc.pid, driver=args.driver, workers=args.workers, embeddings=args.embeddings,
            )  # fmt: skip
    out["http"] = summary_rows(result.op_summary())
    out["http_errors"] = result.error_counts()
    out["http_resources"] = extra
    runs: list[tuple[RunResult, dict[str, Any]]] = [(result, extra)]
    if args.inprocess:
        import engram
        from engram_harness.driver.inprocess import run_inprocess

        with engram.Engine(path=None, dim=scenario.data.dim) as eng:
            preload_inprocess(schedule, eng)
            ip = run_inprocess(dataclasses.replace(schedule, preload=0), eng, threads=2)
        out["inprocess"] = summary_rows(ip.op_summary())
        runs.append((ip, {"path": "inprocess"}))
    out["host_load_after"] = os.getloadavg()
    if args.results:
        from engram_harness.runs.writer import write_run

        out["run_dirs"] = [
            str(write_run(r, scenario=scenario, root=args.results, profile_scale=args.scale, extra=x))
            for r, x in runs
        ]
    text = json.dumps(out, indent=2, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
