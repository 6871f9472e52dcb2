"""CPU starvation: ``stress-ng`` (Debian's package) burning CPU beside the server."""

from __future__ import annotations

import os
import signal
import subprocess

from engram_harness.chaos.errors import ChaosError
from engram_harness.chaos.privileges import require_tool


class CpuStarvation:
    """``with CpuStarvation(workers=2, load_pct=100):`` runs ``stress-ng --cpu workers --cpu-load
    load_pct`` until exit (``workers=0``: one per CPU). Not root-only."""

    def __init__(self, workers: int = 0, load_pct: int = 100, *, nice: int = 0) -> None:
        if workers < 0 or not 1 <= load_pct <= 100:
            raise ValueError(f"workers must be >= 0 and load_pct in [1, 100]; got {workers!r}, {load_pct!r}")
        self.workers, self.load_pct, self.nice = workers, load_pct, nice
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> CpuStarvation:
        exe = require_tool("stress-ng", "stress-ng")
        cmd = [exe, "--cpu", str(self.workers), "--cpu-load", str(self.load_pct), "--quiet"]
        if self.nice:
            cmd = ["nice", "-n", str(self.nice), *cmd]
        # its own session, so stopping it reaches every worker it forked
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is not None:
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            raise ChaosError(
                f"stress-ng exited early with status {self.proc.returncode}: {err.strip()[:300]}"
            )
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
