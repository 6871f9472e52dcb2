"""What the open-loop driver executes operations against."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


@runtime_checkable
class Target(Protocol):
    """One method per operation type. Return values are ignored; an exception marks the operation
    failed and is classified by its type name. Methods are called from several threads at once."""

    def remember(self, space: str, key: int, embedding: F32, confidence: float) -> object: ...

    def recall(self, space: str, embedding: F32, mode: str, k: int, threshold: float) -> object: ...

    def search(self, space: str, embedding: F32, k: int) -> object: ...

    def spread(self, space: str, key: int, embedding: F32, k: int, threshold: float) -> object: ...

    def complete(self, space: str, partial: F32, k: int, threshold: float) -> object:
        """``partial`` has NaN in the unknown slots (every second one, as the reference loadtest)."""
        ...

    def consolidate(self, space: str) -> object: ...
