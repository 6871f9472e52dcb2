"""Finding an ``engramd`` of the test build (``-DENGRAM_FAULT_INJECTION=ON``, docs/faults.md): the
crash points and fault plans (``ENGRAM_FAULTS``) exist only there.

``$ENGRAM_FAULT_ENGRAMD`` names one (the ``acceptance`` session builds it: noxfile.py); otherwise
the ``engramd`` that ``engram serve`` would run is used when it is a test build. A test build is
told by its crash-point names, which a release build compiles away (tests/packaging checks that
the release library holds none).
"""

from __future__ import annotations

import os
from pathlib import Path

#: A crash point's name: present in a test build's binary, absent from a release build's.
MARKER = b"consolidation.mid_binding_write"


def is_fault_build(path: str | os.PathLike[str]) -> bool:
    """Whether the executable at ``path`` holds the crash-point names (read in 1 MiB chunks)."""
    tail = b""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):  # bounded by the file's size
            if MARKER in tail + chunk:
                return True
            tail = chunk[-len(MARKER) :]
    return False


def fault_engramd() -> tuple[str | None, str]:
    """The path of a test-build engramd (or None) and a sentence saying where it came from or why
    none was found."""
    from engram.server.launcher import find_engramd

    named = os.environ.get("ENGRAM_FAULT_ENGRAMD")
    if named:
        if not os.access(named, os.X_OK):
            return None, f"ENGRAM_FAULT_ENGRAMD={named} is not an executable file"
        if not is_fault_build(named):
            return (
                None,
                f"ENGRAM_FAULT_ENGRAMD={named} is not a fault-injection build (no crash points in it)",
            )
        return named, f"ENGRAM_FAULT_ENGRAMD={named}"
    default = find_engramd()
    if default is None:
        return None, "no engramd found (and ENGRAM_FAULT_ENGRAMD is not set)"
    if is_fault_build(default):
        return default, f"{default} (a fault-injection build)"
    return None, (
        f"{Path(default)} is a release build without crash points; build one with "
        "-DENGRAM_FAULT_INJECTION=ON (docs/faults.md) and name it in ENGRAM_FAULT_ENGRAMD"
    )
