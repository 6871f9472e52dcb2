"""Run the two builds of an A/B gate interleaved (A B, B A, A B, ...) in fresh processes.

Interleaving spreads slow drifts of the machine (thermal state, other tenants, page cache) over both
sides instead of charging them to whichever ran second; alternating the order within each round
cancels a "second run of the pair" effect. Each run is a new process, so both sides pay the same
start-up and nothing (allocator state, caches) leaks from one run into the next.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engram_harness.driver.result import RunResult

WORKER = Path(__file__).with_name("worker.py")
START_UP_ALLOWANCE_S = 120.0  # per run, on top of the scheduled seconds: import, engine start, grace


class GateRunError(RuntimeError):
    """A worker process failed or produced no result (the gate then has no valid data: exit 3)."""


@dataclass(frozen=True)
class Side:
    """One build under comparison. ``site`` is a directory holding that build's ``engram`` package
    (put first on ``PYTHONPATH``); ``None`` uses whatever ``engram`` the interpreter imports."""

    name: str  # "A" (before) or "B" (after)
    label: str  # e.g. the commit it was built from
    site: Path | None = None
    python: str = sys.executable


def run_worker(side: Side, scenario: Path, seconds: float, out: Path, workdir: Path) -> RunResult:
    """One run of ``scenario`` (its first ``seconds``) by ``side``; raises :class:`GateRunError`."""
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "gate_worker.py"  # a copy, so the script's folder puts no engram modules on sys.path
    if not script.exists():
        shutil.copyfile(WORKER, script)
    env = dict(os.environ)
    if side.site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(side.site), *filter(None, [env.get("PYTHONPATH")])])
    cmd = [side.python, str(script), str(scenario), repr(float(seconds)), str(out)]
    try:
        proc = subprocess.run(
            cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=seconds + START_UP_ALLOWANCE_S
        )
    except subprocess.TimeoutExpired as exc:
        raise GateRunError(f"side {side.name} ({side.label}): worker exceeded {exc.timeout:.0f} s") from exc
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise GateRunError(
            f"side {side.name} ({side.label}): worker exited {proc.returncode}; command {cmd}\n"
            + "\n".join(tail)
        )
    return load_worker_output(out)


def load_worker_output(path: Path) -> RunResult:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        return RunResult(
            scenario=meta["scenario"],
            seed=int(meta["seed"]),
            executor=meta["executor"],
            op_names=tuple(meta["op_names"]),
            space_names=tuple(meta["space_names"]),
            op=z["op"],
            space=z["space"],
            intended_start_ns=z["intended_start_ns"],
            actual_start_ns=z["actual_start_ns"],
            latency_ns=z["latency_ns"],
            error_code=z["error_code"],
            error_classes=tuple(meta["error_classes"]),
            duration_s=float(meta["duration_s"]),
            wall_time_s=float(meta["wall_time_s"]),
            started_at_utc=meta["started_at_utc"],
        )


def run_interleaved(
    a: Side,
    b: Side,
    scenario: Path,
    *,
    seconds: float,
    rounds: int,
    workdir: Path,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, list[RunResult]]:
    """``rounds`` runs per side in the order A B, B A, A B, ...; returns ``{"A": [...], "B": [...]}``."""
    if rounds < 1 or seconds <= 0:
        raise ValueError(f"need rounds >= 1 and seconds > 0, got rounds={rounds}, seconds={seconds}")
    out: dict[str, list[RunResult]] = {a.name: [], b.name: []}
    for i in range(rounds):
        for side in (a, b) if i % 2 == 0 else (b, a):
            progress(f"round {i + 1}/{rounds}: side {side.name} ({side.label}), {seconds:g} s")
            result = run_worker(side, scenario, seconds, workdir / f"{side.name}-{i + 1}.npz", workdir)
            out[side.name].append(result)
    return out
