"""What a store holds, as plain data: the stored-fixture tests compare it exactly.

``describe`` reads an open engine through the public API; ``census`` reads a store's files
directly, by docs/format.md (an independent reader of the format: only the CRC32C function is
the engine's), and lists each file's version and record types; ``digests`` is each file's
SHA-256 (a store left byte-for-byte alone keeps them); ``expected`` reads a stored fixture's
``<name>.expected.json``.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import engram
from engram import _core

MAX_ORDINAL = 16  # spaces in a fixture
MAX_LOCAL = 512  # memories per space in a fixture


def _memory(sp: engram.Space, mid: int) -> dict[str, Any]:
    m = sp.get(mid)
    out: dict[str, Any] = {
        "id": m.id,
        "kind": m.kind,
        "content": m.content,
        "confidence": float(m.confidence),
        "timestamp": float(m.timestamp),
        "metadata": dict(sorted(m.metadata.items())),
        "embedding": [float(x) for x in m.embedding],
        "edges": sorted([n.id, n.kind, float(n.weight)] for n in sp.neighbors(mid)),
    }
    if m.kind == "episode":
        out["concepts"] = sorted(sp.episode_concepts(mid))
    return out


def describe(eng: engram.Engine) -> dict[str, Any]:
    """Feature flags, and per space its dimension, counts, every live memory (with its edges and
    concept bindings) and every concept, in id order."""
    spaces: dict[str, Any] = {}
    for name in sorted(eng.spaces()):
        sp = eng.space(name)
        ids = [
            (o << 40) | local
            for o in range(1, MAX_ORDINAL + 1)
            for local in range(1, MAX_LOCAL + 1)
            if ((o << 40) | local) in sp
        ]
        stats = sp.stats()
        spaces[name] = {
            "dim": sp.dim,
            "episodes": int(stats["episodes"]),
            "concepts_count": int(stats["concepts"]),
            "forgotten": int(stats["forgotten"]),
            "memories": [_memory(sp, mid) for mid in ids],
            "concepts": [
                {
                    "id": c.id,
                    "members": sorted(c.members),
                    "coherence": float(c.coherence),
                    "confidence": float(c.confidence),
                    "formed_at": float(c.formed_at),
                    "updated_at": float(c.updated_at),
                    "centroid": [float(x) for x in c.centroid],
                }
                for c in sp.concepts()
            ],
        }
    return {"features": eng.features(), "spaces": spaces}


def expected(store: Path) -> dict[str, Any]:
    """A stored fixture's expected recovery, census and contents (``<name>.expected.json``)."""
    out: dict[str, Any] = json.loads(store.with_name(store.name + ".expected.json").read_text())
    return out


def digests(store: Path, *, ignore: tuple[str, ...] = ()) -> dict[str, str]:
    """SHA-256 of every file under ``store`` by relative path, leaving out the names in ``ignore``
    (``LOCK``: created by every open, refused or not, and not part of the format)."""
    return {
        str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(store.rglob("*"))
        if p.is_file() and p.name not in ignore
    }


# --- an independent reader of the files (docs/format.md) --------------------------------------

SEGMENT_MAGIC, RECORD_MAGIC, CHECKPOINT_MAGIC = 0x53574745, 0x52574745, 0x4B434745


def _frames(data: bytes, offset: int) -> list[tuple[int, int, int]]:
    """(type, flags, lsn) of every frame from offset on; asserts each checksum."""
    out = []
    while offset < len(data):
        magic, rtype, flags, lsn, _ts, length, hcrc = struct.unpack_from("<IHHQqII", data, offset)
        assert magic == RECORD_MAGIC, f"bad record magic at {offset}"
        header = data[offset : offset + 32]
        assert _core.crc32c(header[:28]) == hcrc, f"header CRC at {offset}"
        payload = data[offset + 32 : offset + 32 + length]
        (crc,) = struct.unpack_from("<I", data, offset + 32 + length)
        assert _core.crc32c(header + payload) == crc, f"record CRC at {offset}"
        out.append((rtype, flags, lsn))
        offset += 36 + length
    return out


def census(store: Path) -> dict[str, Any]:
    """Per file: the format version in its header and the record types it holds, in order."""
    out: dict[str, Any] = {"FORMAT": (store / "FORMAT").read_text()}
    for ckpt in sorted(store.glob("checkpoint-*.ckpt")):
        data = ckpt.read_bytes()
        magic, major, lsn, _created, length, body_crc, minor, _res, hcrc = struct.unpack_from(
            "<IIQqQIIII", data, 0
        )
        assert magic == CHECKPOINT_MAGIC and _core.crc32c(data[:44]) == hcrc
        assert length == len(data) - 48 and _core.crc32c(data[48:]) == body_crc
        frames = _frames(data, 48)
        out[ckpt.name] = {"major": major, "minor": minor, "lsn": lsn, "types": [f[0] for f in frames]}
    for seg in sorted((store / "wal").glob("wal-*.seg")):
        data = seg.read_bytes()
        magic, major, first, _created, minor, hcrc = struct.unpack_from("<IIQqII", data, 0)
        assert magic == SEGMENT_MAGIC and _core.crc32c(data[:28]) == hcrc
        frames = _frames(data, 32)
        assert [f[2] for f in frames] == list(range(first, first + len(frames))), "LSNs not consecutive"
        out[f"wal/{seg.name}"] = {
            "major": major,
            "minor": minor,
            "first_lsn": first,
            "types": [f[0] for f in frames],
        }
    return out
