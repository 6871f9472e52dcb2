"""Latency samples collected by a workflow, with the percentiles its checks use."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from engram_harness.stats.quantiles import measured_quantile, percent_to_fraction


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
        """The 99th percentile in milliseconds; NaN when empty (a check on it then fails)."""
        return self.percentile_ms(99.0)

    def percentile_ms(self, p: float) -> float:
        """Percentile ``p`` (in [0, 100]) in milliseconds by the one definition
        (:mod:`engram_harness.stats.quantiles`); NaN when nothing was recorded."""
        with self._lock:
            samples = np.asarray(self.samples, dtype=np.float64)
        return 1e3 * measured_quantile(samples, percent_to_fraction(p))
