"""Replay detection: an idempotency key maps to the outcome of the first request that used it.

Keys are scoped by space. A replay with the same key and the same payload fingerprint gets the
first outcome (waiting for it when the first is still running); the same key with a different
payload is a conflict. Failed first attempts are forgotten so the client can retry. Memory is
bounded: the oldest completed keys are evicted beyond ``capacity`` (replays must arrive within
that window, which the client's reconnect loop easily does).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any

from engram.server.errors import ApiError


class IdempotencyStore:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], tuple[str, Future[Any]]] = OrderedDict()
        self.replays = 0

    def claim(self, space: str, key: str, fingerprint: str) -> tuple[bool, Future[Any]]:
        """``(True, future)`` when this caller runs the operation and must :meth:`complete` it;
        ``(False, future)`` for a replay whose result is (or will be) in ``future``."""
        k = (space, key)
        with self._lock:
            entry = self._entries.get(k)
            if entry is not None:
                fp, fut = entry
                if fp != fingerprint:
                    raise ApiError(
                        409,
                        "idempotency_conflict",
                        f"idempotency key {key!r} was already used in space {space!r} with a different "
                        "payload; use a new key for a new request",
                    )
                self._entries.move_to_end(k)
                self.replays += 1
                return False, fut
            fut: Future[Any] = Future()
            self._entries[k] = (fingerprint, fut)
            self._evict()
            return True, fut

    def complete(self, space: str, key: str, fut: Future[Any], result: Any) -> None:
        fut.set_result(result)

    def fail(self, space: str, key: str, fut: Future[Any], exc: BaseException) -> None:
        with self._lock:
            if self._entries.get((space, key), (None, None))[1] is fut:
                del self._entries[(space, key)]
        fut.set_exception(exc)

    def forget_space(self, space: str) -> None:
        with self._lock:
            for k in [k for k in self._entries if k[0] == space]:
                del self._entries[k]

    def _evict(self) -> None:
        while len(self._entries) > self.capacity:
            k, (_, fut) = next(iter(self._entries.items()))
            if not fut.done():  # never evict an operation in flight; the bound overshoots by those
                break
            del self._entries[k]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
