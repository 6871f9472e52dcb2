"""Exceptions raised by :mod:`engram_harness.stats`."""

from __future__ import annotations

__all__ = ["SampleTooSmallError"]


class SampleTooSmallError(ValueError):
    """A sample is too small for the requested analysis.

    Raised by :func:`engram_harness.stats.compare` when the two samples can never reach significance at the
    requested ``alpha``: even the most extreme arrangement of ranks gives a p-value >= ``alpha``.

    Attributes:
        n_before: size of the first sample that was given.
        n_after: size of the second sample that was given.
        alpha: the significance level that was requested.
        minimum: the smallest equal per-sample size that can reach ``p < alpha``.
    """

    def __init__(self, message: str, *, n_before: int, n_after: int, alpha: float, minimum: int) -> None:
        super().__init__(message)
        self.n_before = n_before
        self.n_after = n_after
        self.alpha = alpha
        self.minimum = minimum
