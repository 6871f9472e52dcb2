"""The streaming writer: a bounded queue of observations drained by one thread in batches.

Stream handlers :meth:`Ingestor.submit` observations; the writer stores them with
``remember_batch`` (which returns once the engine's durability mode considers them durable) and
only then resolves each observation's future, so acknowledgements are never early. The queue is
bounded: past half full the streams are told to slow down, and a full queue rejects new
observations with a retryable code, so memory stays bounded whatever the clients do.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engram.server.errors import ApiError
from engram.server.logs import JsonLog
from engram.server.metrics import ServerMetrics

SLOW_DOWN_FRACTION = 0.5
STATES = ("normal", "slow_down", "overloaded")


@dataclass
class Observation:
    space: str
    embedding: np.ndarray
    content: str = ""
    confidence: float = 1.0
    timestamp: float | None = None
    metadata: dict[str, str] | None = None
    key: str | None = None  # idempotency key
    fingerprint: str = ""
    received_ns: int = field(default_factory=time.perf_counter_ns)
    future: Future[tuple[int, bool]] = field(default_factory=Future)  # (memory id, was a replay)


class Ingestor:
    def __init__(
        self,
        space_of: Callable[[str], Any],
        *,
        limit: int,
        batch: int,
        throttle_s: float,
        metrics: ServerMetrics,
        log: JsonLog,
    ) -> None:
        self._space_of = space_of
        self.limit = limit
        self._batch = batch
        self._throttle_s = throttle_s
        self._metrics = metrics
        self._log = log
        self._q: queue.Queue[Observation] = queue.Queue(maxsize=limit)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="engram-ingest", daemon=True)
        self._busy = 0  # observations taken from the queue and not yet resolved
        self.stored = 0

    def start(self) -> None:
        self._thread.start()

    @property
    def depth(self) -> int:
        return self._q.qsize() + self._busy

    def state(self) -> str:
        d = self._q.qsize()
        if d >= self.limit:
            return "overloaded"
        return "slow_down" if d >= SLOW_DOWN_FRACTION * self.limit else "normal"

    def retry_after_s(self) -> float:
        # time to drain half the queue at the writer's batch size and throttle, at least 50 ms
        return max(0.05, (self.limit / 2 / self._batch) * max(self._throttle_s, 0.005))

    def submit(self, obs: Observation) -> None:
        try:
            self._q.put_nowait(obs)
        except queue.Full:
            self._metrics.inc(
                "engram_streaming_observations_rejected_total", "Observations refused: queue full."
            )
            raise ApiError(
                429,
                "overloaded",
                f"the ingestion queue is full ({self.limit} observations); resend after the retry delay",
                self.retry_after_s(),
            ) from None

    def stop(self, timeout_s: float) -> bool:
        """Finish what is queued (bounded by ``timeout_s``) and stop; True when fully drained."""
        deadline = time.monotonic() + timeout_s
        while self.depth and time.monotonic() < deadline:  # bounded by the deadline
            time.sleep(0.01)
        drained = self.depth == 0
        self._stop.set()
        self._thread.join(timeout=max(0.1, deadline - time.monotonic()))
        return drained

    # -----------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():  # one iteration per batch; exits when stopped
            try:
                first = self._q.get(timeout=0.05)
            except queue.Empty:
                continue
            items = [first]
            while len(items) < self._batch:
                try:
                    items.append(self._q.get_nowait())
                except queue.Empty:
                    break
            self._busy = len(items)
            try:
                self._store(items)
            except BaseException as exc:  # never leave a stream waiting on a future
                for o in items:
                    if not o.future.done():
                        o.future.set_exception(exc)
                self._log.error("ingest_failure", error=repr(exc))
            finally:
                self._busy = 0
            if self._throttle_s > 0:
                time.sleep(self._throttle_s)

    def _store(self, items: list[Observation]) -> None:
        # group consecutive observations of one space; each group is one remember_batch
        start = 0
        while start < len(items):
            end = start
            while end < len(items) and items[end].space == items[start].space:
                end += 1
            self._store_group(items[start:end])
            start = end

    def _store_group(self, group: list[Observation]) -> None:
        # One engine call per group: the engine stores each keyed observation once per (space,
        # key), durably with its key, and answers repeats (a reconnecting client's resends) with
        # the stored id (engram.Space.remember_each).
        results: list[tuple[int, bool] | BaseException]
        try:
            space = self._space_of(group[0].space)
            ids, replayed = space.remember_each(
                np.stack([o.embedding for o in group]),
                [o.content for o in group],
                [o.confidence for o in group],
                [o.timestamp for o in group],
                [o.metadata for o in group],
                keys=[o.key for o in group],
                fingerprints=[o.fingerprint for o in group],
            )
            results = [(int(i), bool(r)) for i, r in zip(ids, replayed, strict=True)]
        except Exception:
            # all-or-nothing batch failed: store one by one so only the bad observations fail
            results = []
            for o in group:
                try:
                    sp = self._space_of(o.space)
                    if o.key is None:
                        mid = sp.remember(o.embedding, o.content, o.confidence, o.timestamp, o.metadata)
                        results.append((int(mid), False))
                    else:
                        mid, rep = sp.remember_keyed(
                            o.embedding, o.content, o.confidence, o.timestamp, o.metadata,
                            idempotency_key=o.key, fingerprint=o.fingerprint,
                        )  # fmt: skip
                        results.append((int(mid), bool(rep)))
                except Exception as exc:
                    results.append(exc)
        now = time.perf_counter_ns()
        for o, r in zip(group, results, strict=True):
            if isinstance(r, BaseException):
                o.future.set_exception(r)
                continue
            mid, replayed = r
            if not replayed:
                self.stored += 1
                self._metrics.observe(
                    "engram_streaming_observation_latency_seconds",
                    "Time from receiving an observation to storing it (searchable and durable).",
                    (now - o.received_ns) / 1e9,
                )
            o.future.set_result((mid, replayed))
