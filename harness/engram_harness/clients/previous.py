"""The previous release's Python client (workflow 114: old clients keep working), taken from its
tag with ``git archive`` and imported beside the current one under another name. The client is
pure Python, so its sources are its build; it shares the current ``engram`` package's data types
(``engram.memory``, ``engram.graph``...), which a client release does not ship on its own."""

from __future__ import annotations

import importlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

from engram_harness.clients.toolchains import ROOT

#: The release before this one (docs/releases.md records each tag and its commit).
PREVIOUS_RELEASE = "v0.1.0"
PREVIOUS_RELEASE_COMMIT = "bb6a7c1"  # where the tag points, for a clone that did not fetch tags


def release_commit(ref: str = PREVIOUS_RELEASE) -> str:
    for candidate in (f"{ref}^{{commit}}", PREVIOUS_RELEASE_COMMIT if ref == PREVIOUS_RELEASE else ref):
        p = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", candidate],
                           capture_output=True, text=True, check=False)  # fmt: skip
        if p.returncode == 0:
            return p.stdout.strip()
    raise RuntimeError(f"release {ref} is not in this clone ({ROOT}); a full clone (not shallow) has it")


def load_previous_client(dest: Path, ref: str = PREVIOUS_RELEASE) -> ModuleType:
    """The ``engram.client`` package of release ``ref``, importable as ``engram_client_<tag>``."""
    commit = release_commit(ref)
    name = "engram_client_" + ref.replace(".", "_")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, "engram/client"],
                             capture_output=True, check=True).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    pkg = dest / name
    (dest / "engram" / "client").rename(pkg)
    for f in pkg.glob("*.py"):  # its imports of itself follow it to its new name
        f.write_text(f.read_text().replace("engram.client", name))
    sys.path.insert(0, str(dest))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(dest))


def release_cache(ref: str = PREVIOUS_RELEASE) -> Path:
    return (
        Path(os.environ.get("ENGRAM_RELEASE_CACHE") or Path.home() / ".cache" / "engram" / "releases") / ref
    )


def previous_engramd(ref: str = PREVIOUS_RELEASE, timeout_s: float = 3600.0) -> Path:
    """engramd of release ``ref``, built from its tag's sources (release build, the server target
    alone; ccache when installed) into ``~/.cache/engram/releases/<ref>`` and reused from there.
    Raises RuntimeError with the build's output when it fails."""
    commit = release_commit(ref)
    root = release_cache(ref)
    binary = root / "build" / "engramd"
    stamp = root / "commit"
    if binary.exists() and stamp.exists() and stamp.read_text().strip() == commit:
        return binary
    shutil.rmtree(root, ignore_errors=True)
    (root / "src").mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit],
                             capture_output=True, check=True).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(root / "src", filter="data")
    env = {**os.environ, **({"CMAKE_CXX_COMPILER_LAUNCHER": "ccache"} if shutil.which("ccache") else {})}
    for cmd in (["cmake", "-S", str(root / "src"), "-B", str(root / "build"), "-G", "Ninja",
                 "-DCMAKE_BUILD_TYPE=Release", "-DENGRAM_BUILD_PYTHON=OFF", "-DENGRAM_BUILD_TESTS=OFF"],
                ["cmake", "--build", str(root / "build"), "--target", "engramd", "-j", str(os.cpu_count() or 2)]):  # fmt: skip
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
        if p.returncode != 0:
            raise RuntimeError(
                f"building engramd {ref} failed: {' '.join(cmd)}\n{(p.stdout + p.stderr)[-4000:]}"
            )
    stamp.write_text(commit + "\n")
    return binary
