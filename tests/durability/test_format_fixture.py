"""The stored stores under tests/fixtures/ keep opening, with exactly the contents they were
written with (docs/format.md, Versioning). A format change that breaks one fails here. A store of
an older major version (store-v1, store-v1.1) opens through the migrator (migrate=True), with the
same contents; tests/durability/test_migrate.py covers the migrator itself."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import engram
from engram import _core
from engram.durability.verify import verify
from tests.durability.helpers import vec
from tests.durability.store_contents import census, describe, digests, expected

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STORES = sorted(p for p in FIXTURES.glob("store-v*") if p.is_dir())
KEYED = [p for p in STORES if "keys" in expected(p)]


def major(store: Path) -> int:
    """The format major version of a stored store, from its FORMAT file."""
    return int((store / "FORMAT").read_text().removeprefix("engram-store ").strip())


def expected_recovery(store: Path) -> dict[str, Any]:
    """What opening a copy of ``store`` reports: the fixture's recovery for a store of this build's
    format; for an older one, converted as it opened, its whole state in the migrator's checkpoint
    at the same last LSN, and nothing left to replay."""
    rec: dict[str, Any] = expected(store)["recovery"]
    if major(store) == _core.FORMAT_VERSION:
        return rec
    return {**rec, "checkpoint_lsn": rec["last_lsn"], "records_replayed": 0}


def test_there_are_fixtures_of_every_format() -> None:
    assert FIXTURES / "store-v1" in STORES
    assert FIXTURES / "store-v1.1" in STORES  # idempotency keys (record types 10 and 23)
    assert FIXTURES / "store-v2" in STORES  # rollout stages in Features, bindings in ConceptRestore
    assert {major(s) for s in STORES} == set(range(_core.OLDEST_FORMAT_VERSION, _core.FORMAT_VERSION + 1))
    files = census(FIXTURES / "store-v2")
    ckpts = [f for name, f in files.items() if name.startswith("checkpoint-")]
    assert ckpts and all(f["major"] == 2 for f in ckpts)
    assert any({9, 21} <= set(f["types"]) for f in ckpts), ckpts  # the two payloads format 2 changed


@pytest.mark.parametrize("store", KEYED, ids=[p.name for p in KEYED])
def test_idempotency_keys_replay_from_checkpoint_and_wal(store: Path, tmp_path: Path) -> None:
    """Every key of a fixture with keys (1.1 on), recorded before or after its checkpoint, replays
    its ids; a different fingerprint conflicts."""
    exp = expected(store)
    copy = tmp_path / store.name
    shutil.copytree(store, copy)
    with engram.Engine(copy, dim=8, migrate=True) as eng:
        for name, k in exp["keys"].items():
            space, key = name.split("/")
            sp = eng.space(space)
            n = len(k["ids"])
            rows = np.stack([vec(i, sp.dim) for i in range(n)])
            fp = bytes.fromhex(k["fingerprint"])
            assert sp.remember_batch_keyed(rows, idempotency_key=key, fingerprint=fp)[1], name
            assert sp.remember_batch_keyed(rows, idempotency_key=key, fingerprint=fp)[0].tolist() == k["ids"]
            with pytest.raises(engram.IdempotencyConflict):
                sp.remember_batch_keyed(rows, idempotency_key=key, fingerprint=fp + b"!")
        assert describe(eng) == exp["contents"]  # replays stored nothing


def test_version_1_0_has_no_keys() -> None:
    assert FIXTURES / "store-v1" not in KEYED and FIXTURES / "store-v1.1" in KEYED


@pytest.mark.parametrize("store", STORES, ids=[p.name for p in STORES])
def test_files_read_by_the_specification(store: Path) -> None:
    """An independent reader of docs/format.md sees the same files, versions and record types."""
    assert census(store) == expected(store)["census"]


@pytest.mark.parametrize("store", STORES, ids=[p.name for p in STORES])
def test_fixture_opens_with_its_exact_contents(store: Path, tmp_path: Path) -> None:
    exp = expected(store)
    before = digests(store)
    report = verify(store)  # read-only, on the committed files
    assert report["ok"], report["issues"]
    copy = tmp_path / store.name
    shutil.copytree(store, copy)  # opening writes: a new segment, the lock file (and converts)
    old = major(store) != _core.FORMAT_VERSION
    if old:
        with pytest.raises(engram.StorageError, match="engram migrate"):
            engram.Engine(copy, dim=8)  # not without migrate=True
    with engram.Engine(copy, dim=8, migrate=old) as eng:
        info = eng.recovery_info()
        assert info["migrated_from"] == (major(store) if old else 0)
        assert {k: info[k] for k in exp["recovery"]} == expected_recovery(store)
        assert info["corruptions"] == 0 and info["torn_tails"] == 0
        assert describe(eng) == exp["contents"]
        # It takes writes, and they survive a reopen beside the old contents.
        new = eng.space("notes").remember(vec(1), content="after")
    with engram.Engine(copy, dim=8) as eng:
        assert eng.recovery_info()["migrated_from"] == 0
        assert eng.space("notes").get(new).content == "after"
        contents = describe(eng)
        contents["spaces"]["notes"]["memories"] = [
            m for m in contents["spaces"]["notes"]["memories"] if m["id"] != new
        ]
        contents["spaces"]["notes"]["episodes"] -= 1
        assert contents == exp["contents"]
    assert (copy / "FORMAT").read_text() == f"engram-store {_core.FORMAT_VERSION}\n"
    assert digests(store) == before, "a test changed the committed fixture"


def test_version_2_keeps_its_rollout_stages(tmp_path: Path) -> None:
    """describe() leaves rollout stages out (format 1 has none); the version-2 fixture's are
    checked here, as stored before its checkpoint and changed in its WAL tail."""
    store = FIXTURES / "store-v2"
    exp = expected(store)
    copy = tmp_path / store.name
    shutil.copytree(store, copy)
    with engram.Engine(copy, dim=8) as eng:
        assert eng.rollout() == exp["rollout"]
        assert all(exp["rollout"].values())
        assert eng.features() == exp["contents"]["features"]  # exactly the three flags
