"""File helpers for backup and restore: hashed, synced copies of byte prefixes."""

from __future__ import annotations

import hashlib
import os
from typing import Any

_CHUNK = 1 << 20


def copy_prefix(src: str, dst: str, nbytes: int | None, bar: Any) -> tuple[int, str]:
    """Copy the first ``nbytes`` of ``src`` (all when None) to ``dst``, fsync it, and return
    (bytes copied, SHA-256 hex). Only the durable prefix of a live WAL segment is copied."""
    h = hashlib.sha256()
    done = 0
    tmp = dst + ".part"
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        while nbytes is None or done < nbytes:
            want = _CHUNK if nbytes is None else min(_CHUNK, nbytes - done)
            chunk = fin.read(want)
            if not chunk:
                break
            fout.write(chunk)
            h.update(chunk)
            done += len(chunk)
            bar.update(len(chunk))
        fout.flush()
        os.fsync(fout.fileno())
    if nbytes is not None and done != nbytes:
        os.unlink(tmp)
        raise OSError(f"{src} has {done} bytes; expected at least {nbytes}")
    os.replace(tmp, dst)
    return done, h.hexdigest()


def sha256_file(path: str, bar: Any) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            bar.update(len(chunk))
    return h.hexdigest()


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
