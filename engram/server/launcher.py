"""``engram serve`` as a thin launcher: it ``exec``s the native server ``engramd`` (C++,
``cpp/server``; installed beside this interpreter's scripts) with the same arguments, so the
process that serves is ``engramd`` itself (its signals, exit status and logs). Imports nothing
heavy so ``engram --help`` stays fast."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

#: The Debian/Ubuntu packages engramd is built from (CMakeLists.txt finds them; without them
#: ``pip install .`` builds the engine alone and no engramd).
SYSTEM_PACKAGES = "libboost-dev libsimdjson-dev libssl-dev libtomlplusplus-dev"
INSTALL_HINT = (
    "the native server engramd is not installed (this engram was built without its libraries). "
    f"Install them with: apt-get install {SYSTEM_PACKAGES} (Debian/Ubuntu), then rebuild engram "
    "(pip install --force-reinstall . in its checkout); ENGRAM_ENGRAMD=/path/to/engramd names a "
    "build elsewhere"
)


def find_engramd() -> str | None:
    """``$ENGRAM_ENGRAMD`` (a sanitizer or debug build), else ``engramd`` beside this interpreter
    (the environment's scripts folder), else on PATH."""
    override = os.environ.get("ENGRAM_ENGRAMD")
    if override:
        return override if os.access(override, os.X_OK) else None
    here = shutil.which("engramd", path=str(Path(sys.executable).parent))
    return here or shutil.which("engramd")


def exec_engramd(args: Sequence[str]) -> int:
    """Replace this process with ``engramd args...``; returns 2 (with the message) when missing."""
    path = find_engramd()
    if path is None:
        override = os.environ.get("ENGRAM_ENGRAMD")
        where = f" (ENGRAM_ENGRAMD={override} is not an executable file)" if override else ""
        sys.stderr.write(f"engram serve: {INSTALL_HINT}{where}\n")
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(path, [path, *args])
    return 0  # not reached
