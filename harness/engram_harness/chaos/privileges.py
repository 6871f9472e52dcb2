"""Checks the resource injectors make before touching the system: root, a tool, a cgroup controller."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engram_harness.chaos.errors import InjectorUnavailable

CGROUP_V1 = Path("/sys/fs/cgroup")


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise InjectorUnavailable(f"{what} needs root (running as uid {os.geteuid()})")


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise InjectorUnavailable(f"{name} not found on PATH; install the Debian package {package} "
                                  "(scripts/setup-system.sh does)")  # fmt: skip
    return path


def cgroup_v1_controller(name: str) -> Path:
    """The mount point of a cgroup v1 controller (``memory``, ``blkio``), checked writable."""
    root = CGROUP_V1 / name
    if not (root / "cgroup.procs").exists():
        raise InjectorUnavailable(f"the cgroup v1 {name} controller is not mounted at {root}")
    if not os.access(root, os.W_OK):
        raise InjectorUnavailable(f"the cgroup v1 {name} controller at {root} is not writable")
    return root


def cgroup_of(pid: int, controller: str) -> str:
    """The cgroup path (relative to the controller's mount) that ``pid`` is in."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    raise InjectorUnavailable(f"process {pid} has no cgroup v1 {controller} controller")
