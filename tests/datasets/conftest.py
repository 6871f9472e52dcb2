"""Put ``datasets/`` on sys.path so ``import engram_datasets`` works (the folder is not a package)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_DATASETS = Path(__file__).resolve().parents[2] / "datasets"
if str(_DATASETS) not in sys.path:
    sys.path.insert(0, str(_DATASETS))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep embedding caches written by tests out of the user's cache."""
    monkeypatch.setenv("ENGRAM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "engram-cache"))
