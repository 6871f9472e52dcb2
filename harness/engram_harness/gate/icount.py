"""Instruction counts of the engine on a fixed workload, for two gate builds.

Wall time on a shared 2-core guest moves by up to 11 % between two builds of the same commit (the
gate's A/A runs, docs/acceptance.md), so a 3-5 % flag of the gate can be build layout rather than
code. Instructions executed do not depend on layout or on the neighbours' load: this runs one fixed,
single-threaded workload (``remember``, ``search``, ``recall`` at 768-d) under
``valgrind --tool=callgrind`` with each build on ``PYTHONPATH`` and sums the instructions spent in
the engine's extension module (``_core``). It counts work, not time: a change that adds no
instructions can still be slower through memory or branches, which the gate's timings judge.

    python -m engram_harness.gate.icount --site build/gate/base-<sha>-site --site build/gate/candidate-site
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_LINE = re.compile(r"^\s*([\d,]+)\s")


def workload(episodes: int, queries: int, dim: int = 768, seed: int = 7) -> int:
    """The counted work: ``episodes`` remembers, ``queries`` searches, half as many recalls."""
    import numpy as np

    import engram

    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((episodes, dim)).astype(np.float32)
    qs = rng.standard_normal((queries, dim)).astype(np.float32)
    with engram.Engine(path=None, dim=dim) as eng:
        sp = eng.create_space("icount")
        for v in vecs:
            sp.remember(v, "x")
        for q in qs:
            sp.search(q, 10)
        for q in qs[: queries // 2]:
            sp.recall(q)
        return len(sp)


def module_instructions(annotate_output: str, module: str = "_core.") -> int:
    """Sum of the self instructions of every function line of ``module`` in callgrind_annotate's
    output (run with ``--inclusive=no --threshold=100``, so no line is left out)."""
    total = 0
    for line in annotate_output.splitlines():
        m = _LINE.match(line)
        if m and module in line and "PROGRAM TOTALS" not in line:
            total += int(m.group(1).replace(",", ""))
    return total


def count(site: Path, episodes: int, queries: int, python: str = sys.executable) -> int:
    """Engine instructions of the workload with ``site`` first on PYTHONPATH."""
    for tool in ("valgrind", "callgrind_annotate"):
        if shutil.which(tool) is None:
            raise SystemExit(f"icount: {tool} not found; install Debian's valgrind package")
    if not (site / "engram").is_dir():
        raise SystemExit(f"icount: {site} holds no engram package (a gate site: build/gate/*-site)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONPATH": str(site)}
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", python, "-m",
               "engram_harness.gate.icount", "--run", "--episodes", str(episodes), "--queries", str(queries)]  # fmt: skip
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        text = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", str(out)],
                              check=True, capture_output=True, text=True).stdout  # fmt: skip
    n = module_instructions(text)
    if n == 0:
        raise SystemExit(f"icount: no instructions of _core counted for {site}: nothing was measured")
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m engram_harness.gate.icount", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--site", action="append", type=Path, default=[], help="a gate build's site (repeat)")
    p.add_argument("--episodes", type=int, default=2000)
    p.add_argument("--queries", type=int, default=400)
    p.add_argument("--run", action="store_true", help="run the workload here (what valgrind runs)")
    a = p.parse_args(argv)
    if a.episodes <= 0 or a.queries <= 0:
        p.error("--episodes and --queries must be positive")
    if a.run:
        workload(a.episodes, a.queries)
        return 0
    if not a.site:
        p.error("give --site at least once (build/gate/*-site), or --run")
    counts = [(s, count(s, a.episodes, a.queries)) for s in a.site]
    first = counts[0][1]
    for s, n in counts:
        print(f"{s}: {n:,} engine instructions ({(n / first - 1) * 100:+.3f} % against the first)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
