"""Build the engine's release wheel as a user's `pip install .` would, without the system's TBB and
Eigen, and print its path. Reused while the sources it is built from are unchanged.

    python scripts/build_wheel.py            # -> build/wheelhouse/<source hash>/engram-*.whl

The build runs in its own virtual environment (build/wheel-env) holding only pyproject.toml's
build requirements (so TBB and Eigen can only come from PyPI's tbb-devel and cmeel-eigen), with
the system's TBB and Eigen folders on CMAKE_IGNORE_PATH. The environment and the CMake folder
(build/wheel) are kept between builds, so a rebuild is incremental and ccache can serve it.
tests/packaging/test_wheel.py installs the wheel into a fresh environment and checks it; `nox -s
acceptance` installs the same wheel, so a CI run builds the release engine once.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
#: What goes into the wheel or decides how it is built.
SOURCES = ("CMakeLists.txt", "pyproject.toml", "README.md", "cpp", "engram", "scripts/pypi_cmake_dirs.py")
#: Where Debian (and most distributions) put TBB's and Eigen's headers and CMake packages.
SYSTEM_DIRS = (
    "/usr/include/tbb", "/usr/include/oneapi", "/usr/include/eigen3", "/usr/share/eigen3/cmake",
    "/usr/lib/cmake/TBB", "/usr/local/include/tbb", "/usr/local/include/oneapi", "/usr/local/include/eigen3",
    *glob.glob("/usr/lib/*/cmake/TBB"), *glob.glob("/usr/local/lib/*/cmake/TBB"),
)  # fmt: skip


def source_hash() -> str:
    """SHA-256 over the paths and bytes of every file the wheel is built from."""
    h = hashlib.sha256()
    for name in SOURCES:
        p = ROOT / name
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            if "__pycache__" in f.parts or f.suffix in {".so", ".pyc"}:
                continue
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build_requirements() -> list[str]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return list(tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"])


def build_env() -> Path:
    """build/wheel-env: a virtual environment with the build requirements and nothing else."""
    env = BUILD / "wheel-env"
    python = env / "bin" / "python"
    stamp = env / "requirements.txt"
    wanted = "\n".join(build_requirements())
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        shutil.rmtree(env, ignore_errors=True)
        venv.create(env, with_pip=True)
        subprocess.run([python, "-m", "pip", "install", "-q", *build_requirements()], check=True)
        stamp.write_text(wanted)
    return env


def main() -> int:
    out = BUILD / "wheelhouse" / source_hash()
    wheels = sorted(out.glob("engram-*.whl"))
    if wheels:
        print(wheels[-1])
        return 0
    env = build_env()
    ignored = ";".join(d for d in SYSTEM_DIRS if os.path.isdir(d))
    launcher = {"CMAKE_CXX_COMPILER_LAUNCHER": "ccache"} if shutil.which("ccache") else {}
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        str(env / "bin" / "python"), "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", str(tmp), f"-Cbuild-dir={BUILD / 'wheel'}", f"-Ccmake.define.CMAKE_IGNORE_PATH={ignored}", str(ROOT),
    ]  # fmt: skip
    print(
        f"building the engine's wheel (system TBB/Eigen hidden: {ignored or 'none found'})", file=sys.stderr
    )
    subprocess.run(cmd, check=True, env={**os.environ, **launcher})
    tmp.rename(out)
    print(sorted(out.glob("engram-*.whl"))[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
