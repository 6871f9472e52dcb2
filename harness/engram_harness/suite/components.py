"""What a suite does when a component it needs is missing: fail under CI, skip elsewhere.

CI's nox sessions install every component the suites use (the ``bench`` extra, Boost, the fault build),
so a missing one there is a broken set-up, never a reason to pass quietly; on a developer's machine a
skip with the install command is the useful answer.
"""

from __future__ import annotations

import importlib
import os

import pytest

__all__ = ["missing_component", "require_modules"]


def missing_component(message: str) -> None:
    """Fail the running test under CI (``CI`` set), skip it elsewhere; ``message`` says what to install."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_modules(*modules: str, extra: str = "bench") -> None:
    """Import each of ``modules``; on the first that is missing, :func:`missing_component` with the
    harness extra that provides it."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing_component(f"needs {name} (pip install 'engram-harness[{extra}]'): {exc}")
