"""Shared helpers for durability tests: small stores, deterministic vectors, the test build."""

from __future__ import annotations

import os
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest

from engram import _core
from engram_harness.vectors import unit_gaussian

DIM = 8

TEST_BUILD_HINT = (
    "this test needs engram's test build (crash points and fault injection compiled in), but the "
    "installed engram._core is a {flavour} build. Build it with "
    "`pip install -e . -Ccmake.define.ENGRAM_FAULT_INJECTION=ON -Cbuild-dir=build/test-build` "
    "(nox's `tests` session does), or run `./dev test`"
)


def vec(i: int, dim: int = DIM) -> npt.NDArray[np.float32]:
    """A deterministic, non-zero vector for item i (identical bytes in parent and child)."""
    return unit_gaussian(np.random.default_rng(i), 1, dim)[0]


def clustered(key: int, dim: int = DIM) -> npt.NDArray[np.float32]:
    """Item ``key`` of the kill tests: items cluster around 4 centres, so consolidation forms
    concepts (identical bytes in parent and child)."""
    centre = unit_gaussian(np.random.default_rng(key % 4), 1, dim)[0]
    return (centre + np.float32(0.02) * vec(key, dim)).astype(np.float32)


def require_test_build() -> ModuleType:
    """Returns engram._core.faults. Against a release build the test fails in CI (where a
    release build here is a wrong set-up that must not pass as skips) and is skipped elsewhere,
    with the command that builds the test build."""
    info = _core.build_info()
    if info.fault_injection:
        return _core.faults  # type: ignore[no-any-return]
    msg = TEST_BUILD_HINT.format(flavour=info.flavour)
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)
