from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def native_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Servers started by the test are engramd (the brief's rule for chaos tests)."""
    monkeypatch.setenv("ENGRAM_SERVER_IMPL", "native")
    yield
