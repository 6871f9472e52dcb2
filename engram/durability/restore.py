"""Restore a backup into a new store, to its latest state or to a point in time."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from typing import Any

from engram.durability.backup import read_manifest
from engram.durability.files import fsync_dir, fsync_file, sha256_file
from engram.durability.progress import progress_bar
from engram.errors import CorruptionError, InvalidInputError, StorageError


def _to_ns(until_time: float | datetime | None) -> int | None:
    if until_time is None:
        return None
    seconds = until_time.timestamp() if isinstance(until_time, datetime) else float(until_time)
    return int(seconds * 1e9)


def verify_backup(src: str, *, progress: bool = False, checksums: bool = True) -> dict[str, Any]:
    """Checks every file of a backup against its manifest (its size; and its SHA-256 unless
    ``checksums`` is false); CorruptionError names the first bad one."""
    manifest = read_manifest(src)
    if manifest is None:
        raise StorageError(f"{src} holds no backup: {os.path.join(src, 'manifest.json')} is missing")
    if not os.path.exists(os.path.join(src, "FORMAT")):
        raise CorruptionError(f"backup file {os.path.join(src, 'FORMAT')} is missing (every backup has one)")
    files = manifest["files"]
    total = sum(int(v["bytes"]) for v in files.values()) if checksums else 0
    with progress_bar(total, "verify", progress) as bar:
        for rel, meta in sorted(files.items()):
            path = os.path.join(src, rel)
            if not os.path.exists(path):
                raise CorruptionError(f"backup file {path} is missing (listed in the manifest)")
            if os.path.getsize(path) != int(meta["bytes"]):
                raise CorruptionError(
                    f"backup file {path} is {os.path.getsize(path)} bytes; the manifest says {meta['bytes']}"
                )
            if checksums and sha256_file(path, bar) != meta["sha256"]:
                raise CorruptionError(f"backup file {path} does not match its SHA-256 in the manifest")
    return manifest


def restore(
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    until_lsn: int | None = None,
    until_time: float | datetime | None = None,
    *,
    progress: bool = False,
    validate: bool = False,
) -> dict[str, Any]:
    """Restore the backup in ``src`` into the new store ``dest``.

    Without bounds the store gets the backup's latest state; ``until_lsn`` keeps records up to
    that LSN, ``until_time`` (Unix seconds or a datetime) those written up to that time. Every
    file is checked against the manifest first. Returns the recovery info of the restored store;
    with ``validate``, also "validation": each space's ``validate()`` of the recovered store (run
    before it is closed, so verification does not recover it twice).
    """
    src, dest = os.fspath(src), os.fspath(dest)
    manifest = verify_backup(src, progress=progress)
    if until_lsn is not None and until_lsn < int(manifest["checkpoint_lsn"]):
        raise InvalidInputError(
            f"this backup starts at its checkpoint LSN {manifest['checkpoint_lsn']}; "
            f"it cannot be restored to the earlier LSN {until_lsn}"
        )
    if os.path.exists(dest) and os.listdir(dest):
        raise StorageError(f"restore target {dest} exists and is not empty; restore into a new directory")
    os.makedirs(os.path.join(dest, "wal"), exist_ok=True)
    with progress_bar(sum(int(v["bytes"]) for v in manifest["files"].values()), "restore", progress) as bar:
        for rel in ["FORMAT", *sorted(manifest["files"])]:
            shutil.copyfile(os.path.join(src, rel), os.path.join(dest, rel))
            fsync_file(os.path.join(dest, rel))  # durable before recovery builds on it
            bar.update(int(manifest["files"].get(rel, {"bytes": 0})["bytes"]))
    fsync_dir(os.path.join(dest, "wal"))
    fsync_dir(dest)
    from engram import _core
    from engram.durability.store import StoreSettings, open_store

    core = _core.Engine(8)
    try:
        info = open_store(
            core,
            dest,
            StoreSettings(checkpoint_interval_s=0.0, checkpoint_wal_bytes=0),
            until_lsn=until_lsn,
            until_time_ns=_to_ns(until_time),
            migrate=True,  # a backup of an older store format restores into this build's format
        )
        if validate:
            from engram.engine import _integrity_dict

            info["validation"] = {
                name: _integrity_dict(core.space(name).validate()) for name in core.space_names()
            }
    finally:
        core.close()
    return info
