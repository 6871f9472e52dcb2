"""Corruption injectors for a stopped store's files (WAL segments, checkpoints): the four kinds of
the M11 corruption script (section 6 of the requirements), each changing bytes a checksum covers.

- ``bit_flip``: one bit flipped at an offset;
- ``truncation``: the file cut at an offset;
- ``zeroed_header``: a header zeroed: the first WAL frame header ("EGWR") at or after the offset in
  a segment (else the last one before it), the 48-byte file header of a checkpoint;
- ``garbage_insert``: bytes inserted at an offset (the rest shifts).

Each returns what it did, for the report. The store must not be open while they run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

FRAME_MAGIC = b"EGWR"  # the WAL frame magic (docs/format.md, "Frames")
FRAME_HEADER_BYTES = 32
CHECKPOINT_HEADER_BYTES = 48
GARBAGE = b"\x13\x37CORRUPT!" * 4


def bit_flip(path: Path, offset: int) -> str:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))
    return f"bit 4 of byte {offset} flipped"


def truncation(path: Path, offset: int) -> str:
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:offset])
    return f"cut from {size} to {offset} bytes"


def zeroed_header(path: Path, offset: int) -> str:
    data = bytearray(path.read_bytes())
    if data[:4] == b"EGCK":  # a checkpoint: its file header
        data[:CHECKPOINT_HEADER_BYTES] = bytes(CHECKPOINT_HEADER_BYTES)
        path.write_bytes(bytes(data))
        return f"checkpoint header (0..{CHECKPOINT_HEADER_BYTES}) zeroed"
    at = data.find(FRAME_MAGIC, offset)
    if at < 0:  # no frame starts after the offset (one large batch frame): the last one before it
        at = data.rfind(FRAME_MAGIC, 0, offset)
    if at < 0:
        raise ValueError(f"{path} holds no WAL frame header ({FRAME_MAGIC!r}) to zero")
    data[at : at + FRAME_HEADER_BYTES] = bytes(FRAME_HEADER_BYTES)
    path.write_bytes(bytes(data))
    return f"frame header at {at} zeroed"


def garbage_insert(path: Path, offset: int) -> str:
    data = path.read_bytes()
    path.write_bytes(data[:offset] + GARBAGE + data[offset:])
    return f"{len(GARBAGE)} bytes inserted at {offset}"


KINDS: dict[str, Callable[[Path, int], str]] = {
    "bit_flip": bit_flip,
    "truncation": truncation,
    "zeroed_header": zeroed_header,
    "garbage_insert": garbage_insert,
}


def corrupt(path: str | Path, kind: str, offset: int | None = None) -> str:
    """Apply ``kind`` to ``path`` at ``offset`` (default: the middle of the file)."""
    if kind not in KINDS:
        raise ValueError(f"unknown corruption kind {kind!r}; expected one of {', '.join(KINDS)}")
    p = Path(path)
    size = p.stat().st_size
    at = size // 2 if offset is None else offset
    if not 0 <= at < size:
        raise ValueError(f"offset {at} is outside {p} ({size} bytes)")
    return KINDS[kind](p, at)
