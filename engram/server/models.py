"""Request bodies of API v1. They validate input and also generate the served OpenAPI schemas."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engram import _core

_MAX_DIM = 65536
Embedding = list[float]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class CreateSpace(Body):
    name: str = Field(min_length=1, max_length=_core.SPACE_NAME_MAX, pattern=_core.SPACE_NAME_PATTERN,
                      description=f"space name, unique in the engine: {_core.SPACE_NAME_RULE}")  # fmt: skip
    dim: int | None = Field(None, ge=1, le=_MAX_DIM, description="embedding dimension (engine default)")
    M: int | None = Field(None, ge=2, le=128)
    ef_construction: int | None = Field(None, ge=1, le=4096)
    ef_search: int | None = Field(None, ge=1, le=4096)
    max_memories: int | None = Field(None, ge=1, le=1 << 40)


class RememberItem(Body):
    embedding: Embedding = Field(max_length=_MAX_DIM)
    content: str = ""
    confidence: float = Field(1.0, ge=0.0, le=1.0)
    timestamp: float | None = Field(None, description="seconds since the epoch; engine clock when absent")
    metadata: dict[str, str] | None = None


class Remember(RememberItem):
    idempotency_key: str | None = Field(
        None, min_length=1, max_length=200, description="replaying a key returns the first result"
    )


class RememberBatch(Body):
    items: list[RememberItem] = Field(min_length=1)
    idempotency_key: str | None = Field(None, min_length=1, max_length=200)


class Link(Body):
    src: int
    dst: int
    weight: float = Field(1.0, ge=0.0, le=1e6)
    kind: Literal["association", "binding", "hierarchy"] = "association"
    strength: float = Field(1.0, ge=0.0, le=1.0)
    contribution: float = Field(1.0, ge=0.0, le=1.0)


class Search(Body):
    embedding: Embedding = Field(max_length=_MAX_DIM)
    k: int = Field(10, ge=1)
    ef: int | None = Field(None, ge=1, le=100_000)


class Recall(Body):
    cue: Embedding = Field(max_length=_MAX_DIM)
    k: int = Field(10, ge=1)
    mode: Literal["blended", "episodic", "semantic"] = "blended"
    semantic_weight: float = Field(0.3, ge=0.0, le=1.0)
    threshold: float = Field(0.0, ge=-1.0, le=1.0)
    now: float | None = None
    decay: Literal["two_component", "exponential", "power_law", "hybrid"] | None = "two_component"
    include_concepts: bool = True
    spreading: bool = True
    spread_hops: int = Field(2, ge=0, le=8)


class Spread(Body):
    seeds: list[int] | dict[str, float] = Field(
        description="memory ids (activation 1.0 each) or an object id -> activation in (0, 1]"
    )
    max_hops: int = Field(3, ge=0, le=16)
    decay: Literal["exponential", "power_law", "linear"] = "exponential"
    decay_rate: float | None = Field(None, ge=0.0, le=100.0)
    threshold: float = Field(0.1, ge=0.0, le=1.0)
    fan_effect: bool = True
    max_results: int | None = Field(None, ge=1)
    direction_weights: dict[Literal["upward", "downward", "lateral", "episodic"], float] | None = Field(
        None,
        description="per-direction weights overriding upward 0.8, downward 0.6, lateral 0.4, episodic 0.3",
    )


class Complete(Body):
    partial: list[float | None] = Field(max_length=_MAX_DIM, description="null marks an unknown dimension")
    neighbors: int = Field(8, ge=1, le=256)
    hypotheses: int = Field(3, ge=1, le=32)
    ca1_threshold: float = Field(0.7, ge=0.0, le=1.0)


class Consolidate(Body):
    similarity_threshold: float | None = Field(None, ge=0.0, le=1.0)
    coherence_threshold: float | None = Field(None, ge=0.0, le=1.0)
    min_cluster_size: int | None = Field(None, ge=2, le=100_000)
    max_concepts_per_run: int | None = Field(None, ge=0, le=100_000)


class Features(Body):
    blended_recall: bool | None = None
    fan_effect: bool | None = None
    concept_formation: bool | None = None


class LegacyRemember(Body):
    """The upstream route's body (deprecated): space from X-Memory-Space, ?space= or this field."""

    content: str = Field(max_length=100_000)
    embedding: Embedding = Field(max_length=_MAX_DIM)
    confidence: float = Field(0.7, ge=0.0, le=1.0)
    memory_space_id: str | None = Field(
        None, min_length=1, max_length=_core.SPACE_NAME_MAX, pattern=_core.SPACE_NAME_PATTERN
    )


class LinkBatch(Body):
    edges: list[Link] = Field(min_length=1, description="directed edges, applied in order")


class NeighborBatch(Body):
    ids: list[int] = Field(min_length=1, description="memory ids whose out-edges to read")
    records: bool = Field(False, description="also return every neighbour's memory record")


class StartConsolidation(Consolidate):
    interval_s: float = Field(30.0, gt=0.0, le=86_400.0, description="seconds between background cycles")
