"""One side of the A/B gate: run a scenario in-process and save every operation's outcome.

This file is run as a script by whichever Python environment holds the build under test (the base
commit's or the candidate's), so it imports nothing from ``engram_harness.gate`` and uses only the engine
API that both sides have (``load_scenario``, ``build_schedule``, ``run_inprocess``)::

    python worker.py SCENARIO.toml SECONDS OUT.npz
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: worker.py SCENARIO.toml SECONDS OUT.npz", file=sys.stderr)
        return 2
    scenario_path, seconds, out = Path(argv[0]), float(argv[1]), Path(argv[2])
    import engram
    from engram_harness.driver.inprocess import run_inprocess
    from engram_harness.scenarios import build_schedule, load_scenario

    scenario = load_scenario(scenario_path)
    schedule = build_schedule(scenario, profile_scale=seconds / scenario.duration_s)
    with engram.Engine(path=None, dim=scenario.data.dim) as eng:
        r = run_inprocess(schedule, eng, threads=2)
    meta = {
        "scenario": r.scenario, "seed": r.seed, "executor": r.executor, "op_names": list(r.op_names),
        "space_names": list(r.space_names), "error_classes": list(r.error_classes),
        "duration_s": r.duration_s, "wall_time_s": r.wall_time_s, "started_at_utc": r.started_at_utc,
        "engram_file": engram.__file__, "simd_level": engram.simd_level(),
    }  # fmt: skip
    np.savez(
        out, meta=np.array(json.dumps(meta)), op=r.op, space=r.space, intended_start_ns=r.intended_start_ns,
        actual_start_ns=r.actual_start_ns, latency_ns=r.latency_ns, error_code=r.error_code,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
