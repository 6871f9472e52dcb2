"""The resource injectors on this machine (root; CI runs as root too): each fault is observed on a
real process, and each is undone on exit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engram_harness.chaos.blkio import SlowDisk, block_device_of
from engram_harness.chaos.cpu import CpuStarvation
from engram_harness.chaos.disk import SmallDisk
from engram_harness.chaos.errors import InjectorUnavailable
from engram_harness.chaos.memory import MemoryLimit

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def mounted(path: Path) -> bool:
    return any(line.split()[1] == str(path) for line in Path("/proc/mounts").read_text().splitlines())


def waiting_child(code: str) -> subprocess.Popen[str]:
    """A Python child that runs ``code`` once a line arrives on its stdin (after we moved it)."""
    return subprocess.Popen([sys.executable, "-c", f"import sys; sys.stdin.readline()\n{code}"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


@pytest.mark.parametrize("injector", [lambda: SmallDisk(8 << 20), lambda: MemoryLimit(os.getpid(), 1 << 30)])
def test_root_parts_refuse_clearly_without_root(monkeypatch: pytest.MonkeyPatch, injector: object) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(InjectorUnavailable, match="needs root"), injector():  # type: ignore[operator]
        pass


@root_only
def test_small_disk_fills_frees_and_unmounts() -> None:
    with SmallDisk(8 << 20) as disk:
        assert mounted(disk.path) and disk.usage() < 0.05
        (disk.path / "a").write_bytes(b"x" * 100_000)
        size = disk.fill(1.0)
        assert size > 7 << 20
        with pytest.raises(OSError) as e, open(disk.path / "b", "wb") as f:
            f.write(b"y" * 200_000)
            f.flush()
            os.fsync(f.fileno())
        assert e.value.errno == 28  # ENOSPC
        disk.free()
        (disk.path / "c").write_bytes(b"z" * 200_000)
        assert disk.fill(0.5) > 0 and 0.5 <= disk.usage() < 0.6
        path = disk.path
    assert not mounted(path) and not path.exists()


@root_only
def test_memory_limit_kills_a_process_over_it_and_cleans_up() -> None:
    child = waiting_child("b = []\nfor _ in range(400): b.append(bytearray(1 << 20))\nprint('survived')")
    try:
        with MemoryLimit(child.pid, 64 << 20) as m:
            group = m.group.path
            assert group is not None and group.exists()
            assert str(child.pid) in (group / "cgroup.procs").read_text().split()
            out, _ = child.communicate("go\n", timeout=60)
            usage = m.usage()
        assert child.returncode == -9 and "survived" not in out  # the kernel's OOM killer
        assert usage.max_usage_bytes <= 64 << 20
        # the group's OOM-kill counter (older kernels lack it: then the limit was hit at least)
        assert usage.oom_kills == 1 or (usage.oom_kills == -1 and usage.failcnt > 0), usage
        assert not group.exists()
    finally:
        if child.poll() is None:
            child.kill()


@root_only
def test_memory_limit_lets_a_process_under_it_run_and_moves_it_back() -> None:
    child = waiting_child("b = bytearray(8 << 20)\nprint('ok')\nsys.stdin.readline()")
    try:
        before = Path(f"/proc/{child.pid}/cgroup").read_text()
        with MemoryLimit(child.pid, 256 << 20):
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "ok"
        assert Path(f"/proc/{child.pid}/cgroup").read_text() == before
        child.communicate("done\n", timeout=30)
        assert child.returncode == 0
    finally:
        if child.poll() is None:
            child.kill()


def session_cpu_s(sid: int) -> float:
    """CPU seconds (user + system) of every live process in session ``sid``."""
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # field 6 (session) counted from after the command name
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@pytest.mark.usefixtures("stress_ng")
def test_cpu_starvation_burns_cpu_and_stops() -> None:
    with CpuStarvation(workers=1, load_pct=100) as s:
        assert s.proc is not None
        time.sleep(1.5)
        burnt = session_cpu_s(s.proc.pid)
        pid = s.proc.pid
    assert burnt >= 0.5, burnt  # one worker at 100% for 1.5 s, on a shared 2-core machine
    assert s.proc.returncode is not None and session_cpu_s(pid) == 0.0


def test_cpu_starvation_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="load_pct"):
        CpuStarvation(1, 0)


def direct_write_s(path: Path, throttle: dict[str, int] | None) -> float:
    """Seconds a shell takes to write 512 KiB with direct I/O, throttled or not."""
    child = subprocess.Popen(["sh", "-c", f"read x; dd if=/dev/zero of={path} bs=64k count=8 oflag=direct,dsync "
                              "2>/dev/null"], stdin=subprocess.PIPE, text=True)  # fmt: skip
    try:
        if throttle:
            with SlowDisk(child.pid, path.parent, **throttle):
                t0 = time.perf_counter()
                child.communicate("go\n", timeout=60)
                return time.perf_counter() - t0
        t0 = time.perf_counter()
        child.communicate("go\n", timeout=60)
        return time.perf_counter() - t0
    finally:
        if child.poll() is None:
            child.kill()


@root_only
def test_slow_disk_throttles_direct_writes(tmp_path: Path) -> None:
    try:
        block_device_of(tmp_path)
    except InjectorUnavailable as exc:
        pytest.skip(str(exc))
    fast = direct_write_s(tmp_path / "f", None)
    slow = direct_write_s(tmp_path / "g", {"write_bps": 256 << 10})  # 512 KiB at 256 KiB/s
    assert slow >= 1.5 and slow > fast + 1.0, (fast, slow)


def test_slow_disk_needs_a_limit_and_a_block_device(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        SlowDisk(os.getpid(), tmp_path)
    with pytest.raises(InjectorUnavailable, match="not a block device"):
        block_device_of("/proc")
