from __future__ import annotations

from pathlib import Path

import pytest

from engram_datasets import paths


def test_data_dir_defaults_to_shared_next_to_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENGRAM_DATA_DIR", raising=False)
    repo = Path(__file__).resolve().parents[2]
    assert repo == paths.REPO_ROOT
    assert paths.data_dir() == (repo.parent / "shared" / "datasets").resolve()


def test_env_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ENGRAM_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("ENGRAM_CACHE_DIR", str(tmp_path / "c"))
    assert paths.data_dir() == tmp_path / "d"
    assert paths.dataset_path("ml-100k", "u.data") == tmp_path / "d" / "ml-100k" / "u.data"
    assert paths.cache_dir() == tmp_path / "c"


def test_cache_is_outside_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENGRAM_CACHE_DIR", raising=False)
    assert paths.REPO_ROOT not in paths.cache_dir().resolve().parents
