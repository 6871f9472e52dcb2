"""Damaged WAL segments and checkpoints are detected by checksums, quarantined with a report,
the valid prefix is recovered, and the engine says what was lost."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

import engram
from engram.cli import main as cli_main
from engram.durability.digest import content_digest
from engram.durability.verify import verify
from tests.durability.helpers import DIM, vec

N = 120


def make_store(path: Path) -> list[int]:
    """A store with several small WAL segments (each ~10 records)."""
    with engram.Engine(
        path, dim=DIM, segment_bytes=4096, checkpoint_interval_s=0, checkpoint_wal_bytes=0
    ) as eng:
        sp = eng.create_space("a")
        return [sp.remember(vec(i), content=f"c{i}") for i in range(N)]


def segments(path: Path) -> list[Path]:
    return sorted((path / "wal").glob("wal-*.seg"))


def flip_bit(f: Path, offset: int) -> None:
    data = bytearray(f.read_bytes())
    data[offset] ^= 0x10
    f.write_bytes(bytes(data))


def zero_header(f: Path, offset: int) -> None:
    data = bytearray(f.read_bytes())
    # Zero the record header that starts at or after offset (find the next record magic "EGWR").
    at = data.index(b"EGWR", offset)
    data[at : at + 32] = bytes(32)
    f.write_bytes(bytes(data))


def insert_garbage(f: Path, offset: int) -> None:
    data = f.read_bytes()
    f.write_bytes(data[:offset] + b"\x13\x37garbage!" * 4 + data[offset:])


def truncate(f: Path, offset: int) -> None:
    f.write_bytes(f.read_bytes()[:offset])


DAMAGE: dict[str, Callable[[Path, int], None]] = {
    "bit_flip": flip_bit,
    "zeroed_header": zero_header,
    "garbage_inserted": insert_garbage,
    "truncated": truncate,
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_middle_segment_is_quarantined_and_prefix_recovered(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    ids = make_store(tmp_path)
    segs = segments(tmp_path)
    assert len(segs) >= 4, "the store should span several segments"
    victim = segs[1]
    DAMAGE[kind](victim, victim.stat().st_size // 2)

    report = verify(tmp_path)
    assert not report["ok"], f"verify accepted a {kind} segment"
    assert any(str(victim) == i["file"] for i in report["issues"])
    assert cli_main(["verify", str(tmp_path)]) == 1

    with (
        caplog.at_level(logging.WARNING, logger="engram.durability"),
        engram.Engine(tmp_path, dim=DIM) as eng,
    ):
        info = eng.recovery_info()
        assert info["corruptions"] >= 1
        ev = next(e for e in info["events"] if e["file"] == str(victim))
        assert ev["kind"] == "corruption" and ev["quarantined_to"]
        assert Path(ev["quarantined_to"]).exists()
        assert Path(ev["quarantined_to"] + ".report.txt").read_text().startswith(f"file: {victim}")
        assert f"{victim} at offset {ev['offset']}" in caplog.text
        prom = eng.prometheus()
        assert f"engram_corruption_detected_total {info['corruptions']}" in prom
        sp = eng.space("a")
        present = [i for i in ids if i in sp]
        # A prefix survives: everything before the damage, nothing after it.
        assert 0 < len(present) < len(ids)
        assert present == ids[: len(present)]
        for i, mid in enumerate(present):
            assert sp.get(mid).embedding.tobytes() == vec(i).tobytes()
        assert sp.validate()["ok"]
        new = sp.remember(vec(10_000))
        after = content_digest(eng)
    # The store is whole again: reopening finds nothing more, and keeps the new write.
    with engram.Engine(tmp_path, dim=DIM) as eng:
        assert eng.recovery_info()["corruptions"] == 0
        assert new in eng.space("a") and content_digest(eng) == after
    assert verify(tmp_path)["ok"]


def test_torn_tail_of_last_segment_is_cut_not_quarantined(tmp_path: Path) -> None:
    ids = make_store(tmp_path)
    last = segments(tmp_path)[-1]
    truncate(last, last.stat().st_size - 7)  # the last record loses its end: a crash mid-write
    assert verify(tmp_path)["ok"], "a torn tail is a warning, not an error"
    with engram.Engine(tmp_path, dim=DIM) as eng:
        info = eng.recovery_info()
        assert info["torn_tails"] == 1 and info["corruptions"] == 0
        sp = eng.space("a")
        assert [i for i in ids if i in sp] == ids[:-1]
    assert not (tmp_path / "quarantine").exists()


@pytest.mark.parametrize("kind", ["bit_flip", "truncated", "zeroed_header"])
def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path: Path, kind: str) -> None:
    with engram.Engine(tmp_path, dim=DIM, checkpoint_interval_s=0, checkpoint_wal_bytes=0) as eng:
        sp = eng.create_space("a")
        for i in range(30):
            sp.remember(vec(i))
        eng.checkpoint()
        for i in range(30, 60):
            sp.remember(vec(i))
        newest = eng.checkpoint()
        sp.remember(vec(60))
        before = content_digest(eng)
    ckpt = tmp_path / f"checkpoint-{newest:020d}.ckpt"
    size = ckpt.stat().st_size
    if kind == "zeroed_header":
        data = bytearray(ckpt.read_bytes())
        data[0:48] = bytes(48)
        ckpt.write_bytes(bytes(data))
    else:
        DAMAGE[kind](ckpt, size // 2)
    assert not verify(tmp_path)["ok"]
    with engram.Engine(tmp_path, dim=DIM) as eng:
        info = eng.recovery_info()
        assert info["corruptions"] == 1 and info["checkpoint_lsn"] < newest
        assert info["events"][0]["file"] == str(ckpt) and Path(info["events"][0]["quarantined_to"]).exists()
        # The older checkpoint plus the WAL kept since it recover everything.
        assert content_digest(eng) == before
        assert eng.space("a").validate()["ok"]


def _frame(rtype: int, lsn: int, payload: bytes) -> bytes:
    """A WAL frame with valid checksums (layout in cpp/include/engram/wal.hpp)."""
    import struct

    from engram import _core

    head = struct.pack("<IHHQqI", 0x52574745, rtype, 0, lsn, 0, len(payload))
    head += struct.pack("<I", _core.crc32c(head))
    return head + payload + struct.pack("<I", _core.crc32c(head + payload))


def test_record_with_valid_checksums_but_unknown_type_is_not_applied(tmp_path: Path) -> None:
    import struct

    ids = make_store(tmp_path)
    last = segments(tmp_path)[-1]
    # Type 77 does not exist; the payload names space ordinal 1, which does.
    last.write_bytes(last.read_bytes() + _frame(77, N + 2, struct.pack("<I", 1) + b"xyz"))
    with engram.Engine(tmp_path, dim=DIM) as eng:
        info = eng.recovery_info()
        assert info["corruptions"] == 1
        assert "cannot be applied" in info["events"][0]["detail"]
        sp = eng.space("a")
        assert all(i in sp for i in ids) and sp.validate()["ok"]
    with engram.Engine(tmp_path, dim=DIM) as eng:
        assert eng.recovery_info()["corruptions"] == 0
