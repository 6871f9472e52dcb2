"""A slow disk: the cgroup v1 ``blkio`` throttle on the server process (root).

The throttle applies to I/O the process issues itself to a block device: direct I/O, reads, and
synchronous writes (the WAL's fsync). Buffered writes that the kernel's flusher writes back later
are charged to the root group in cgroup v1 and escape it, so the fault shows as slow syncs and
reads, which is what a slow disk does to a write-ahead log."""

from __future__ import annotations

import os
from pathlib import Path

from engram_harness.chaos.cgroup import TemporaryCgroup
from engram_harness.chaos.errors import InjectorUnavailable


def block_device_of(path: str | os.PathLike[str]) -> str:
    """``major:minor`` of the block device holding ``path`` (a whole disk or partition); raises
    when the file system has no block device (tmpfs, overlay)."""
    st = os.stat(path)
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    dev = f"{major}:{minor}"
    sys_dev = Path(f"/sys/dev/block/{dev}")
    if not sys_dev.exists():
        raise InjectorUnavailable(f"{path} is on device {dev}, which is not a block device (tmpfs or overlay?): "
                                  "the blkio throttle cannot slow it")  # fmt: skip
    if (sys_dev / "partition").exists():  # throttle the whole disk: v1 accepts only whole devices
        parent = (sys_dev / "..").resolve() / "dev"
        if parent.exists():
            return parent.read_text().strip()
    return dev


class SlowDisk:
    """``with SlowDisk(pid, data_dir, read_bps=..., write_bps=..., read_iops=..., write_iops=...)``:
    throttle ``pid``'s I/O on the device holding ``data_dir``. Zero or None leaves a limit off."""

    def __init__(self, pid: int, path: str | os.PathLike[str], *, read_bps: int | None = None,
                 write_bps: int | None = None, read_iops: int | None = None,
                 write_iops: int | None = None) -> None:  # fmt: skip
        self.limits = {"read_bps_device": read_bps, "write_bps_device": write_bps,
                       "read_iops_device": read_iops, "write_iops_device": write_iops}  # fmt: skip
        if not any(self.limits.values()):
            raise ValueError("SlowDisk needs at least one of read_bps, write_bps, read_iops, write_iops")
        for k, v in self.limits.items():
            if v is not None and v < 0:
                raise ValueError(f"{k} must be >= 0; got {v!r}")
        self.device = block_device_of(path)
        self.group = TemporaryCgroup("blkio", pid)

    def __enter__(self) -> SlowDisk:
        self.group.__enter__()
        try:
            for k, v in self.limits.items():
                if v:
                    self.group.set(f"blkio.throttle.{k}", f"{self.device} {int(v)}")
            self.group.move_in()
        except BaseException:
            self.group.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.group.__exit__(*exc)
