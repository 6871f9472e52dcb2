"""A tiny on-disk cache for computed embedding matrices (outside the repository).

Entries are ``<cache_dir>/embeddings/<key>.npy`` plus ``<key>.json`` (the parameters and the
metadata returned with the matrix). Writes are atomic (temporary file + ``os.replace``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .paths import cache_dir


def _entry(key: str, root: Path | None) -> tuple[Path, Path]:
    base = (root if root is not None else cache_dir()) / "embeddings"
    return base / f"{key}.npy", base / f"{key}.json"


def load_cached(key: str, *, root: Path | None = None) -> tuple[np.ndarray, dict[str, Any]] | None:
    """The cached matrix and metadata for ``key``, or ``None`` when absent or unreadable."""
    npy, meta = _entry(key, root)
    if not (npy.is_file() and meta.is_file()):
        return None
    try:
        return np.load(npy, allow_pickle=False), json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def store_cached(key: str, matrix: np.ndarray, meta: dict[str, Any], *, root: Path | None = None) -> Path:
    """Write ``matrix`` and ``meta`` under ``key``; returns the ``.npy`` path."""
    npy, meta_path = _entry(key, root)
    npy.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=npy.parent, suffix=".npy.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, matrix, allow_pickle=False)
        os.replace(tmp, npy)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    fd, tmp = tempfile.mkstemp(dir=npy.parent, suffix=".json.tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(meta, fh, sort_keys=True, indent=1, default=str)
        os.replace(tmp, meta_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return npy
