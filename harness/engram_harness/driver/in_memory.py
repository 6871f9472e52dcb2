"""An in-memory target for tests and dry runs: brute-force cosine search over numpy arrays."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


class InMemoryTarget:
    """Thread-safe toy memory store. ``delay_s`` adds a fixed service time to every call; ``hook`` is
    called with the method name before each call (tests use it to stall or raise)."""

    def __init__(self, dim: int, *, delay_s: float = 0.0, hook: Callable[[str], None] | None = None) -> None:
        self.dim = dim
        self.delay_s = delay_s
        self.hook = hook
        self._lock = threading.Lock()
        self._mat: dict[str, F32] = {}  # per space: rows [0, n) are used, capacity doubles
        self._n: dict[str, int] = {}
        self.calls: dict[str, int] = {}

    def _enter(self, name: str) -> None:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
        if self.hook is not None:
            self.hook(name)
        if self.delay_s > 0:
            time.sleep(self.delay_s)

    def _top(self, space: str, q: F32, k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        with self._lock:
            n = self._n.get(space, 0)
            mat = self._mat.get(space)
        if not n or mat is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        # einsum, not BLAS: a multi-threaded BLAS under several driver threads oversubscribes the CPU
        scores = np.einsum("ij,j->i", mat[:n], np.nan_to_num(q))
        top = np.argsort(-scores)[:k]
        return top.astype(np.int64), scores[top]

    def remember(self, space: str, key: int, embedding: F32, confidence: float) -> int:
        self._enter("remember")
        if embedding.shape != (self.dim,):
            raise ValueError(f"expected a {self.dim}-d embedding")
        with self._lock:
            n = self._n.get(space, 0)
            mat = self._mat.get(space)
            if mat is None or n == len(mat):
                grown = np.zeros((max(1024, 2 * n), self.dim), dtype=np.float32)
                if mat is not None:
                    grown[:n] = mat[:n]
                self._mat[space] = mat = grown
            mat[n] = embedding
            self._n[space] = n + 1
            return n

    def recall(self, space: str, embedding: F32, mode: str, k: int, threshold: float) -> list[int]:
        self._enter("recall")
        ids, scores = self._top(space, embedding, k)
        return ids[scores >= threshold].tolist()

    def search(self, space: str, embedding: F32, k: int) -> list[int]:
        self._enter("search")
        return self._top(space, embedding, k)[0].tolist()

    def spread(self, space: str, key: int, embedding: F32, k: int, threshold: float) -> list[int]:
        self._enter("spread")
        return self._top(space, embedding, k)[0].tolist()

    def complete(self, space: str, partial: F32, k: int, threshold: float) -> list[int]:
        self._enter("complete")
        return self._top(space, partial, k)[0].tolist()

    def consolidate(self, space: str) -> int:
        self._enter("consolidate")
        with self._lock:
            return self._n.get(space, 0)

    def __len__(self) -> int:
        with self._lock:
            return sum(self._n.values())
