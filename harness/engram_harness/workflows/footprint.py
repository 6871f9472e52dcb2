"""Memory footprint of a space, as the engine measures it (``stats()['memory_bytes']``).

The engine counts vectors, the HNSW index, records, content and metadata, the concept store
(centroids, member lists, the episode -> concept index) and the graph's edge lists (each edge is
stored in its source's out-list and its target's in-list). Works for an in-process ``Space`` and
for a client space alike (both return the same ``stats()`` dict).
"""

from __future__ import annotations

from typing import Any


def _bytes(space: Any) -> dict[str, int]:
    return {k: int(v) for k, v in space.stats()["memory_bytes"].items()}


def stats_bytes(space: Any) -> int:
    """Everything the space holds, in bytes."""
    return _bytes(space)["total"]


def edge_bytes(space: Any) -> int:
    """The graph's edge lists (associations, bindings, hierarchy), in bytes."""
    return _bytes(space)["edges"]


def concept_bytes(space: Any) -> int:
    """The concept store, in bytes."""
    return _bytes(space)["concepts"]
