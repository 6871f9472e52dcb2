"""Idempotency keys in the engine (issue 13, defects 1 and 2): stored once per (space, key),
durable with the memory, bounded per space, and a retry after a failed write replays it."""

from __future__ import annotations

import threading
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import engram
from engram.durability.digest import content_digest
from tests.durability.helpers import DIM, vec

WAL_ENOSPC = "ioerror=write@*/wal/wal-*.seg:ENOSPC:partial"


def test_replay_conflict_and_batch_in_process() -> None:
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("a")
        mid, replayed = sp.remember_keyed(vec(1), "one", idempotency_key="k", fingerprint="f1")
        assert not replayed
        assert sp.remember_keyed(vec(1), "one", idempotency_key="k", fingerprint="f1") == (mid, True)
        assert sp.remember(vec(1), "one", idempotency_key="k", fingerprint="f1") == mid
        with pytest.raises(engram.IdempotencyConflict, match="different payload"):
            sp.remember(vec(2), "two", idempotency_key="k", fingerprint="f2")
        ids, rep = sp.remember_batch_keyed(
            np.stack([vec(3), vec(4)]), idempotency_key="b", fingerprint=b"\x00\xff"
        )
        assert not rep
        again, rep = sp.remember_batch_keyed(
            np.stack([vec(3), vec(4)]), idempotency_key="b", fingerprint=b"\x00\xff"
        )
        assert rep and again.tolist() == ids.tolist()
        ids, rep = sp.remember_each(np.stack([vec(5), vec(6), vec(5)]), keys=["x", None, "x"])
        assert rep.tolist() == [False, False, True] and ids[0] == ids[2]
        assert len(sp) == 5 and sp.idempotency_keys == 3
        with pytest.raises(engram.InvalidInputError, match="idempotency_key must be str"):
            sp.remember(vec(1), idempotency_key=5)  # type: ignore[arg-type]
        with pytest.raises(engram.InvalidInputError, match="idempotency key must be 1 to"):
            sp.remember(vec(1), idempotency_key="")
        assert len(sp) == 5


def test_concurrent_same_key_stores_once() -> None:
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("a")
        out: list[tuple[int, bool]] = []
        lock = threading.Lock()

        def go() -> None:
            r = sp.remember_keyed(vec(7), idempotency_key="race", fingerprint="f")
            with lock:
                out.append(r)

        threads = [threading.Thread(target=go) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({m for m, _ in out}) == 1 and sum(not r for _, r in out) == 1 and len(sp) == 1


def test_keys_are_per_space_bounded_and_survive_restart(tmp_path: Path) -> None:
    with engram.Engine(tmp_path, dim=DIM, idempotency_capacity=20) as eng:
        a, b = eng.create_space("a"), eng.create_space("b")
        mine = a.remember(vec(1), idempotency_key="mine")
        for i in range(200):  # another tenant's flood
            b.remember(vec(i), idempotency_key=f"flood-{i}")
        assert b.idempotency_keys == 20
        assert a.remember_keyed(vec(1), idempotency_key="mine") == (mine, True)
    with engram.Engine(tmp_path, dim=DIM, idempotency_capacity=20) as eng:
        a = eng.space("a")
        assert a.remember_keyed(vec(1), idempotency_key="mine") == (mine, True)
        assert eng.space("b").remember_keyed(vec(199), idempotency_key="flood-199")[1]
        eng.checkpoint()
    with engram.Engine(tmp_path, dim=DIM, idempotency_capacity=20) as eng:
        assert eng.space("a").remember_keyed(vec(1), idempotency_key="mine") == (mine, True)
        eng.drop_space("a")
        assert not eng.create_space("a").remember_keyed(vec(1), idempotency_key="mine")[1]


@pytest.mark.parametrize("durability", ["fsync", "group"])
def test_retry_after_enospc_never_stores_twice(tmp_path: Path, faults: ModuleType, durability: str) -> None:
    """Defect 1: a write answered with StorageError (retryable) had been stored; its retry with
    the same key now replays the stored id instead of storing it again."""
    with engram.Engine(tmp_path, dim=DIM, durability=durability, checkpoint_interval_s=0) as eng:
        sp = eng.create_space("a")
        sp.remember(vec(0))
        faults.set_plan(WAL_ENOSPC)
        with pytest.raises(engram.StorageError, match="disk full"):
            sp.remember(vec(1), "x", idempotency_key="k", fingerprint="f")
        with pytest.raises(engram.StorageError):  # still full: the retry is not acknowledged either
            sp.remember(vec(1), "x", idempotency_key="k", fingerprint="f")
        faults.clear()
        mid, replayed = sp.remember_keyed(vec(1), "x", idempotency_key="k", fingerprint="f")
        assert replayed and len(sp) == 2 and sp.get(mid).content == "x"
        before = content_digest(eng)
    with engram.Engine(tmp_path, dim=DIM) as eng:
        assert content_digest(eng) == before and len(eng.space("a")) == 2
        assert eng.space("a").remember_keyed(vec(1), "x", idempotency_key="k", fingerprint="f") == (mid, True)
