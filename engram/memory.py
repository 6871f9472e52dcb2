"""Value types returned by the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

MemoryKind = Literal["episode", "concept"]


@dataclass(frozen=True)
class Memory:
    """One memory, copied out of the engine: later changes to the engine do not affect it."""

    id: int
    kind: MemoryKind
    embedding: npt.NDArray[np.float32]
    content: str
    confidence: float
    timestamp: float
    metadata: dict[str, str] = field(default_factory=dict)
