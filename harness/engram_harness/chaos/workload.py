"""A recorded client workload for chaos runs: writers that remember unique memories (each with an
idempotency key, retried under the same key after an unknown outcome) and readers that read back
acknowledged ones, every operation recorded in a :class:`History`.

The client runs with one try per request (no hidden retries), so each recorded invocation is
exactly one request and its outcome is what that request met.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engram_harness.chaos.history import History


def classify(exc: BaseException) -> str:
    """ "failed" when the server answered with a refusal (the write had no effect), else "unknown"
    (no answer, or a server failure that may have happened after the write was applied)."""
    from engram.client.errors import RemoteError, ServerError, StorageError, TransportError

    if isinstance(exc, (TransportError, ServerError, StorageError)) or not isinstance(exc, RemoteError):
        return "unknown"
    return "failed" if 400 <= exc.status < 600 else "unknown"


@dataclass
class WorkloadStats:
    writes: int = 0
    reads: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class RecordedWorkload:
    """``writers`` threads write until :meth:`stop`; a write whose outcome is unknown is retried
    (same key, same content) up to ``retries`` times, then left unknown. ``readers`` threads get
    random acknowledged ids and record the contents they return."""

    def __init__(self, url: str, space: str, history: History, *, dim: int, writers: int = 2,
                 readers: int = 1, seed: int = 0, timeout_s: float = 2.0, retries: int = 3,
                 use_keys: bool = True, pause_s: float = 0.0, api_version: str = "v2",
                 ride_through: bool = False) -> None:  # fmt: skip
        self.url, self.space, self.history, self.dim = url, space, history, dim
        # ride_through: a client riding out restarts, as the client's own retry policy does: a
        # refusal that asks to come back (429, 503) is retried after its delay like an unknown
        # outcome, and stop() lets the write in hand finish its retries instead of abandoning it
        self.ride_through = ride_through
        self.api_version = api_version  # "v1" for a workload that must also reach servers before v2
        self.writers, self.readers, self.seed = writers, readers, seed
        self.timeout_s, self.retries, self.use_keys, self.pause_s = timeout_s, retries, use_keys, pause_s
        self.stats = WorkloadStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acked: list[int] = []
        self._lock = threading.Lock()
        self._clients: list[Any] = []

    def _client(self):  # type: ignore[no-untyped-def]
        from engram.client import Client, RetryPolicy

        c = Client(
            self.url, timeout=self.timeout_s, retry=RetryPolicy(attempts=1), api_version=self.api_version
        )  # type: ignore[arg-type]
        with self._lock:
            self._clients.append(c)
        return c

    @property
    def partitions_suspected(self) -> int:
        """Times any of the workload's clients suspected a partition (``engram.client.LinkHealth``)."""
        with self._lock:
            return sum(c.link.partitions_suspected for c in self._clients)

    def _count_error(self, exc: BaseException) -> None:
        with self._lock:
            name = type(exc).__name__
            self.stats.errors[name] = self.stats.errors.get(name, 0) + 1

    def _writer(self, w: int) -> None:
        rng = np.random.default_rng([self.seed, w])
        from engram.client import RemoteSpace

        with self._client() as c:
            sp = RemoteSpace(c, self.space)  # no existence check: the server may be down right now
            i = 0
            while not self._stop.is_set():  # bounded by stop()
                emb = rng.standard_normal(self.dim).astype(np.float32)
                content = f"s{self.seed}-w{w}-{i}"
                key = uuid.uuid4().hex if self.use_keys else None
                for attempt in range(self.retries + 1):  # bounded by retries
                    idx = self.history.invoke_write(content, key, emb)
                    try:
                        mid = sp.remember(emb, content, idempotency_key=key)
                    except Exception as exc:  # every failure is recorded, none escapes the worker
                        self._count_error(exc)
                        kind = classify(exc)
                        (self.history.fail if kind == "failed" else self.history.unknown)(
                            idx, repr(exc)[:300]
                        )
                        come_back = self.ride_through and getattr(exc, "status", None) in (429, 503)
                        if kind == "failed":  # refused: back off as the server asked (or briefly)
                            delay = min(2.0, getattr(exc, "retry_after_s", None) or 0.05)
                            if come_back:
                                time.sleep(delay)  # not cut short by stop(): the write is finished
                            else:
                                self._stop.wait(delay)
                        stopping = self._stop.is_set() and not self.ride_through
                        if (kind == "failed" and not come_back) or attempt == self.retries or stopping:
                            break
                        if not self.use_keys:
                            key = None  # a retry without a key: the server cannot tell it from a new write
                        time.sleep(0.05 * (attempt + 1))
                        continue
                    self.history.ok(idx, memory_id=mid)
                    with self._lock:
                        self._acked.append(mid)
                        self.stats.writes += 1
                    break
                i += 1
                if self.pause_s:
                    self._stop.wait(self.pause_s)

    def _reader(self, r: int) -> None:
        rng = np.random.default_rng([self.seed, 1000 + r])
        from engram.client import RemoteSpace

        with self._client() as c:
            sp = RemoteSpace(c, self.space)
            while not self._stop.is_set():  # bounded by stop()
                with self._lock:
                    mid = self._acked[int(rng.integers(len(self._acked)))] if self._acked else None
                if mid is None:
                    self._stop.wait(0.01)
                    continue
                idx = self.history.invoke_read()
                try:
                    m = sp.get(mid)
                except Exception as exc:  # recorded; a read has no effect either way
                    self._count_error(exc)
                    self.history.fail(idx, repr(exc)[:300])
                    self._stop.wait(0.02)
                    continue
                self.history.ok(idx, values=[m.content])
                with self._lock:
                    self.stats.reads += 1
                if self.pause_s:
                    self._stop.wait(self.pause_s)

    def start(self) -> RecordedWorkload:
        for w in range(self.writers):
            self._threads.append(
                threading.Thread(target=self._writer, args=(w,), name=f"chaos-writer-{w}", daemon=True)
            )
        for r in range(self.readers):
            self._threads.append(
                threading.Thread(target=self._reader, args=(r,), name=f"chaos-reader-{r}", daemon=True)
            )
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            raise RuntimeError(f"workload threads still running {timeout_s} s after stop: {alive}")

    def __enter__(self) -> RecordedWorkload:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
