"""Hot backups (full and incremental) and restore to the latest state or a point in time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import engram
from engram.cli import main as cli_main
from engram.durability.digest import content_digest
from engram.durability.verify import verify
from tests.durability.helpers import DIM, vec

OPTS = {"segment_bytes": 4096, "checkpoint_interval_s": 0, "checkpoint_wal_bytes": 0}


def digest_of(path: Path) -> str:
    with engram.Engine(path, dim=DIM) as eng:
        assert all(eng.space(n).validate()["ok"] for n in eng.spaces())
        return content_digest(eng)


def test_point_in_time_restore_by_lsn_and_time(tmp_path: Path) -> None:
    src = tmp_path / "src"
    with engram.Engine(src, dim=DIM, **OPTS) as eng:
        sp = eng.create_space("a")
        ids = [sp.remember(vec(i), content=str(i)) for i in range(40)]
        sp.link(ids[0], ids[1])
        digest_a, lsn_a = content_digest(eng), eng.wal_stats()["last_lsn"]
        time.sleep(0.05)
        t_a = time.time()
        time.sleep(0.05)
        for i in ids[:10]:
            sp.forget(i)
        for i in range(40, 60):
            sp.remember(vec(i))
        digest_b = content_digest(eng)
        manifest = eng.backup(tmp_path / "bk")
    assert manifest["durable_lsn"] >= lsn_a and not manifest["incremental"]
    engram.restore(tmp_path / "bk", tmp_path / "latest")
    assert digest_of(tmp_path / "latest") == digest_b
    info = engram.restore(tmp_path / "bk", tmp_path / "at_lsn", until_lsn=lsn_a)
    assert info["last_lsn"] == lsn_a
    assert digest_of(tmp_path / "at_lsn") == digest_a
    engram.restore(tmp_path / "bk", tmp_path / "at_time", until_time=t_a)
    assert digest_of(tmp_path / "at_time") == digest_a
    # A restored store is a normal store: it accepts writes and keeps them.
    with engram.Engine(tmp_path / "at_lsn", dim=DIM) as eng:
        new = eng.space("a").remember(vec(999))
    with engram.Engine(tmp_path / "at_lsn", dim=DIM) as eng:
        assert new in eng.space("a")


def test_hot_backup_while_writing_is_a_consistent_prefix(tmp_path: Path) -> None:
    src = tmp_path / "src"
    acked: list[int] = []
    stop = threading.Event()
    with engram.Engine(src, dim=DIM, **OPTS) as eng:
        sp = eng.create_space("a")

        def writer() -> None:
            i = 0
            while not stop.is_set() and i < 5000:  # bounded
                acked.append(sp.remember(vec(i), content=str(i)))
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.1)
        n_before = len(acked)
        eng.backup(tmp_path / "bk")
        stop.set()
        t.join(timeout=30)
    engram.restore(tmp_path / "bk", tmp_path / "r")
    with engram.Engine(tmp_path / "r", dim=DIM) as eng:
        sp = eng.space("a")
        present = [i for i in acked if i in sp]
        assert len(present) >= n_before  # everything acknowledged before the backup began
        assert present == acked[: len(present)]  # a prefix: no holes, nothing torn
        for mid in present[:: max(1, len(present) // 50)]:
            m = sp.get(mid)
            assert m.embedding.tobytes() == vec(int(m.content)).tobytes()
        assert sp.validate()["ok"]


def test_incremental_backup_ships_only_new_segments(tmp_path: Path) -> None:
    src = tmp_path / "src"
    with engram.Engine(src, dim=DIM, **OPTS) as eng:
        sp = eng.create_space("a")
        for i in range(100):
            sp.remember(vec(i))
        full = eng.backup(tmp_path / "bk")
        for i in range(100, 130):
            sp.remember(vec(i))
        inc = eng.backup(tmp_path / "bk")
        expected = content_digest(eng)
    assert not full["incremental"] and inc["incremental"]
    assert inc["checkpoint_lsn"] == full["checkpoint_lsn"]
    assert 0 < inc["bytes_shipped"] < full["bytes_shipped"]
    unchanged = [f for f in full["files"] if f.startswith("wal/") and full["files"][f] == inc["files"][f]]
    assert unchanged, "closed segments should not be copied again"
    assert verify(tmp_path / "bk")["ok"]
    engram.restore(tmp_path / "bk", tmp_path / "r")
    assert digest_of(tmp_path / "r") == expected


def test_damaged_backup_is_refused(tmp_path: Path) -> None:
    with engram.Engine(tmp_path / "src", dim=DIM, **OPTS) as eng:
        sp = eng.create_space("a")
        for i in range(30):
            sp.remember(vec(i))
        eng.backup(tmp_path / "bk")
    seg = sorted((tmp_path / "bk" / "wal").glob("*.seg"))[-1]
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 1
    seg.write_bytes(bytes(data))
    assert not verify(tmp_path / "bk")["ok"]
    with pytest.raises(engram.CorruptionError, match="SHA-256"):
        engram.restore(tmp_path / "bk", tmp_path / "r")


def test_restore_into_non_empty_directory_is_refused(tmp_path: Path) -> None:
    with engram.Engine(tmp_path / "src", dim=DIM, **OPTS) as eng:
        eng.create_space("a")
        eng.backup(tmp_path / "bk")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "x").write_text("x")
    with pytest.raises(engram.StorageError, match="not empty"):
        engram.restore(tmp_path / "bk", tmp_path / "r")


def test_cli_backup_verify_restore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with engram.Engine(tmp_path / "src", dim=DIM, **OPTS) as eng:
        sp = eng.create_space("a")
        for i in range(20):
            sp.remember(vec(i))
        expected = content_digest(eng)
    assert cli_main(["backup", str(tmp_path / "src"), str(tmp_path / "bk"), "--no-progress"]) == 0
    assert cli_main(["verify", str(tmp_path / "bk")]) == 0
    assert cli_main(["verify", str(tmp_path / "src")]) == 0
    assert cli_main(["restore", str(tmp_path / "bk"), str(tmp_path / "r"), "--no-progress"]) == 0
    assert digest_of(tmp_path / "r") == expected
    assert cli_main(["restore", str(tmp_path / "bk"), str(tmp_path / "r"), "--no-progress"]) == 2
    assert "not empty" in capsys.readouterr().err
