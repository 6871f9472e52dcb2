"""The stored stores under tests/fixtures/ keep opening, with exactly the contents they were
written with (docs/format.md, Versioning). A format change that breaks one fails here."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import engram
from engram.durability.verify import verify
from tests.durability.helpers import vec
from tests.durability.store_contents import census, describe

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STORES = sorted(p for p in FIXTURES.glob("store-v*") if p.is_dir())


def _digest(store: Path) -> dict[str, str]:
    return {
        str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in store.rglob("*")
        if p.is_file()
    }


def _expected(store: Path) -> dict:
    return json.loads(store.with_name(store.name + ".expected.json").read_text())


def test_there_is_a_version_1_fixture() -> None:
    assert FIXTURES / "store-v1" in STORES
    assert FIXTURES / "store-v1.1" in STORES  # idempotency keys (record types 10 and 23)


def test_version_1_1_keys_replay_from_checkpoint_and_wal(tmp_path: Path) -> None:
    """Every key of the 1.1 fixture, recorded before or after its checkpoint, replays its ids; a
    different fingerprint conflicts; the 1.0 fixture has no keys."""
    store = FIXTURES / "store-v1.1"
    expected = _expected(store)
    copy = tmp_path / store.name
    shutil.copytree(store, copy)
    with engram.Engine(copy, dim=8) as eng:
        for name, k in expected["keys"].items():
            space, key = name.split("/")
            sp = eng.space(space)
            n = len(k["ids"])
            rows = np.stack([vec(i, sp.dim) for i in range(n)])
            fp = bytes.fromhex(k["fingerprint"])
            assert sp.remember_batch_keyed(rows, idempotency_key=key, fingerprint=fp)[1], name
            assert sp.remember_batch_keyed(rows, idempotency_key=key, fingerprint=fp)[0].tolist() == k["ids"]
            with pytest.raises(engram.IdempotencyConflict):
                sp.remember_batch_keyed(rows, idempotency_key=key, fingerprint=fp + b"!")
        assert describe(eng) == expected["contents"]  # replays stored nothing


@pytest.mark.parametrize("store", STORES, ids=[p.name for p in STORES])
def test_files_read_by_the_specification(store: Path) -> None:
    """An independent reader of docs/format.md sees the same files, versions and record types."""
    assert census(store) == _expected(store)["census"]


@pytest.mark.parametrize("store", STORES, ids=[p.name for p in STORES])
def test_fixture_opens_with_its_exact_contents(store: Path, tmp_path: Path) -> None:
    expected = _expected(store)
    before = _digest(store)
    report = verify(store)  # read-only, on the committed files
    assert report["ok"], report["issues"]
    copy = tmp_path / store.name
    shutil.copytree(store, copy)  # opening writes: a new segment, the lock file
    with engram.Engine(copy, dim=8) as eng:
        info = eng.recovery_info()
        assert {k: info[k] for k in expected["recovery"]} == expected["recovery"]
        assert info["corruptions"] == 0 and info["torn_tails"] == 0
        assert describe(eng) == expected["contents"]
        # It takes writes, and they survive a reopen beside the old contents.
        new = eng.space("notes").remember(vec(1), content="after")
    with engram.Engine(copy, dim=8) as eng:
        assert eng.space("notes").get(new).content == "after"
        contents = describe(eng)
        contents["spaces"]["notes"]["memories"] = [
            m for m in contents["spaces"]["notes"]["memories"] if m["id"] != new
        ]
        contents["spaces"]["notes"]["episodes"] -= 1
        assert contents == expected["contents"]
    assert _digest(store) == before, "a test changed the committed fixture"
