"""Fixtures for the durability tests: the test build's fault injection (docs/faults.md)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.durability.helpers import require_test_build


@pytest.fixture
def test_build() -> None:
    """The test needs the test build (crash points, fault injection); see require_test_build."""
    require_test_build()


@pytest.fixture
def faults() -> Iterator[ModuleType]:
    """engram._core.faults with no plan before the test and none left after it."""
    mod = require_test_build()
    mod.clear()
    try:
        yield mod
    finally:
        mod.clear()
