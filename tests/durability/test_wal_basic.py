"""Durable engines: every mutation survives a reopen, with identical bytes and ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engram
from engram.durability.digest import content_digest
from tests.durability.helpers import DIM, vec


@pytest.mark.parametrize("mode", ["fsync", "group", "none"])
def test_every_mutation_survives_reopen(tmp_path: Path, mode: str) -> None:
    with engram.Engine(tmp_path, dim=DIM, durability=mode) as eng:
        sp = eng.create_space("a")
        ids = [
            sp.remember(vec(i), content=f"c{i}", confidence=0.5, metadata={"k": str(i)}) for i in range(20)
        ]
        batch = sp.remember_batch(np.stack([vec(100 + i) for i in range(5)]), contents=["x"] * 5)
        sp.forget(ids[3])
        sp.link(ids[0], ids[1], weight=0.25)
        sp.link(ids[1], ids[2])
        sp.unlink(ids[1], ids[2])
        eng.create_space("dropped")
        eng.drop_space("dropped")
        eng.set_features(fan_effect=False)
        before = content_digest(eng)
    with engram.Engine(tmp_path, dim=DIM) as eng:
        info = eng.recovery_info()
        # 1 create + 20 remember + 1 batch + forget + 2 links + unlink + create + drop + features
        assert info["records_replayed"] == 29 and info["corruptions"] == 0
        sp = eng.space("a")
        assert eng.spaces() == ["a"]
        assert content_digest(eng) == before
        m = sp.get(ids[5])
        assert m.content == "c5" and m.metadata == {"k": "5"} and m.confidence == 0.5
        assert m.embedding.tobytes() == vec(5).tobytes()
        assert ids[3] not in sp and int(batch[4]) in sp
        assert sp.validate()["ok"]
        # Ids continue after the recovered ones; nothing is reused.
        new_id = sp.remember(vec(999))
        assert new_id > int(batch[-1])


def test_consolidation_survives_reopen(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    center = rng.normal(size=DIM).astype(np.float32)
    with engram.Engine(tmp_path, dim=DIM) as eng:
        sp = eng.create_space("c")
        for i in range(12):
            sp.remember(center + 0.01 * rng.normal(size=DIM).astype(np.float32), content=str(i))
        rep = sp.consolidate()
        assert rep.concepts_formed >= 1
        before = content_digest(eng)
    with engram.Engine(tmp_path, dim=DIM) as eng:
        sp = eng.space("c")
        assert content_digest(eng) == before
        v = sp.validate()
        assert v["ok"] and v["concepts"] >= 1 and v["orphaned_concepts"] == 0 and v["one_sided_bindings"] == 0


def test_checkpoint_then_wal_then_reopen(tmp_path: Path) -> None:
    with engram.Engine(tmp_path, dim=DIM) as eng:
        sp = eng.create_space("a")
        ids = [sp.remember(vec(i)) for i in range(10)]
        lsn = eng.checkpoint()
        assert lsn == eng.wal_stats()["last_lsn"]
        sp.forget(ids[0])
        sp.remember(vec(50))
        before = content_digest(eng)
    assert len(list(tmp_path.glob("checkpoint-*.ckpt"))) == 1
    with engram.Engine(tmp_path, dim=DIM) as eng:
        info = eng.recovery_info()
        assert info["checkpoint_lsn"] == lsn and info["records_replayed"] == 2
        assert content_digest(eng) == before


def test_background_checkpoint_by_wal_size(tmp_path: Path) -> None:
    import time

    with engram.Engine(tmp_path, dim=DIM, checkpoint_wal_bytes=2000) as eng:
        sp = eng.create_space("a")
        for i in range(40):
            sp.remember(vec(i))
        deadline = time.monotonic() + 5.0
        while not list(tmp_path.glob("checkpoint-*.ckpt")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp_path.glob("checkpoint-*.ckpt")), "no background checkpoint within 5 s"
        assert (
            "engram_checkpoints_total 1" in eng.prometheus() or "engram_checkpoints_total" in eng.prometheus()
        )


def test_store_is_locked_against_a_second_engine(tmp_path: Path) -> None:
    with engram.Engine(tmp_path, dim=DIM), pytest.raises(engram.StorageError, match="already open"):
        engram.Engine(tmp_path, dim=DIM)


def test_unknown_format_version_is_refused(tmp_path: Path) -> None:
    with engram.Engine(tmp_path, dim=DIM) as eng:
        eng.create_space("a")
    (tmp_path / "FORMAT").write_text("engram-store 99\n")
    only = r"format 'engram-store 99'.*reads 'engram-store 2' \(and migrates 'engram-store 1'\) only"
    with pytest.raises(engram.StorageError, match=only):
        engram.Engine(tmp_path, dim=DIM)
    with pytest.raises(engram.StorageError, match=only):
        engram.Engine(tmp_path, dim=DIM, migrate=True)  # no migrator reads it either


def test_bad_durability_mode_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(engram.InvalidInputError, match="durability must be"):
        engram.Engine(tmp_path, dim=DIM, durability="sometimes")


def test_in_memory_engine_refuses_checkpoint() -> None:
    with engram.Engine(None, dim=DIM) as eng, pytest.raises(engram.StorageError, match="in memory"):
        eng.checkpoint()
