"""What /proc says about a window of time: host CPU (busy, iowait), disk queues, a process's CPU
and resident memory. Every reader takes the file's text, so unit tests feed synthetic snapshots."""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# whole disks only: partitions, loop, ram and device-mapper devices would count the same I/O twice
_DISK = re.compile(r"^(sd[a-z]+|vd[a-z]+|xvd[a-z]+|hd[a-z]+|nvme\d+n\d+|mmcblk\d+)$")


@dataclass(frozen=True)
class CpuTimes:
    """Aggregate ``cpu`` line of /proc/stat, in ticks."""

    busy: int  # user + nice + system + irq + softirq + steal
    iowait: int
    idle: int

    @property
    def total(self) -> int:
        return self.busy + self.iowait + self.idle


def parse_cpu(stat_text: str) -> CpuTimes:
    for line in stat_text.splitlines():
        if line.startswith("cpu "):
            v = [int(x) for x in line.split()[1:]]
            v += [0] * (8 - len(v))
            user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
            return CpuTimes(user + nice + system + irq + softirq + steal, iowait, idle)
    raise ValueError("no aggregate 'cpu' line in /proc/stat")


@dataclass(frozen=True)
class DiskTimes:
    """Sums over whole disks of /proc/diskstats: ms doing I/O and weighted ms (queue x time)."""

    io_ms: int
    weighted_ms: int


def parse_diskstats(text: str) -> DiskTimes:
    io = weighted = 0
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 14 and _DISK.match(f[2]):
            io += int(f[12])
            weighted += int(f[13])
    return DiskTimes(io, weighted)


@dataclass(frozen=True)
class HostWindow:
    """Host CPU and disk over a window: fractions of all CPU time, and the disk queue."""

    busy_fraction: float
    iowait_fraction: float
    disk_queue: float  # average requests in flight (weighted ms / wall ms), summed over disks
    disk_util: float  # fraction of the window some disk was busy (max 1 per disk, summed)


def host_window(
    cpu0: CpuTimes, cpu1: CpuTimes, disk0: DiskTimes, disk1: DiskTimes, wall_s: float
) -> HostWindow:
    total = cpu1.total - cpu0.total
    if total <= 0 or not wall_s > 0:
        return HostWindow(math.nan, math.nan, math.nan, math.nan)
    return HostWindow(
        busy_fraction=(cpu1.busy - cpu0.busy) / total,
        iowait_fraction=(cpu1.iowait - cpu0.iowait) / total,
        disk_queue=(disk1.weighted_ms - disk0.weighted_ms) / (1e3 * wall_s),
        disk_util=(disk1.io_ms - disk0.io_ms) / (1e3 * wall_s),
    )


def read_cpu() -> CpuTimes:
    with open("/proc/stat", encoding="ascii") as f:
        return parse_cpu(f.read())


def read_disks() -> DiskTimes:
    try:
        with open("/proc/diskstats", encoding="ascii") as f:
            return parse_diskstats(f.read())
    except OSError:
        return DiskTimes(0, 0)


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (VmRSS of /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise ValueError(f"no VmRSS for pid {pid}")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (all threads)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


class Window:
    """Snapshot /proc at enter and exit: ``with Window(pid) as w: ...; w.host, w.server_cores``."""

    def __init__(self, pid: int | None = None) -> None:
        self._time = time.monotonic
        self.pid = pid
        self.host = HostWindow(math.nan, math.nan, math.nan, math.nan)
        self.server_cpu_s = math.nan
        self.wall_s = math.nan

    def __enter__(self) -> Window:
        self._t0, self._c0, self._d0 = self._time(), read_cpu(), read_disks()
        self._p0 = process_cpu_s(self.pid) if self.pid else math.nan
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = self._time() - self._t0
        self.host = host_window(self._c0, read_cpu(), self._d0, read_disks(), self.wall_s)
        if self.pid:
            self.server_cpu_s = process_cpu_s(self.pid) - self._p0

    @property
    def server_cores(self) -> float:
        return self.server_cpu_s / self.wall_s if self.wall_s > 0 else math.nan
