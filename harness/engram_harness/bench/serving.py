"""The serving benchmark of issue 13 ("What it must reach"), driver and server on one host, with the
C++ executor's HTTP target as the load generator:

(a) the baseline scenario over HTTP at 1,000 ops/s on 10K preloaded 768-d memories (seeds' budget:
    P99 <= 0.526 ms, P95 <= 0.458 ms, >= 949.9 ops/s, 0 errors);
(b) search saturation (k=10, 10K x 768): the offered rate ramps until throughput stops rising;
    saturation req/s and server CPU per search over HTTP, against the same search in process;
(c) the baseline mix's saturation over HTTP against in process, measured in the same run;
(d) side by side: every server given (``--server NAME=COMMAND``; default the one
    ``ENGRAM_SERVER_COMMAND`` names, else ``engram serve``) and the in-process engine, the same
    schedule, repeats interleaved; medians, P99 and spread over the repeats.

    engram-harness bench serving --repeats 3 --json serving.json --markdown serving.md
    engram-harness bench serving --server release=engramd --server asan=/path/to/asan-build/engramd

Figures go to JSON and a markdown table; they are recorded in docs/performance.md, never asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shlex
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engram_harness.bench.http import (
    add_embeddings_argument,
    ensure_spaces,
    preload_inprocess,
    server_command,
    serving,
)
from engram_harness.driver import RunResult
from engram_harness.driver.inprocess import run_inprocess
from engram_harness.driver.native_http import preload_http, run_http
from engram_harness.scenarios import Constant, Schedule, build_schedule, load_scenario, parse_scenario
from engram_harness.scenarios.scenario import Scenario

BASELINE = "acceptance/scenarios/baseline.toml"
SEARCH_TOML = """
name = "search-k10"
description = "search only, k = 10, fresh queries, on the preloaded store"
duration_s = {duration}
seed = 11
[arrival]
pattern = "constant"
rate = {rate}
[operations]
search = 1.0
[keys]
queries = "fresh"
[data]
dim = {dim}
distribution = "clustered"
clusters = 10
sigma = 0.1
preload = {preload}
[spaces]
names = ["default"]
[params]
search_k = [10, 10]
"""


def _row(result: RunResult) -> dict[str, Any]:
    all_ = result.op_summary().set_index("op").loc["all"]
    return {
        "ops": len(result),
        "errors": result.errors,
        "error_counts": result.error_counts(),
        "throughput": round(float(result.throughput), 1),
        **{k: round(float(all_[k]), 4) for k in ("p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms")},
        "p99_max_over_ops_ms": round(float(result.op_summary().query("op != 'all'")["p99_ms"].max()), 4),
    }


def _with_rate(scenario: Scenario, rate: float, duration_s: float) -> Scenario:
    return dataclasses.replace(scenario, arrival=Constant(rate=rate), duration_s=duration_s)


def _search_scenario(dim: int, preload: int, rate: float = 1000, duration_s: float = 5) -> Scenario:
    return parse_scenario(
        SEARCH_TOML.format(duration=duration_s, rate=rate, dim=dim, preload=preload), "search"
    )


def _rates(start: float, factor: float, limit: float) -> list[float]:
    if not (start > 0 and factor > 1 and limit >= start):
        raise ValueError(f"a ramp needs 0 < start <= limit and factor > 1; got {start}, {limit}, {factor}")
    out, r = [], start
    while r <= limit:  # bounded: geometric up to limit
        out.append(round(r))
        r *= factor
    return out


def ramp(step: Callable[[float], dict[str, Any]], rates: Sequence[float]) -> dict[str, Any]:
    """Run ``step`` at rising offered rates until throughput stops rising: the achieved rate falls
    below 90 % of the offered one, or gains under 5 % over the best so far."""
    steps: list[dict[str, Any]] = []
    best = 0.0
    for rate in rates:
        s = step(rate)
        steps.append(s)
        if s["throughput"] < 0.9 * rate or s["throughput"] < 1.05 * best:
            break
        best = max(best, s["throughput"])
    top = max(steps, key=lambda s: s["throughput"])
    return {"saturation_ops_s": top["throughput"], "at_offered": top["offered"], "steps": steps,
            "cpu_ms_per_op_at_saturation": top.get("server_cpu_ms_per_op", top.get("cpu_ms_per_op"))}  # fmt: skip


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.baseline = load_scenario(args.scenario)
        self.dim = self.baseline.data.dim

    # -- one server: start, preload, run ------------------------------------------------------
    def http_run(self, command: list[str] | None, schedule: Schedule) -> dict[str, Any]:
        with serving(self.dim, command=command) as sp:
            ensure_spaces(sp.url, schedule, self.dim)
            preload_s = preload_http(schedule, sp.url)
            run = run_http(dataclasses.replace(schedule, preload=0), sp.url, connections=self.args.connections,
                           server_pid=sp.proc.pid, embeddings=self.args.embeddings)  # fmt: skip
        return {**_row(run.result), **run.cpu_per_op_ms(), "preload_s": round(preload_s, 1),
                "connections_opened": run.connections_opened}  # fmt: skip

    def inprocess_run(self, schedule: Schedule) -> dict[str, Any]:
        import engram

        with engram.Engine(path=None, dim=self.dim) as eng:
            preload_inprocess(schedule, eng)
            cpu0 = time.process_time()
            result = run_inprocess(dataclasses.replace(schedule, preload=0), eng, threads=2)
            cpu = time.process_time() - cpu0
        return {**_row(result), "cpu_ms_per_op": round(1e3 * cpu / max(1, len(result)), 5)}

    # -- (a) and (d) ---------------------------------------------------------------------------
    def side_by_side(self, servers: dict[str, list[str] | None]) -> dict[str, Any]:
        sc = dataclasses.replace(self.baseline, preload=self.args.preload)
        schedule = build_schedule(sc, profile_scale=self.args.scale)
        reps: dict[str, list[dict[str, Any]]] = {name: [] for name in [*servers, "inprocess"]}
        for r in range(self.args.repeats):  # interleaved, so drifting host load hits every path alike
            for name, cmd in servers.items():
                reps[name].append({**self.http_run(cmd, schedule), "load": os.getloadavg()[0]})
                _log(f"baseline rep {r} {name}: {reps[name][-1]}")
            reps["inprocess"].append({**self.inprocess_run(schedule), "load": os.getloadavg()[0]})
            _log(f"baseline rep {r} inprocess: {reps['inprocess'][-1]}")
        return {"ops": len(schedule), "preload": sc.preload, "duration_s": schedule.duration_s,
                "paths": {name: _medians(rows) for name, rows in reps.items()}}  # fmt: skip

    # -- (b) and (c) ---------------------------------------------------------------------------
    def saturation(self, command: list[str] | None, scenario: Scenario, start: float) -> dict[str, Any]:
        """HTTP and in-process ramps of ``scenario`` on stores preloaded once each."""
        a = self.args
        rates = _rates(start, a.ramp_factor, a.ramp_max)
        first = build_schedule(_with_rate(scenario, rates[0], a.step_s))
        out: dict[str, Any] = {}
        with serving(self.dim, command=command) as sp:
            ensure_spaces(sp.url, first, self.dim)
            preload_http(first, sp.url)

            def http_step(rate: float) -> dict[str, Any]:
                s = dataclasses.replace(build_schedule(_with_rate(scenario, rate, a.step_s)), preload=0)
                run = run_http(s, sp.url, connections=a.saturation_connections, server_pid=sp.proc.pid,
                               grace_s=2.0, request_timeout_s=5.0, embeddings=a.embeddings)  # fmt: skip
                row = {"offered": rate, **_row(run.result), **run.cpu_per_op_ms()}
                _log(f"{scenario.name} http {row}")
                return row

            out["http"] = ramp(http_step, rates)
        import engram

        with engram.Engine(path=None, dim=self.dim) as eng:
            preload_inprocess(first, eng)

            def inprocess_step(rate: float) -> dict[str, Any]:
                s = dataclasses.replace(build_schedule(_with_rate(scenario, rate, a.step_s)), preload=0)
                cpu0 = time.process_time()
                res = run_inprocess(s, eng, threads=2, grace_s=2.0)
                cpu = time.process_time() - cpu0
                row = {"offered": rate, **_row(res), "cpu_ms_per_op": round(1e3 * cpu / max(1, len(res)), 5)}
                _log(f"{scenario.name} inprocess {row}")
                return row

            out["inprocess"] = ramp(inprocess_step, rates)
            # The engine's own CPU per operation: the same operations with every start at 0 on one
            # thread, so no executor spin-wait or idle time is charged to the engine.
            burst = build_schedule(_with_rate(scenario, rates[0], a.step_s))
            burst = dataclasses.replace(burst, preload=0, start_ns=np.zeros_like(burst.start_ns))
            cpu0 = time.process_time()
            res = run_inprocess(burst, eng, threads=1, grace_s=60.0)
            out["engine_cpu_ms_per_op"] = round(1e3 * (time.process_time() - cpu0) / max(1, len(res)), 5)
            out["engine_one_thread_ops_s"] = round(float(res.throughput), 1)
        h, i = out["http"], out["inprocess"]
        out["http_over_inprocess_throughput"] = round(h["saturation_ops_s"] / i["saturation_ops_s"], 3)
        hc, ec = h["cpu_ms_per_op_at_saturation"], out["engine_cpu_ms_per_op"]
        out["server_cpu_over_engine_cpu"] = round(hc / ec, 3) if hc and ec else math.nan
        return out


def _medians(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"repeats": rows}
    for key in ("throughput", "p50_ms", "p95_ms", "p99_ms", "p99_max_over_ops_ms", "errors",
                "driver_cpu_ms_per_op", "server_cpu_ms_per_op", "cpu_ms_per_op"):  # fmt: skip
        vals = [float(r[key]) for r in rows if key in r and not math.isnan(float(r[key]))]
        if vals:
            out[key] = {"median": round(statistics.median(vals), 4), "min": round(min(vals), 4),
                        "max": round(max(vals), 4)}  # fmt: skip
    return out


def _log(text: str) -> None:
    print(text, flush=True)


def _fmt(d: dict[str, Any] | None, key: str) -> str:
    if not d or key not in d:
        return "-"
    v = d[key]
    return f"{v['median']:g} [{v['min']:g}-{v['max']:g}]"


def markdown(fig: dict[str, Any]) -> str:
    lines = [
        f"Host: {fig['host']}; load average {fig['load_before']:.1f} before, {fig['load_after']:.1f} after.",
        "",
    ]
    if "side_by_side" in fig:
        sbs = fig["side_by_side"]
        lines += [
            f"Baseline, {sbs['ops']} ops at 1,000 ops/s ({sbs['duration_s']:g} s), {sbs['preload']} preloaded; "
            f"median [min-max] over {fig['repeats']} repeats:",
            "",
            "| path | ok ops/s | P50 ms | P95 ms | P99 ms | P99 max over ops ms | errors | driver CPU ms/op "
            "| server (or engine) CPU ms/op |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, p in sbs["paths"].items():
            cpu = p.get("server_cpu_ms_per_op") or p.get("cpu_ms_per_op")
            lines.append(
                f"| {name} | {_fmt(p, 'throughput')} | {_fmt(p, 'p50_ms')} | {_fmt(p, 'p95_ms')} | "
                f"{_fmt(p, 'p99_ms')} | {_fmt(p, 'p99_max_over_ops_ms')} | {_fmt(p, 'errors')} | "
                f"{_fmt(p, 'driver_cpu_ms_per_op')} | {_fmt({'c': cpu} if cpu else None, 'c')} |"
            )
        lines.append("")
    for key, title in (
        ("search_saturation", "Search k=10 saturation"),
        ("mix_saturation", "Baseline mix saturation"),
    ):
        if key not in fig:
            continue
        lines += [f"{title} (step {fig['step_s']:g} s each):", "",
                  "| server | path | saturation ops/s | at offered | CPU ms/op at saturation | HTTP/in-process throughput "
                  "| engine CPU ms/op (1 thread, back to back) | server CPU / engine CPU |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for server, s in fig[key].items():
            for path in ("http", "inprocess"):
                r = s[path]
                ratio = (f"{s['http_over_inprocess_throughput']:g} | {s['engine_cpu_ms_per_op']:g} | "
                         f"{s['server_cpu_over_engine_cpu']:g}" if path == "http" else " | | ")  # fmt: skip
                lines.append(f"| {server} | {path} | {r['saturation_ops_s']:g} | {r['at_offered']:g} | "
                             f"{r['cpu_ms_per_op_at_saturation']:g} | {ratio} |")  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="engram-harness bench serving", description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default=BASELINE)
    p.add_argument("--server", action="append", default=[], metavar="NAME=COMMAND",
                   help="a server under test taking engram serve's flags (repeatable); default "
                        "ENGRAM_SERVER_COMMAND or 'engram serve'")  # fmt: skip
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the baseline's 60 s per repeat")
    p.add_argument("--preload", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--connections", type=int, default=16, help="keep-alive connections for the baseline")
    p.add_argument("--saturation-connections", type=int, default=64)
    p.add_argument("--step-s", type=float, default=5.0, help="seconds per ramp step")
    p.add_argument("--ramp-start", type=float, default=500, help="first offered rate of a ramp (ops/s)")
    p.add_argument("--ramp-factor", type=float, default=1.5)
    p.add_argument("--ramp-max", type=float, default=40_000)
    p.add_argument("--parts", default="abcd", help="which of a/d (baseline), b (search), c (mix) to run")
    add_embeddings_argument(p)
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--markdown", help="write the markdown tables here")
    args = p.parse_args(argv)

    servers: dict[str, list[str] | None] = {}
    for spec in args.server:
        name, _, cmd = spec.partition("=")
        if not name or not cmd:
            p.error(f"--server wants NAME=COMMAND; got {spec!r}")
        servers[name] = shlex.split(cmd)
    if not servers:
        env = server_command()
        servers[" ".join(env) if env else "engram serve"] = env

    bench = Bench(args)
    fig: dict[str, Any] = {"host": f"{os.cpu_count()} logical CPUs", "load_before": os.getloadavg()[0],
                           "repeats": args.repeats, "step_s": args.step_s, "embeddings": args.embeddings,
                           "servers": {k: v or ["engram", "serve"] for k, v in servers.items()}}  # fmt: skip
    if "a" in args.parts or "d" in args.parts:
        fig["side_by_side"] = bench.side_by_side(servers)
    if "b" in args.parts:
        search = _search_scenario(bench.dim, args.preload)
        fig["search_saturation"] = {
            n: bench.saturation(c, search, args.ramp_start) for n, c in servers.items()
        }
    if "c" in args.parts:
        mix = dataclasses.replace(bench.baseline, preload=args.preload)
        fig["mix_saturation"] = {n: bench.saturation(c, mix, args.ramp_start) for n, c in servers.items()}
    fig["load_after"] = os.getloadavg()[0]
    md = markdown(fig)
    print(md)
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2, default=str) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(md + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
