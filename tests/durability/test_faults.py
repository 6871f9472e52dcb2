"""The test build's fault injection from Python and from the environment (docs/faults.md):
plans, the operation sites' delay and leak controls, I/O errors, and ENGRAM_FAULTS read by a
separate process at start."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

import engram
from tests.durability.helpers import DIM, vec

ROOT = Path(__file__).resolve().parents[2]


def source_sites() -> set[str]:
    """Every site name the engine's sources pass to crash_point or ENGRAM_FAULT_SITE."""
    pattern = re.compile(r'(?:crash_point|crash_armed|ENGRAM_FAULT_SITE)\("([^"]+)"\)')
    return {m for p in (ROOT / "cpp" / "src").rglob("*.cpp") for m in pattern.findall(p.read_text())}


def test_every_site_in_the_sources_is_known(faults: ModuleType) -> None:
    """A plan may name exactly the sites the engine has: no typo'd plan is silently inert."""
    assert source_sites() == set(faults.sites())


@pytest.mark.parametrize(
    ("plan", "why"),
    [
        ("crash=wal.aftr_fsync", "no site is named"),
        ("delay=search:10", "needs a unit"),
        ("ioerror=sync:EWHAT", "unknown error"),
        ("leak=remember:lots", "whole number"),
        ("nonsense", "expected kind="),
    ],
)
def test_bad_plans_are_refused_with_the_reason(faults: ModuleType, plan: str, why: str) -> None:
    with pytest.raises(engram.InvalidInputError, match=why):
        faults.set_plan(plan)
    assert faults.plan() == ""


def test_delay_control_slows_the_named_operation(faults: ModuleType) -> None:
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("a")
        for i in range(10):
            sp.remember(vec(i))
        faults.set_plan("delay=search:20ms")
        t0 = time.perf_counter()
        for _ in range(5):
            sp.search(vec(1), k=3)
        assert time.perf_counter() - t0 >= 5 * 0.020
        t0 = time.perf_counter()
        sp.remember(vec(99))  # another operation: not delayed
        assert time.perf_counter() - t0 < 0.020
        assert [(r.rule, r.hits, r.fired) for r in faults.stats()] == [("delay=search:20ms", 5, 5)]


LEAKER = """
import numpy as np, engram
from engram import _core
def rss():
    return next(int(ln.split()[1]) * 1024 for ln in open("/proc/self/status") if ln.startswith("VmRSS:"))
with engram.Engine(dim=4) as eng:
    sp = eng.create_space("a")
    sp.remember(np.ones(4, dtype=np.float32))
    before, leaked = rss(), _core.faults.leaked_bytes()
    for i in range(32):
        sp.remember(np.ones(4, dtype=np.float32) * (i + 2))
    print(_core.faults.leaked_bytes() - leaked, rss() - before)
"""


def test_leak_control_grows_resident_memory(tmp_path: Path, test_build: None) -> None:
    """In a fresh process (a long-lived one may hand the leak pages it already holds), from the
    environment, as a soak suite's positive control sets it."""
    res = _child(tmp_path, {"ENGRAM_FAULTS": "leak=remember:1MiB"}, LEAKER)
    assert res.returncode == 0, res.stderr
    leaked, grown = (int(x) for x in res.stdout.split())
    assert leaked == 32 << 20
    assert grown >= 24 << 20  # touched pages: the process really holds them


def test_io_error_on_the_nth_sync_fails_that_write_only(tmp_path: Path, faults: ModuleType) -> None:
    with engram.Engine(tmp_path, dim=DIM, durability="fsync") as eng:
        sp = eng.create_space("a")
        faults.set_plan("ioerror=sync@*/wal/*:EIO:nth=3")
        sp.remember(vec(1))
        sp.remember(vec(2))
        with pytest.raises(engram.StorageError, match="I/O error"):
            sp.remember(vec(3))
        sp.remember(vec(4))  # the failed batch is retried first, then this one
        assert faults.stats()[0].fired == 1
    with engram.Engine(tmp_path, dim=DIM) as eng:
        assert eng.space("a").stats()["episodes"] == 4


def _child(tmp_path: Path, env_extra: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ENGRAM_FAULTS", "ENGRAM_CRASH_AT")}
    env.update(env_extra)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "store")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


WRITER = """
import sys, numpy as np, engram
with engram.Engine(sys.argv[1], dim=4, durability="fsync") as eng:
    sp = eng.create_space("a")
    for i in range(20):
        try:
            sp.remember(np.ones(4, dtype=np.float32) * (i + 1), content=str(i))
            print("ok", i, flush=True)
        except engram.StorageError as e:
            print("error", i, e, flush=True)
"""


def test_a_process_takes_its_plan_from_the_environment(tmp_path: Path, test_build: None) -> None:
    crashed = _child(tmp_path, {"ENGRAM_FAULTS": "crash=wal.after_fsync:4"}, WRITER)
    assert crashed.returncode == -9, crashed.stderr
    assert crashed.stdout.split("\n")[:2] == ["ok 0", "ok 1"]  # then killed after the 4th sync
    with engram.Engine(tmp_path / "store", dim=4) as eng:
        assert [eng.space("a").get((1 << 40) | i).content for i in (1, 2, 3)] == ["0", "1", "2"]
    (tmp_path / "b").mkdir()
    failing = _child(tmp_path / "b", {"ENGRAM_FAULTS": "seed=3;ioerror=sync@*/wal/*:EIO:nth=5"}, WRITER)
    assert failing.returncode == 0, failing.stderr
    # Syncs of WAL files: the new segment's header, create_space, then one per write: the 5th is write 2's.
    lines = failing.stdout.splitlines()
    assert lines[2].startswith("error 2 ") and "I/O error" in lines[2], lines
    assert len(lines) == 20 and all(ln.startswith("ok") for ln in lines[:2] + lines[3:])


def test_a_malformed_plan_in_the_environment_stops_the_import(tmp_path: Path, test_build: None) -> None:
    res = _child(tmp_path, {"ENGRAM_FAULTS": "crash=nowhere"}, "import engram")
    assert res.returncode != 0
    assert "ENGRAM_FAULTS" in res.stderr and "no site is named 'nowhere'" in res.stderr
