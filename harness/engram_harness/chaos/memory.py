"""Memory pressure: a cgroup v1 memory limit on the server process (root; this machine has the v1
memory controller writable). Where the kernel refuses, :class:`InjectorUnavailable` says so; a
suite then falls back to the engine's own memory budget and says that in its output."""

from __future__ import annotations

from dataclasses import dataclass

from engram_harness.chaos.cgroup import TemporaryCgroup
from engram_harness.chaos.errors import InjectorUnavailable


@dataclass
class MemoryUsage:
    usage_bytes: int
    max_usage_bytes: int
    failcnt: int  # times the limit was hit
    oom_kills: int  # processes the OOM killer killed in the group (-1: not reported by this kernel)


class MemoryLimit:
    """``with MemoryLimit(pid, 256 << 20) as m:`` limits ``pid``'s memory (and swap, where the kernel
    accounts it) to ``limit_bytes``. ``oom_kill=False`` asks the kernel to pause the process at the
    limit instead of killing it. Pages already charged elsewhere stay there (v1 charges at fault
    time; ``move_charge`` asks to move them too)."""

    def __init__(
        self, pid: int, limit_bytes: int, *, oom_kill: bool = True, move_charge: bool = True
    ) -> None:
        if limit_bytes <= 0:
            raise ValueError(f"limit_bytes must be > 0; got {limit_bytes!r}")
        self.limit_bytes = int(limit_bytes)
        self.oom_kill = oom_kill
        self.move_charge = move_charge
        self.group = TemporaryCgroup("memory", pid)
        self.notes: list[str] = []  # what the kernel did not do, for the suite's output

    def __enter__(self) -> MemoryLimit:
        self.group.__enter__()
        try:
            if self.move_charge:
                try:
                    self.group.set("memory.move_charge_at_immigrate", "3")
                except InjectorUnavailable as exc:  # some kernels drop it: new pages are still limited
                    self.notes.append(f"pages charged before the move stay outside the limit ({exc})")
            self.group.set("memory.limit_in_bytes", str(self.limit_bytes))
            if self.group.exists("memory.memsw.limit_in_bytes"):  # swap accounted: limit RAM + swap too
                self.group.set("memory.memsw.limit_in_bytes", str(self.limit_bytes))
            if not self.oom_kill:
                self.group.set("memory.oom_control", "1")
            self.group.move_in()
        except BaseException:
            self.group.__exit__(None, None, None)
            raise
        return self

    def usage(self) -> MemoryUsage:
        oom = -1
        for line in self.group.read("memory.oom_control").splitlines():
            k, _, v = line.partition(" ")
            if k == "oom_kill":
                oom = int(v)
        return MemoryUsage(int(self.group.read("memory.usage_in_bytes")), int(self.group.read("memory.max_usage_in_bytes")),
                           int(self.group.read("memory.failcnt")), oom)  # fmt: skip

    def __exit__(self, *exc: object) -> None:
        self.group.__exit__(*exc)
