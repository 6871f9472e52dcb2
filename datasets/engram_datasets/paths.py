"""Where the shared data and the embedding cache live.

Nothing here hard-codes a machine path: the data directory is ``$ENGRAM_DATA_DIR`` when set,
otherwise ``../shared/datasets`` relative to the repository root (computed from this file's
location). The cache is ``$ENGRAM_CACHE_DIR`` when set, otherwise ``$XDG_CACHE_HOME/engram`` or
``~/.cache/engram`` - always outside the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

#: ``datasets/engram_datasets/paths.py`` -> the repository root is two folders up.
REPO_ROOT: Path = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The folder holding ``ml-100k/`` and ``wikipedia-dbpedia/`` (it may not exist)."""
    env = os.environ.get("ENGRAM_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return (REPO_ROOT.parent / "shared" / "datasets").resolve()


def dataset_path(*parts: str, root: str | os.PathLike[str] | None = None) -> Path:
    """A path inside the data directory (or inside ``root`` when given)."""
    base = Path(root) if root is not None else data_dir()
    return base.joinpath(*parts)


def cache_dir() -> Path:
    """The embedding cache folder, created on first use by the writers."""
    env = os.environ.get("ENGRAM_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "engram"
