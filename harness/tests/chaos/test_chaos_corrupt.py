"""The corruption injectors change the bytes they say they change."""

from __future__ import annotations

from pathlib import Path

import pytest

from engram_harness.chaos.corrupt import GARBAGE, corrupt


def test_each_kind_changes_the_file(tmp_path: Path) -> None:
    body = b"\x00" * 40 + b"EGWR" + bytes(range(60))
    for kind in ("bit_flip", "truncation", "zeroed_header", "garbage_insert"):
        f = tmp_path / kind
        f.write_bytes(body)
        what = corrupt(f, kind, 20)
        assert f.read_bytes() != body, kind
        assert what
    assert (tmp_path / "truncation").stat().st_size == 20
    assert (tmp_path / "zeroed_header").read_bytes()[40:72] == bytes(32)
    assert (tmp_path / "garbage_insert").read_bytes()[20 : 20 + len(GARBAGE)] == GARBAGE


def test_checkpoint_header_is_zeroed_whole(tmp_path: Path) -> None:
    f = tmp_path / "c.ckpt"
    f.write_bytes(b"EGCK" + b"\x01" * 100)
    corrupt(f, "zeroed_header")
    assert f.read_bytes()[:48] == bytes(48) and f.read_bytes()[48:] == b"\x01" * 56


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    with pytest.raises(ValueError, match="unknown corruption kind"):
        corrupt(f, "melt")
    with pytest.raises(ValueError, match="outside"):
        corrupt(f, "bit_flip", 3)
