"""The capacity workflow's load: the baseline mix and its read-heavy and write-heavy variants, one
ramp step over HTTP with the native load generator, and what is measured beside a step (host and
server CPU, disk, lock-wait counters, request stages, a profile).

Mixes (remember / recall / search; everything else as acceptance/scenarios/baseline.toml):

- ``baseline``: 50 / 42.5 / 7.5, the reference M17 mix.
- ``read-heavy``: 10 / 70 / 20, a serving workload that mostly queries (recall and search).
- ``write-heavy``: 80 / 15 / 5, an ingest workload (stream of new episodes, few queries).
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engram_harness.capacity import metrics as prom
from engram_harness.capacity.procfs import HostWindow, Window, process_cpu_s
from engram_harness.capacity.profiler import PerfRecorder, Profile, gdb_samples, perf_available
from engram_harness.capacity.ramp import Step
from engram_harness.driver.native_http import preload_http, run_http
from engram_harness.scenarios import Constant, build_schedule, parse_scenario
from engram_harness.scenarios.scenario import Scenario

MIXES: dict[str, dict[str, float]] = {
    "baseline": {"remember": 0.5, "recall_episodic": 0.425, "search": 0.075},
    "read-heavy": {"remember": 0.10, "recall_episodic": 0.70, "search": 0.20},
    "write-heavy": {"remember": 0.80, "recall_episodic": 0.15, "search": 0.05},
}

_OPERATIONS = re.compile(r"^\[operations\]\n(?:(?!\[).*\n)*", re.MULTILINE)


def mix_scenario(base: Scenario, mix: str) -> Scenario:
    """``base`` (parsed from its TOML text) with the ``[operations]`` table of ``mix``."""
    weights = MIXES[mix]
    table = "[operations]\n" + "".join(f"{op} = {w}\n" for op, w in weights.items()) + "\n"
    text, n = _OPERATIONS.subn(table, base.toml_text, count=1)
    if n != 1:
        raise ValueError(f"{base.source} has no [operations] table to replace")
    text = re.sub(r'^name = ".*"$', f'name = "capacity-{mix}"', text, count=1, flags=re.MULTILINE)
    return parse_scenario(text, f"{base.source} ({mix} mix)")


def at_rate(scenario: Scenario, rate: float, duration_s: float, seed: int | None = None) -> Scenario:
    return dataclasses.replace(scenario, arrival=Constant(rate=rate), duration_s=duration_s, preload=0,
                               seed=scenario.seed if seed is None else seed)  # fmt: skip


def metrics_text(url: str) -> str:
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
            return str(r.read().decode("utf-8", errors="replace"))
    except OSError:
        return ""


def grow(url: str, scenario: Scenario, items: int, seed: int) -> float:
    """Remember ``items`` new preload-style items (batch route); seconds taken."""
    if items <= 0:
        return 0.0
    sc = dataclasses.replace(scenario, preload=items, seed=seed, duration_s=1.0, arrival=Constant(rate=1.0))
    return preload_http(build_schedule(sc), url)


def settle(pid: int, *, idle_cores: float = 0.1, window_s: float = 0.25, timeout_s: float = 10.0) -> float:
    """Wait (bounded) until the server's CPU falls below ``idle_cores`` over a window, so a step
    does not start behind the previous one's backlog; returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:  # bounded by the timeout
        c0 = process_cpu_s(pid)
        time.sleep(window_s)
        if (process_cpu_s(pid) - c0) / window_s < idle_cores:
            break
    return time.monotonic() - t0


@dataclass
class Stepper:
    """One constant-rate step of ``scenario`` against a running server: ``stepper(rate) -> Step``."""

    url: str
    pid: int
    scenario: Scenario
    step_s: float
    connections: int = 64
    request_timeout_s: float = 5.0
    log: list[str] = field(default_factory=list)
    _n: int = 0

    def __call__(self, rate: float, duration_s: float | None = None) -> Step:
        self._n += 1
        seconds = self.step_s if duration_s is None else duration_s
        sched = build_schedule(at_rate(self.scenario, rate, seconds, seed=self.scenario.seed + self._n))
        run = run_http(sched, self.url, connections=self.connections, server_pid=self.pid, grace_s=2.0,
                       request_timeout_s=self.request_timeout_s)  # fmt: skip
        res = run.result
        summary = res.op_summary().set_index("op")
        pooled = float(summary.loc["all", "p99_ms"]) if "all" in summary.index else math.nan
        per_op = summary.query("index != 'all'")["p99_ms"]
        # docs/acceptance.md decision 4: the overall P99 is the maximum over operation types
        p99 = max(pooled, float(per_op.max())) if len(per_op) else pooled
        sent = len(res)
        step = Step(
            offered=rate, achieved=float(res.throughput), p99_ms=p99,
            error_rate=res.errors / sent if sent else math.nan, ops=sent,
            server_cpu_s=run.server_cpu_s, wall_s=float(res.wall_time_s),
            extra={"p50_ms": float(summary.loc["all", "p50_ms"]) if "all" in summary.index else math.nan,
                   "p99_pooled_ms": pooled,
                   "errors": res.error_counts(), "driver_cpu_s": run.driver_cpu_s,
                   "remembered": int(((res.op == 0) & ~res.failed).sum()), "result": res},
        )  # fmt: skip
        self.log.append(f"{self.scenario.name} {rate:.0f} ops/s: {step.achieved:.0f} ok/s, P99 {p99:.2f} ms, "
                        f"errors {step.error_rate:.2%}, server {step.server_cores:.2f} cores")  # fmt: skip
        print(self.log[-1], flush=True)
        return step


@dataclass
class KneeProbe:
    """A step at the knee rate with everything the classifier needs measured over it."""

    step: Step
    host: HostWindow
    server_cores: float
    wall_s: float
    locks: prom.LockWindow
    stages: dict[str, tuple[float, float]]
    profile: Profile
    perf_refused: str | None


def probe_knee(stepper: Stepper, rate: float, out_dir: Path, *, hz: int = 499, call_graph: str = "fp",
               seconds: float = 3.0) -> KneeProbe:  # fmt: skip
    """Run one step at ``rate`` while perf samples the server (gdb stacks when perf is refused),
    /proc is snapshotted and /metrics scraped before and after."""
    refused = perf_available()
    before = metrics_text(stepper.url)
    rec = (
        PerfRecorder(stepper.pid, out_dir, hz=hz, call_graph=call_graph).start() if refused is None else None
    )
    with Window(stepper.pid) as w:
        step = stepper(rate, duration_s=seconds)
    after = metrics_text(stepper.url)
    if rec is not None:
        profile = rec.stop()
    else:
        profile = gdb_samples(stepper.pid)  # after the step: gdb stops the process while it samples
        profile.notes.append(f"perf unavailable ({refused}); stacks sampled with gdb after the step")
    return KneeProbe(step, w.host, w.server_cores, w.wall_s, prom.lock_window(before, after),
                     prom.stage_seconds(before, after), profile, refused)  # fmt: skip


def closed_loop_throughput(url: str, pid: int, scenario: Scenario, ops: int, seed: int,
                           connections: int = 64) -> dict[str, Any]:  # fmt: skip
    """Saturation throughput: ``ops`` operations of the mix all due at once (closed loop through
    ``connections``), so the server runs flat out; ops/s, server cores, remembers acknowledged."""
    rate = 1000.0
    sched = build_schedule(at_rate(scenario, rate, ops / rate, seed=seed))
    sched = dataclasses.replace(sched, start_ns=np.zeros_like(sched.start_ns))
    # the grace bounds the run: ops/s is what completed over the wall time, whatever the size
    run = run_http(sched, url, connections=connections, server_pid=pid, grace_s=120.0, request_timeout_s=10.0)
    res = run.result
    wall = float(res.wall_time_s)
    return {
        "ops_s": float(res.throughput),
        "server_cores": run.server_cpu_s / wall if wall > 0 else math.nan,
        "server_cpu_s": run.server_cpu_s,
        "errors": int(res.errors),
        "remembered": int(((res.op == 0) & ~res.failed).sum()),
        "wall_s": wall,
    }
