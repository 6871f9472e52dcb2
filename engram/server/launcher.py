"""``engram serve`` as a thin launcher (issue 13): it ``exec``s the native server ``engramd``
(C++, ``cpp/server``; installed beside this interpreter's scripts) with the same arguments, or,
during the transition, runs the Starlette server (``--impl python``). The implementation is
``--impl`` if given, else ``ENGRAM_SERVER_IMPL``, else :data:`DEFAULT_IMPL`. Imports nothing from
the server so ``engram --help`` stays fast."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

IMPLS = ("native", "python")
# python until the native server serves every route of API v1 (the later parts of issue 13 port
# memories, graph, queries, admin, legacy and the stream); then native, and the Starlette server goes.
DEFAULT_IMPL = "python"
ENV = "ENGRAM_SERVER_IMPL"
INSTALL_HINT = (
    "the native server engramd is not installed (this engram was built without its libraries). "
    "Install them with: apt-get install libboost-dev libsimdjson-dev libssl-dev libtomlplusplus-dev "
    "(Debian/Ubuntu), then reinstall engram (pip install --force-reinstall engram); "
    "or run the Python server: engram serve --impl python"
)


class LaunchError(ValueError):
    """A bad ``--impl`` or ``ENGRAM_SERVER_IMPL`` value."""


def find_engramd() -> str | None:
    """``$ENGRAM_ENGRAMD`` (a sanitizer or debug build), else ``engramd`` beside this interpreter
    (the environment's scripts folder), else on PATH."""
    override = os.environ.get("ENGRAM_ENGRAMD")
    if override:
        return override if os.access(override, os.X_OK) else None
    here = shutil.which("engramd", path=str(Path(sys.executable).parent))
    return here or shutil.which("engramd")


def split_impl(args: Sequence[str]) -> tuple[str, list[str]]:
    """The implementation asked for and the arguments without ``--impl``."""
    impl = os.environ.get(ENV) or DEFAULT_IMPL
    rest: list[str] = []
    it = iter(args)
    for a in it:
        if a == "--impl":
            impl = next(it, "")
        elif a.startswith("--impl="):
            impl = a.split("=", 1)[1]
        else:
            rest.append(a)
    if impl not in IMPLS:
        raise LaunchError(
            f"server implementation {impl!r}; expected one of {', '.join(IMPLS)} (--impl or {ENV})"
        )
    return impl, rest


def exec_native(args: Sequence[str]) -> int:
    """Replace this process with ``engramd args...``; returns 2 (with the message) when missing."""
    path = find_engramd()
    if path is None:
        sys.stderr.write(f"engram serve: {INSTALL_HINT}\n")
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(path, [path, *args])
    return 0  # not reached
