"""The TypeScript and Rust clients' own tools, run as their users run them (workflows 114 and
115): npm and node for clients/typescript, cargo for clients/rust. Each step is a bounded
subprocess whose exit status and test counts are recorded; a missing tool is an error, not a skip,
because CI installs them (scripts/setup-system.sh and the machine's Node and Rust)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from engram.server.launcher import find_engramd

ROOT = Path(__file__).resolve().parents[3]
TYPESCRIPT = ROOT / "clients" / "typescript"
RUST = ROOT / "clients" / "rust"


def rust_target_dir() -> Path:
    """One cargo target directory for every cargo step of a run (and across runs of a checkout):
    build, clippy and test reuse what the previous step compiled."""
    return Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "build" / "clients-rust-target")


@dataclass
class ToolRun:
    command: str
    returncode: int
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-n:])


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(
            f"{tool} is not installed: the client tests need it (Node 20 with npm, Rust with cargo)"
        )
    return path


def run(cmd: list[str], cwd: Path, timeout_s: float, env: dict[str, str] | None = None) -> ToolRun:
    """One tool step; its output kept (stdout and stderr together) for the report."""
    require(cmd[0])
    engramd = find_engramd()
    full_env = {**os.environ, **({"ENGRAM_ENGRAMD": engramd} if engramd else {}), **(env or {})}
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=timeout_s, check=False)  # fmt: skip
        return ToolRun(" ".join(cmd), p.returncode, time.monotonic() - t0, p.stdout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout if isinstance(e.stdout, str) else (e.stdout or b"").decode(errors="replace")
        return ToolRun(" ".join(cmd), 124, time.monotonic() - t0, out + f"\n(timed out after {timeout_s} s)")


def cargo(*args: str, timeout_s: float = 900.0) -> ToolRun:
    return run(["cargo", *args], RUST, timeout_s, {"CARGO_TARGET_DIR": str(rust_target_dir())})


def npm(*args: str, timeout_s: float = 600.0) -> ToolRun:
    return run(["npm", *args], TYPESCRIPT, timeout_s)


def node_tests(name_pattern: str) -> ToolRun:
    """The TypeScript tests whose names match ``name_pattern`` (built first, as ``npm test`` does)."""
    build = npm("run", "build:test")
    if not build.ok:
        return build
    files = sorted(str(p) for p in (TYPESCRIPT / ".test-build" / "test").glob("*.test.js"))
    return run(["node", "--test", f"--test-name-pattern={name_pattern}", *files], TYPESCRIPT, 600)


def npm_install() -> ToolRun:
    """``npm ci`` unless node_modules already matches the lock file (a checkout's second run)."""
    marker = TYPESCRIPT / "node_modules" / ".package-lock.json"
    lock = TYPESCRIPT / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return ToolRun("npm ci (node_modules up to date)", 0, 0.0, "")
    return npm("ci", "--no-audit", "--no-fund")


@dataclass
class TestCounts:
    passed: int
    failed: int
    skipped: int


def node_counts(output: str) -> TestCounts:
    """``node --test``'s summary lines (# pass N, # fail N, # skipped N, # todo N)."""

    def n(key: str) -> int:
        m = re.findall(rf"^[#ℹ] {key} (\d+)$", output, re.M)
        return int(m[-1]) if m else 0

    return TestCounts(n("pass"), n("fail") + n("cancelled"), n("skipped") + n("todo"))


def cargo_counts(output: str) -> TestCounts:
    """Every ``test result:`` line of ``cargo test`` summed."""
    passed = failed = ignored = 0
    for m in re.finditer(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", output):
        passed, failed, ignored = passed + int(m[1]), failed + int(m[2]), ignored + int(m[3])
    return TestCounts(passed, failed, ignored)
