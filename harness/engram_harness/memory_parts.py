"""The components of ``Space.stats()["memory_bytes"]``, for tests that check its total."""

from __future__ import annotations

from collections.abc import Mapping

#: Every component the engine counts; ``total`` is their sum (see ``SpaceStats`` in space.hpp).
MEMORY_PARTS = (
    "vectors",
    "index_links",
    "index_nodes",
    "records",
    "content",
    "metadata",
    "concepts",
    "edges",
)


def parts_sum(memory_bytes: Mapping[str, int]) -> int:
    """Sum of the components of one ``stats()["memory_bytes"]`` dict (should equal its total)."""
    return sum(int(memory_bytes[p]) for p in MEMORY_PARTS)
