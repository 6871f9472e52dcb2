"""Disk full and I/O errors: the write fails with StorageError naming the cause, the engine
stays readable and consistent, and writes succeed again once the disk accepts them."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import engram
from engram.durability.digest import content_digest
from engram.errors import InvalidInputError
from tests.durability.helpers import DIM, vec

# Writes to the WAL's segments fail; `partial`: half the batch reaches the file first, as a real
# ENOSPC may leave it (docs/faults.md).
WAL_ENOSPC = "ioerror=write@*/wal/wal-*.seg:ENOSPC:partial"
WAL_EIO = "ioerror=write@*/wal/wal-*.seg:EIO"


def test_injected_enospc_fails_writes_then_recovers(tmp_path: Path, faults: ModuleType) -> None:
    with engram.Engine(tmp_path, dim=DIM, checkpoint_interval_s=0, checkpoint_wal_bytes=0) as eng:
        sp = eng.create_space("a")
        ids = [sp.remember(vec(i)) for i in range(10)]
        faults.set_plan(WAL_ENOSPC)
        with pytest.raises(engram.StorageError, match=r"disk full \(ENOSPC\)"):
            sp.remember(vec(100))
        # Later writes fail fast while the disk still refuses; reads keep working.
        for call in (lambda: sp.remember(vec(101)), lambda: sp.forget(ids[0]), lambda: eng.create_space("b")):
            with pytest.raises(engram.StorageError, match="disk full"):
                call()
        assert sp.get(ids[1]).embedding.tobytes() == vec(1).tobytes()
        assert sp.search(vec(2), k=1)[0][0] == ids[2]
        assert sp.validate()["ok"]
        assert eng.wal_stats()["failed"] and "engram_wal_storage_errors_total" in eng.prometheus()
        faults.clear()
        later = sp.remember(vec(200))
        sp.forget(ids[0])
        assert not eng.wal_stats()["failed"]
        before = content_digest(eng)
    with engram.Engine(tmp_path, dim=DIM) as eng:
        sp = eng.space("a")
        # What the engine showed in memory is what is on disk: nothing half-written.
        assert content_digest(eng) == before
        assert later in sp and ids[0] not in sp and sp.validate()["ok"]


def test_injected_eio_names_an_io_error(tmp_path: Path, faults: ModuleType) -> None:
    with engram.Engine(tmp_path, dim=DIM) as eng:
        sp = eng.create_space("a")
        faults.set_plan(WAL_EIO)
        with pytest.raises(engram.StorageError, match="I/O error"):
            sp.remember(vec(1))
        faults.clear()
        sp.remember(vec(2))


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, where this machine allows mounting one (root with CAP_SYS_ADMIN)."""
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()}); the injected-ENOSPC tests cover this")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=10)


def test_real_full_disk(small_tmpfs: Path) -> None:
    # the disk's own ENOSPC, with the disk guard off (below: the guard refusing first)
    store = small_tmpfs / "store"
    filler = small_tmpfs / "filler"
    with engram.Engine(
        store, dim=DIM, segment_bytes=64 << 10, checkpoint_interval_s=0, checkpoint_wal_bytes=0,
        disk_full_fraction=1.0,
    ) as eng:  # fmt: skip
        sp = eng.create_space("a")
        filler.write_bytes(b"\0" * (700 << 10))
        acked: list[int] = []
        payload = "x" * 4000
        error: engram.StorageError | None = None
        for i in range(400):  # bounded: 400 x 4 KB is well past 1 MiB
            try:
                acked.append(sp.remember(vec(i), content=payload))
            except engram.StorageError as e:
                error = e
                break
        assert error is not None, "the 1 MiB tmpfs never filled up"
        assert "No space left" in str(error) or "ENOSPC" in str(error)
        assert sp.get(acked[-1]).content == payload and sp.validate()["ok"]
        os.unlink(filler)  # free space: writes succeed again
        after = sp.remember(np.ones(DIM, dtype=np.float32), content="after")
        before = content_digest(eng)
    with engram.Engine(store, dim=DIM) as eng:
        sp = eng.space("a")
        assert content_digest(eng) == before
        assert all(i in sp for i in acked) and after in sp


def test_disk_guard_refuses_before_the_disk_is_full(small_tmpfs: Path) -> None:
    store = small_tmpfs / "store"
    filler = small_tmpfs / "filler"
    with engram.Engine(store, dim=DIM, checkpoint_interval_s=0, checkpoint_wal_bytes=0) as eng:
        sp = eng.create_space("a")
        kept = sp.remember(vec(1), content="kept")
        st = os.statvfs(small_tmpfs)
        total, used = st.f_blocks * st.f_frsize, (st.f_blocks - st.f_bavail) * st.f_frsize
        filler.write_bytes(b"\0" * int(0.96 * total - used))  # 96% full, some room left
        time.sleep(0.05)  # the guard reads the file system at most every 10 ms
        with pytest.raises(engram.StorageError, match="at or above its limit of 95%") as refused:
            sp.remember(vec(2), content="refused")
        assert "disk full" in str(refused.value)
        assert os.statvfs(small_tmpfs).f_bavail > 0  # the disk itself had room
        assert sp.get(kept).content == "kept" and len(sp) == 1  # reads go on, nothing half-stored
        os.unlink(filler)
        deadline = time.monotonic() + 2.0
        after = None
        while after is None and time.monotonic() < deadline:  # bounded: the next reading sees room
            try:
                after = sp.remember(vec(3), content="after")
            except engram.StorageError:
                time.sleep(0.005)
        assert after is not None, "writes were not accepted again after the disk was freed"
        refusals = [
            ln
            for ln in eng.prometheus().splitlines()
            if ln.startswith("engram_wal_disk_full_refusals_total ")
        ]
        assert refusals and float(refusals[0].split()[1]) >= 1  # the retries above may add some


def test_disk_full_fraction_is_validated_and_can_be_turned_off(tmp_path: Path) -> None:
    # the disk guard's line (docs/architecture.md, "Disk pressure"): 0.5 to 1, 1 = only ENOSPC
    with pytest.raises(InvalidInputError, match=r"disk_full_fraction must be between 0\.5 and 1"):
        engram.Engine(tmp_path / "a", dim=4, disk_full_fraction=0.2)
    eng = engram.Engine(tmp_path / "b", dim=4, disk_full_fraction=1.0)
    sp = eng.create_space("s")
    assert sp.remember([1.0, 0.0, 0.0, 0.0]) >= 0
    assert "engram_wal_disk_full_refusals_total 0" in eng.prometheus()
    eng.close()
