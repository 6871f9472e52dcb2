"""Hot backups: a checkpoint plus the WAL up to a durable LSN, with a SHA-256 manifest.

Layout of a backup directory: ``manifest.json``, ``FORMAT``, ``checkpoint-<LSN>.ckpt`` and
``wal/wal-<LSN>.seg``. The first backup into a directory takes a checkpoint and copies it with
every WAL segment from it on; later backups into the same directory are incremental: they copy
only segments the backup lacks (plus the grown prefix of the segment that was live last time),
falling back to a full backup when the store has since dropped segments the chain needs. Only
durable prefixes are copied, so the backup is consistent while writes continue.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any, Protocol

from engram.durability.files import copy_prefix, fsync_dir
from engram.durability.progress import progress_bar

if TYPE_CHECKING:
    from engram import _core

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


class DurableStore(Protocol):
    """What a backup needs of an open store: ``engram._core.Engine`` once a store is open."""

    @property
    def store_path(self) -> str: ...
    def sync_wal(self) -> None: ...
    def wal_segments(self) -> list[_core.WalSegment]: ...
    def checkpoints(self) -> list[_core.Checkpoint]: ...
    def wal_stats(self) -> _core.WalStats: ...


def read_manifest(dest: str) -> dict[str, Any] | None:
    path = os.path.join(dest, MANIFEST)
    if not os.path.exists(path):
        return None
    from engram.errors import CorruptionError, StorageError

    try:
        with open(path, encoding="utf-8") as f:
            manifest: dict[str, Any] = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptionError(f"{path} is not a readable backup manifest (not JSON: {e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise StorageError(f"{path} has manifest format {got!r}; this build reads {MANIFEST_FORMAT}")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(m, dict) and isinstance(m.get("bytes"), int) and isinstance(m.get("sha256"), str)
        for m in files.values()
    ):
        raise CorruptionError(f"{path} is damaged: its files table lacks a file's bytes or sha256")
    return manifest


def _write_manifest(dest: str, manifest: dict[str, Any]) -> None:
    tmp = os.path.join(dest, MANIFEST + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(dest, MANIFEST))
    fsync_dir(dest)


def _same_format(store: str, dest: str) -> bool:
    """Whether the backup's FORMAT is the store's (docs/format.md, Migration: a conversion starts
    a new chain)."""
    try:
        with open(os.path.join(dest, "FORMAT"), "rb") as a, open(os.path.join(store, "FORMAT"), "rb") as b:
            return a.read() == b.read()
    except FileNotFoundError:
        return False


def _chain_ok(prev: dict[str, Any], segments: list[tuple[str, int, int]]) -> bool:
    """Whether the backup's WAL chain continues into the store's current segments: the store
    still has the segment that was live at the last backup (or an earlier one)."""
    have_firsts = sorted(int(v["first_lsn"]) for v in prev["files"].values() if "first_lsn" in v)
    if not have_firsts or not segments:
        return False
    return segments[0][1] <= have_firsts[-1]


def _full_plan(
    store: DurableStore, dest: str
) -> tuple[int, dict[str, Any], list[tuple[str, str, int | None, dict[str, Any]]]]:
    """A full backup starts at the store's oldest retained checkpoint (the WAL is kept from
    there on), so restore can stop at any LSN after it; a store without a checkpoint ships its
    whole WAL from LSN 1."""
    ckpts = store.checkpoints()  # ascending LSN
    to_copy: list[tuple[str, str, int | None, dict[str, Any]]] = []
    ckpt_lsn = 0
    if ckpts:
        ckpt_lsn = ckpts[0].lsn
        to_copy.append((ckpts[0].path, os.path.basename(ckpts[0].path), None, {"lsn": ckpt_lsn}))
    for stale in os.listdir(dest):  # an older chain in dest is replaced, not mixed
        if stale.startswith("checkpoint-"):
            os.unlink(os.path.join(dest, stale))
    for stale in os.listdir(os.path.join(dest, "wal")):
        os.unlink(os.path.join(dest, "wal", stale))
    return ckpt_lsn, {}, to_copy


def backup_engine(store: DurableStore, dest: str, *, progress: bool = False) -> dict[str, Any]:
    """Back up the open store of an engine (``engram._core.Engine``) into ``dest``, incrementally
    when ``dest`` holds an earlier backup of the same store; returns the manifest. A background
    checkpoint may delete files while they are listed; the backup then starts over (at most 3
    attempts)."""
    for attempt in range(3):
        try:
            return _backup_once(store, dest, progress=progress)
        except FileNotFoundError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _backup_once(store: DurableStore, dest: str, *, progress: bool) -> dict[str, Any]:
    os.makedirs(os.path.join(dest, "wal"), exist_ok=True)
    prev = read_manifest(dest)
    src = os.path.realpath(store.store_path)
    store.sync_wal()
    durable_lsn = store.wal_stats().durable_lsn  # before listing: every listed segment holds at least this
    segments = [(s.path, s.first_lsn, s.bytes) for s in store.wal_segments()]
    incremental = (
        prev is not None
        and prev.get("store") == src
        and _same_format(store.store_path, dest)  # a chain never crosses a format conversion
        and _chain_ok(prev, segments)
    )
    if incremental:
        assert prev is not None
        files: dict[str, Any] = dict(prev["files"])
        ckpt_lsn = int(prev["checkpoint_lsn"])
        to_copy: list[tuple[str, str, int | None, dict[str, Any]]] = []
    else:
        ckpt_lsn, files, to_copy = _full_plan(store, dest)
    for path, first, nbytes in segments:
        rel = f"wal/{os.path.basename(path)}"
        old = files.get(rel)
        if old is not None and int(old["bytes"]) == nbytes:
            continue  # closed segments never change; this one has not grown
        to_copy.append((path, rel, nbytes, {"first_lsn": first}))
    total = sum(n if n is not None else os.path.getsize(p) for p, _, n, _ in to_copy)
    shipped = 0
    with progress_bar(total, "backup", progress) as bar:
        for path, rel, limit, extra in to_copy:
            n, digest = copy_prefix(path, os.path.join(dest, rel), limit, bar)
            files[rel] = {"bytes": n, "sha256": digest, **extra}
            shipped += n
    with (
        open(os.path.join(store.store_path, "FORMAT"), "rb") as fin,
        open(os.path.join(dest, "FORMAT"), "wb") as f,
    ):
        f.write(fin.read())
        f.flush()
        os.fsync(f.fileno())
    fsync_dir(os.path.join(dest, "wal"))
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "store": src,
        "created_unix": time.time(),
        "checkpoint_lsn": ckpt_lsn,
        "durable_lsn": durable_lsn,
        "incremental": incremental,
        "bytes_shipped": shipped,
        "files": files,
    }
    _write_manifest(dest, manifest)
    return manifest
