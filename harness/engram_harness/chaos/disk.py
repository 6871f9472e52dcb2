"""Disk full: a small tmpfs the injector mounts itself (root), to hold a server's data directory,
and a ballast file that fills it to a chosen fraction and is deleted to free the space again."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path

from engram_harness.chaos.errors import ChaosError, InjectorUnavailable
from engram_harness.chaos.privileges import require_root


class SmallDisk:
    """``with SmallDisk(size_bytes) as disk:`` a fresh tmpfs of ``size_bytes`` at ``disk.path``
    (a temporary directory unless ``mount_point`` is given), unmounted and removed on exit."""

    BALLAST = ".chaos-ballast"

    def __init__(self, size_bytes: int, mount_point: str | os.PathLike[str] | None = None) -> None:
        if size_bytes < 1 << 20:
            raise ValueError(f"size_bytes must be at least 1 MiB; got {size_bytes!r}")
        self.size_bytes = int(size_bytes)
        self._given = mount_point is not None
        self.path = Path(mount_point) if mount_point is not None else Path()
        self.mounted = False

    def __enter__(self) -> SmallDisk:
        require_root("mounting a tmpfs (disk full)")
        if not self._given:
            self.path = Path(tempfile.mkdtemp(prefix="engram-chaos-disk-"))
        self.path.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size_bytes},mode=0755", "tmpfs", str(self.path)],
                           capture_output=True, text=True)  # fmt: skip
        if r.returncode != 0:
            raise InjectorUnavailable(
                f"the kernel refused to mount a tmpfs at {self.path}: {r.stderr.strip()}"
            )
        self.mounted = True
        return self

    def usage(self) -> float:
        """Fraction of the file system in use."""
        st = os.statvfs(self.path)
        return 1.0 - st.f_bavail / st.f_blocks

    def fill(self, fraction: float = 1.0) -> int:
        """Grow the ballast until the disk is ``fraction`` used (1.0: until ENOSPC); returns the
        ballast's size in bytes."""
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}")
        chunk = b"\0" * (64 << 10)
        ballast = self.path / self.BALLAST
        with open(ballast, "ab") as f:
            while self.usage() < fraction:  # bounded: the disk fills
                try:
                    f.write(chunk)
                    f.flush()
                except OSError:
                    break
        return ballast.stat().st_size

    def free(self) -> None:
        """Delete the ballast: the space comes back."""
        with contextlib.suppress(FileNotFoundError):
            (self.path / self.BALLAST).unlink()

    def __exit__(self, *exc: object) -> None:
        if self.mounted:
            r = subprocess.run(["umount", str(self.path)], capture_output=True, text=True)
            if r.returncode != 0:  # busy: a server still has files open there
                r = subprocess.run(["umount", "-l", str(self.path)], capture_output=True, text=True)
            if r.returncode != 0:
                raise ChaosError(f"could not unmount {self.path}: {r.stderr.strip()}")
            self.mounted = False
        if not self._given:
            with contextlib.suppress(OSError):
                self.path.rmdir()
