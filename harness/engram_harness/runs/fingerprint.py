"""Machine fingerprint recorded in every run's manifest."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.lower().startswith(("model name", "hardware", "cpu model")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def physical_cores() -> int | None:
    """Distinct (physical id, core id) pairs in /proc/cpuinfo; None when unknown."""
    pairs, phys = set(), "0"
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("physical id"):
            phys = line.split(":", 1)[1].strip()
        elif line.startswith("core id"):
            pairs.add((phys, line.split(":", 1)[1].strip()))
    return len(pairs) or None


def memory_bytes() -> int | None:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def compiler_version(cxx: str | None = None) -> str:
    """First line of ``$CXX --version`` (default ``c++``), or ``unknown``."""
    exe = cxx or os.environ.get("CXX", "c++")
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=5, check=False)
        return out.stdout.splitlines()[0].strip() if out.returncode == 0 and out.stdout else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_fingerprint(simd_level: Callable[[], str] | None = None) -> dict[str, Any]:
    """CPU model, cores, SIMD level (from the optional callable, e.g. ``engram.simd_level``), memory,
    kernel, Python and compiler versions."""
    try:
        simd = str(simd_level()) if simd_level is not None else "unknown"
    except Exception:  # a fingerprint must never fail a run
        simd = "unknown"
    uname = platform.uname()
    return {
        "hostname": uname.node,
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": physical_cores(),
        "simd_level": simd,
        "memory_bytes": memory_bytes(),
        "os": uname.system,
        "kernel": uname.release,
        "machine": uname.machine,
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "python_compiler": platform.python_compiler(),
        "cxx_compiler": compiler_version(),
    }


def fingerprint_key(fp: dict[str, Any]) -> str:
    """A short stable key grouping runs made on comparable machines (for stored baselines)."""
    parts = [str(fp.get(k, "unknown")) for k in ("cpu_model", "logical_cores", "simd_level", "machine")]
    return "|".join(parts)
