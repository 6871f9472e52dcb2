"""Burst load: extra single writes at a fixed rate into a space of their own for a while, beside the
workload under test (a separate space, so the history checker of that workload never sees them).
Paced by the clock, bounded in time by the context and in count by ``rate_per_s * max_s``; each
write's outcome is counted (ok, refused with 4xx or 429/503/507, transport error)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from types import TracebackType

import numpy as np

MAX_S = 3600.0  # the longest burst (the count bound: rate_per_s * MAX_S writes)


class BurstLoad:
    def __init__(self, url: str, space: str, *, rate_per_s: float, dim: int, api_key: str | None = None,
                 seed: int = 0, threads: int = 4) -> None:  # fmt: skip
        self.url, self.space, self.rate, self.dim = url, space, float(rate_per_s), dim
        self.api_key, self.seed, self.n_threads = api_key, seed, threads
        self.outcomes: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._t0 = 0.0
        self.elapsed_s = 0.0

    def _count(self, what: str) -> None:
        with self._lock:
            self.outcomes[what] += 1

    def _worker(self, w: int) -> None:
        from engram.client import Client, RetryPolicy
        from engram.client.errors import RemoteError, TransportError

        rng = np.random.default_rng([self.seed, 7919, w])
        rate = self.rate / self.n_threads
        with Client(self.url, api_key=self.api_key, timeout=5.0, retry=RetryPolicy(attempts=1)) as c:
            sp = None
            while sp is None:  # the server may be down (a kill): retried until the burst ends
                try:
                    names = c.spaces()
                    sp = (
                        c.space(self.space)
                        if self.space in names
                        else c.create_space(self.space, dim=self.dim)
                    )
                except RemoteError as exc:
                    if exc.status == 409:  # another worker created it meanwhile
                        continue
                    self._count("setup_failed")
                    if self._stop.wait(0.2):
                        return
            for i in range(int(rate * MAX_S) + 1):  # bounded in count; stopped by the context
                if self._stop.wait(max(0.0, self._t0 + i / rate - time.monotonic())):
                    return
                try:
                    sp.remember(rng.standard_normal(self.dim).astype(np.float32), content=f"burst-{w}-{i}")
                    self._count("ok")
                except TransportError:
                    self._count("transport")
                except RemoteError as exc:
                    self._count(str(exc.status))

    def __enter__(self) -> BurstLoad:
        self._t0 = time.monotonic()
        self._threads = [
            threading.Thread(target=self._worker, args=(w,), daemon=True) for w in range(self.n_threads)
        ]
        for t in self._threads:
            t.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)
        self.elapsed_s = time.monotonic() - self._t0

    def summary(self) -> str:
        total = sum(self.outcomes.values())
        return f"{total} writes in {self.elapsed_s:.1f} s at {self.rate:g}/s offered: {dict(self.outcomes)}"
