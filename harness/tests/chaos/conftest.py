from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from engram_harness.chaos.errors import InjectorUnavailable
from engram_harness.chaos.toxiproxy import find_binary


def _missing(msg: str) -> None:
    """CI's set-up provides the tools (scripts/setup-system.sh): a missing one fails there instead
    of passing as a skip; elsewhere the test is skipped with the message."""
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture
def toxiproxy() -> Path:
    try:
        return find_binary()
    except InjectorUnavailable as exc:
        _missing(str(exc))
        raise


@pytest.fixture
def stress_ng() -> str:
    path = shutil.which("stress-ng")
    if path is None:
        _missing("stress-ng not installed (scripts/setup-system.sh installs it)")
    return str(path)
