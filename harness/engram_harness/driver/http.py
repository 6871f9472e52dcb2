"""A load :class:`~engram_harness.driver.target.Target` that sends every operation to a server over
HTTP with :class:`engram.client.Client` (one pooled keep-alive connection per driver thread).

Retries are off: the driver measures what a caller sees on the first try, and a refused
operation counts as an error (classified by its exception type, e.g. ``Overloaded``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engram.client import Client, RetryPolicy
from engram.client.sync import RemoteSpace

F32 = npt.NDArray[np.float32]


class HttpTarget:
    def __init__(self, url: str, api_key: str | None = None, *, timeout_s: float = 30.0) -> None:
        self.client = Client(url, api_key=api_key, timeout=timeout_s, retry=RetryPolicy(attempts=1))
        self._spaces: dict[str, RemoteSpace] = {}

    def ensure_spaces(self, names: list[str], dim: int) -> None:
        """Create the scenario's spaces that do not exist yet."""
        existing = set(self.client.spaces())
        for n in names:
            if n not in existing:
                self.client.create_space(n, dim=dim)

    def _sp(self, space: str) -> RemoteSpace:
        sp = self._spaces.get(space)
        if sp is None:
            sp = self._spaces[space] = RemoteSpace(self.client, space)
        return sp

    def remember(self, space: str, key: int, embedding: F32, confidence: float) -> object:
        return self._sp(space).remember(embedding, content=f"load item {key}", confidence=confidence)

    def recall(self, space: str, embedding: F32, mode: str, k: int, threshold: float) -> object:
        return self._sp(space).recall(embedding, k=k, mode=mode, threshold=threshold)

    def search(self, space: str, embedding: F32, k: int) -> object:
        return self._sp(space).search(embedding, k=k)

    def spread(self, space: str, key: int, embedding: F32, k: int, threshold: float) -> object:
        ids, _ = self._sp(space).search(embedding, k=1)  # seed with the nearest memory, as in process
        return (
            self._sp(space).spread([int(i) for i in ids], threshold=threshold, max_results=k)
            if len(ids)
            else []
        )

    def complete(self, space: str, partial: F32, k: int, threshold: float) -> object:
        return self._sp(space).complete(partial, neighbors=max(1, k), ca1_threshold=threshold)

    def consolidate(self, space: str) -> object:
        return self._sp(space).consolidate()

    def close(self) -> None:
        self.client.close()
