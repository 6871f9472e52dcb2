"""Memory footprint of a space including what ``stats()['memory_bytes']`` leaves out.

The engine's per-space byte counts cover vectors, the HNSW index, records, content and metadata,
but not the concept store (centroids, member lists, episode -> concept index) nor the graph's
edge lists, although the C++ side computes both (``ConceptStore::memory_bytes``,
``Graph::memory_bytes``). Until the bindings expose them, :func:`estimated_extra_bytes` rebuilds
those two figures from public data with the same formulas (element sizes from the C++ structs:
an edge is 24 bytes and is stored in both the source's out-list and the target's in-list).
Vector capacity slack is ignored, so the estimate is a lower bound.
"""

from __future__ import annotations

from typing import Any

EDGE_BYTES = 24  # struct Edge: int64 other, float weight, uint8 kind (padded), float strength, contribution
NODE_ENTRY_BYTES = 8 + 2 * 24 + 2 * 8  # key, two std::vector headers, bucket and node pointers
CONCEPT_ENTRY_BYTES = (
    72  # ConceptStore::Entry (id, inv_norm, coherence, confidence, 3 doubles, vector header)
)
BY_EPISODE_BYTES = 4 * 8


def concept_store_bytes(space: Any) -> int:
    """Bytes of the concept store: centroids, entries, member ids and the episode index."""
    total = 0
    bound = 0
    for c in space.concepts():
        total += 4 * len(c.centroid) + CONCEPT_ENTRY_BYTES + 8 * len(c.members)
        bound += len(c.members)
    return total + BY_EPISODE_BYTES * bound


def graph_bytes(edges: int, nodes_with_edges: int) -> int:
    """Bytes of the edge lists for ``edges`` edges over ``nodes_with_edges`` nodes."""
    return 2 * EDGE_BYTES * int(edges) + NODE_ENTRY_BYTES * int(nodes_with_edges)


def stats_bytes(space: Any) -> int:
    return int(space.stats()["memory_bytes"]["total"])
