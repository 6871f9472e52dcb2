"""Engram: a cognitive memory engine with a C++20 core.

>>> import engram, numpy as np
>>> with engram.Engine(dim=4) as eng:
...     sp = eng.create_space("demo")
...     eid = sp.remember(np.array([1, 0, 0, 0], dtype=np.float32), content="hello")
...     sp.get(eid).content
'hello'
"""

from engram import _core
from engram.durability.restore import restore
from engram.engine import Clock, Engine, Space, simd_level
from engram.errors import (
    CapacityError,
    ClosedError,
    CorruptionError,
    DimensionError,
    EngramError,
    IdempotencyConflict,
    InvalidInputError,
    MemoryNotFound,
    MemoryPressureError,
    SpaceExists,
    SpaceNotFound,
    StorageError,
)
from engram.memory import Memory
from engram.recall import Completion, Concept, ConsolidationReport, Hypothesis, Provenance, Recollection

__version__: str = _core.__version__  # defined once, in CMakeLists.txt's project()

__all__ = [
    "CapacityError",
    "Clock",
    "ClosedError",
    "Completion",
    "Concept",
    "ConsolidationReport",
    "CorruptionError",
    "DimensionError",
    "Engine",
    "EngramError",
    "Hypothesis",
    "IdempotencyConflict",
    "InvalidInputError",
    "Memory",
    "MemoryNotFound",
    "MemoryPressureError",
    "Provenance",
    "Recollection",
    "Space",
    "SpaceExists",
    "SpaceNotFound",
    "StorageError",
    "restore",
    "simd_level",
]
