"""Latency samples collected by a workflow, with the percentiles its checks use."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from engram_harness.stats import quantile


@dataclass
class LatencyLog:
    """Durations in seconds of one kind of operation (thread-safe appends)."""

    name: str
    samples: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, seconds: float) -> None:
        with self._lock:
            self.samples.append(float(seconds))

    @contextmanager
    def time(self) -> Iterator[None]:
        """Time the body of a ``with`` block (recorded even when it raises)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(time.perf_counter() - t0)

    def __len__(self) -> int:
        return len(self.samples)

    def p99_ms(self) -> float:
        """The 99th percentile in milliseconds (inverted-CDF definition); nan when empty."""
        return self.percentile_ms(99.0)

    def percentile_ms(self, p: float) -> float:
        if not self.samples:
            return float("nan")
        return 1e3 * quantile(np.asarray(self.samples), p / 100.0)
