"""The errors the chaos toolkit raises."""

from __future__ import annotations


class ChaosError(RuntimeError):
    """An injector or the history checker could not do what it was asked; the message says why."""


class InjectorUnavailable(ChaosError):
    """An injector cannot run here: not root, a missing tool, or the kernel refused. Suites that need
    the fault skip or fail with this message; they never pretend the fault was injected."""
