"""`pip install .` as a user would: the release wheel builds with TBB and Eigen from PyPI (the system's
hidden from CMake), installs into a fresh virtual environment with NumPy and the TBB runtime as its
only dependencies, imports, works, and loads the TBB runtime of that environment (checked with ldd).
It is a release build: no fault API, no crash-point or fault-injection code in the library, and the
fault variables are not read (docs/faults.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Strings only the test build's fault injection puts into the library.
FAULT_MARKERS = ["ENGRAM_FAULTS", "ENGRAM_CRASH_AT", "simulated power loss", "injected fault", "FaultEnv"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel() -> Path:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_wheel.py")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return Path(out.stdout.strip().splitlines()[-1])


def test_wheel_requires_numpy_and_the_tbb_runtime_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        names = [n for n in z.namelist() if not n.startswith("engram-")]
        text = z.read(meta).decode()
    required = {re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower()
                for r in re.findall(r"^Requires-Dist: (.+)$", text, re.M) if "extra ==" not in r}  # fmt: skip
    assert required == {"numpy", "tbb"}, text
    assert all(n.startswith("engram/") for n in names), names  # no harness, data sets or tests
    assert any(re.match(r"engram/_core\..*\.so$", n) for n in names)


def literals(call: str) -> list[str]:
    """The string literals passed to ``call("...")`` anywhere in cpp/src."""
    pattern = re.compile(call + r'\("([^"]+)"\)')
    return sorted({m for p in (ROOT / "cpp" / "src").rglob("*.cpp") for m in pattern.findall(p.read_text())})


def test_release_library_holds_no_fault_code(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        data = z.read(next(n for n in z.namelist() if re.match(r"engram/_core\..*\.so$", n)))
    # A consolidation step's name is also the phase the release build writes to the store's LOCK
    # file (mark_phase: the next open names the step a crash interrupted), so those names belong in
    # the release library; the fault machinery's own strings (FAULT_MARKERS) still must not.
    phases = literals("mark_phase")
    assert phases and all(p.encode() in data for p in phases), phases
    points = [p for p in literals("crash_point") if p not in phases]
    # the grep found the WAL's and checkpoints' crash points: an empty list would prove nothing
    assert {"wal.before_fsync", "wal.torn_write", "checkpoint.before_rename"} <= set(points), points
    present = [p for p in [*points, *FAULT_MARKERS] if p.encode() in data]
    assert not present, f"the release library contains {present}"


@pytest.fixture(scope="module")
def release_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed (and whatever pip pulls in for it)."""
    env = tmp_path_factory.mktemp("release") / "env"
    venv.create(env, with_pip=True)
    subprocess.run([env / "bin" / "python", "-m", "pip", "install", "-q", str(wheel)], check=True)
    return env


def test_fresh_environment_holds_numpy_and_the_tbb_runtime_only(release_env: Path) -> None:
    py = release_env / "bin" / "python"
    listed = subprocess.run(
        [py, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    )
    installed = {line.split("==")[0].lower() for line in listed.stdout.split()} - {
        "pip",
        "setuptools",
        "wheel",
    }
    # NumPy, the TBB runtime and what the TBB runtime itself requires (Intel's tcmlib), nothing else.
    tbb_needs = subprocess.run([py, "-c", "from importlib.metadata import requires; print(*(requires('tbb') or []), sep='\\n')"],
                               capture_output=True, text=True, check=True).stdout.splitlines()  # fmt: skip
    needs = {re.split(r"[<>=!~ ;(\[]", r, maxsplit=1)[0].lower() for r in tbb_needs if r.strip()}
    assert installed == {"engram", "numpy", "tbb", *needs}, listed.stdout


def test_release_build_works_ignores_fault_variables_and_loads_its_own_tbb(
    release_env: Path, tmp_path: Path
) -> None:
    py = release_env / "bin" / "python"
    probe = (
        "import sys, numpy as np, engram\n"
        "info = engram._core.build_info()\n"
        "assert (info.flavour, info.fault_injection, hasattr(engram._core, 'faults')) == ('release', False, False)\n"
        "with engram.Engine(sys.argv[1], dim=4, durability='fsync') as e:\n"
        "    sp = e.create_space('s')\n"
        "    i = sp.remember(np.array([1, 0, 0, 0], np.float32), content='x')\n"
        "    assert sp.search(np.array([1, 0, 0, 0], np.float32), k=1)[0][0] == i\n"
        "print(engram._core.__file__)\n"
    )
    # A crash plan would kill this durable engine if the release build read the fault variables.
    faulty = dict(
        os.environ, ENGRAM_CRASH_AT="wal.after_fsync", ENGRAM_FAULTS="crash=wal.before_fsync;ioerror=*:EIO"
    )
    run = subprocess.run([py, "-c", probe, str(tmp_path / "store")], capture_output=True, text=True, cwd=tmp_path,
                         env=faulty)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    core = run.stdout.strip().splitlines()[-1]
    ldd = subprocess.run(["ldd", core], capture_output=True, text=True, check=True).stdout
    tbb = [line for line in ldd.splitlines() if "libtbb" in line]
    assert tbb, ldd
    loaded = Path(tbb[0].split("=>")[1].split("(")[0].strip()).resolve()
    assert loaded.is_relative_to(release_env.resolve()), (
        f"the extension loads {loaded}, not the environment's TBB:\n{ldd}"
    )


def test_checked_in_stubs_match_the_release_extension(release_env: Path) -> None:
    """engram/_core.pyi is what pybind11-stubgen makes of the release extension (the test build
    adds the `faults` submodule, so stubs come from this wheel)."""
    py = release_env / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", "pybind11-stubgen==3.0.0", "ruff>=0.6"], check=True)
    env = dict(os.environ, PATH=f"{release_env / 'bin'}{os.pathsep}{os.environ['PATH']}")
    run = subprocess.run(
        [py, str(ROOT / "scripts" / "stubs.py"), "--check"], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
