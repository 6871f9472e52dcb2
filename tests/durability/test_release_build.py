"""A release build carries none of the test build's fault injection (docs/faults.md): no fault
API in its _core, build_info() says "release", the crash-point names and fault machinery are not
in the library, and no fault variable is read.

The release _core checked is ENGRAM_RELEASE_CORE (a path to its .so; nox's `tests` session builds
one), else the imported one when it is a release build. With neither, the test fails in CI and
is skipped elsewhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engram import _core

ROOT = Path(__file__).resolve().parents[2]
# Strings only fault injection puts into the library.
FAULT_MARKERS = [
    b"ENGRAM_FAULTS",
    b"ENGRAM_CRASH_AT",
    b"simulated power loss",
    b"injected fault",
    b"FaultEnv",
]


def crash_points() -> list[str]:
    pattern = re.compile(r'crash_point\("([^"]+)"\)')
    return sorted({m for p in (ROOT / "cpp" / "src").rglob("*.cpp") for m in pattern.findall(p.read_text())})


def release_core() -> Path:
    if path := os.environ.get("ENGRAM_RELEASE_CORE"):
        return Path(path)
    if _core.build_info()["flavour"] == "release":
        return Path(str(_core.__file__))
    msg = (
        "no release build to check: the imported engram._core is the test build and "
        "ENGRAM_RELEASE_CORE (the path of a release build's _core .so) is not set"
    )
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


def test_release_library_holds_no_fault_code() -> None:
    data = release_core().read_bytes()
    points = crash_points()
    assert len(points) >= 10  # the grep found them: an empty list would prove nothing
    present = [p for p in points if p.encode() in data] + [m.decode() for m in FAULT_MARKERS if m in data]
    assert not present, f"the release library contains {present}"


CHECK = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("engram._core", sys.argv[1])
core = importlib.util.module_from_spec(spec)
sys.modules["engram._core"] = core
spec.loader.exec_module(core)
import numpy as np, engram
from engram import engine
assert engine._core is core  # the engine runs on the release build loaded above
print(core.build_info())
print(hasattr(core, "faults"))
with engram.Engine(sys.argv[2], dim=4, durability="fsync") as eng:  # a crash plan would kill this
    sp = eng.create_space("a")
    for i in range(5):
        sp.remember(np.ones(4, dtype=np.float32) * (i + 1))
    print(eng.space("a").stats()["episodes"])
"""


def test_release_core_has_no_fault_api_and_reads_no_fault_variable(tmp_path: Path) -> None:
    so = release_core()
    env = dict(
        os.environ, ENGRAM_CRASH_AT="wal.after_fsync", ENGRAM_FAULTS="crash=wal.before_fsync;ioerror=*:EIO"
    )
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    res = subprocess.run(
        [sys.executable, "-c", CHECK, str(so), str(tmp_path / "store")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["{'flavour': 'release', 'fault_injection': False}", "False", "5"]


def test_this_build_says_what_it_is() -> None:
    info = _core.build_info()
    assert info["flavour"] in ("release", "test")
    assert info["fault_injection"] == (info["flavour"] == "test") == hasattr(_core, "faults")
