"""A temporary cgroup v1 group holding one process: created, the process moved in, and on exit moved
back to the group it came from and the group removed. The memory and blkio injectors build on it."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path

from engram_harness.chaos.errors import ChaosError, InjectorUnavailable
from engram_harness.chaos.privileges import cgroup_of, cgroup_v1_controller, require_root


class TemporaryCgroup:
    def __init__(self, controller: str, pid: int, *, name: str | None = None) -> None:
        self.controller = controller
        self.pid = int(pid)
        self.name = name or f"engram-chaos-{uuid.uuid4().hex[:10]}"
        self.root: Path | None = None
        self.path: Path | None = None
        self.origin: Path | None = None

    def set(self, file: str, value: str) -> None:
        """Write a control file; a refusal of the kernel becomes an :class:`InjectorUnavailable`."""
        assert self.path is not None
        try:
            (self.path / file).write_text(value)
        except OSError as exc:
            raise InjectorUnavailable(f"the kernel refused {value!r} for {self.path / file}: {exc}") from exc

    def exists(self, file: str) -> bool:
        return self.path is not None and (self.path / file).exists()

    def read(self, file: str) -> str:
        assert self.path is not None
        return (self.path / file).read_text()

    def __enter__(self) -> TemporaryCgroup:
        require_root(f"a cgroup v1 {self.controller} limit")
        self.root = cgroup_v1_controller(self.controller)
        if not Path(f"/proc/{self.pid}").exists():
            raise ChaosError(f"no process {self.pid} to put in a {self.controller} cgroup")
        self.origin = self.root / cgroup_of(self.pid, self.controller).lstrip("/")
        self.path = self.root / self.name
        try:
            self.path.mkdir()
        except OSError as exc:
            raise InjectorUnavailable(f"cannot create the cgroup {self.path}: {exc}") from exc
        return self

    def move_in(self) -> None:
        try:
            self.set("cgroup.procs", str(self.pid))
        except InjectorUnavailable:
            self._remove()
            raise

    def __exit__(self, *exc: object) -> None:
        assert self.path is not None and self.origin is not None
        if Path(f"/proc/{self.pid}").exists():
            with contextlib.suppress(OSError):  # the process may exit meanwhile
                (self.origin / "cgroup.procs").write_text(str(self.pid))
        self._remove()

    def _remove(self) -> None:
        assert self.path is not None
        for _ in range(50):  # bounded: rmdir fails while the kernel still counts a leaving task
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)
        raise ChaosError(
            f"could not remove the cgroup {self.path} (tasks: {self.read('cgroup.procs').split()})"
        )
