"""Concepts, consolidation, recall and pattern completion (over ``engram._core``).

The formulas live with the C++ headers (``cpp/include/engram/{consolidation,recall,completion}.hpp``)
and in ``docs/recall.md``. :class:`RecallMethods` is mixed into :class:`engram.Space` and
:class:`ConsolidationControl` into :class:`engram.Engine`; nothing here holds state of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

RecallMode = Literal["blended", "episodic", "semantic"]
ProvenanceKind = Literal["episodic", "semantic", "blended", "pattern-completed"]


@dataclass(frozen=True)
class Provenance:
    """Which pathway produced a result, and the weights used when both did."""

    kind: ProvenanceKind
    episodic_weight: float
    semantic_weight: float

    def __str__(self) -> str:
        if self.kind == "blended":
            return f"blended(episodic={self.episodic_weight:.2f}, semantic={self.semantic_weight:.2f})"
        return self.kind


@dataclass(frozen=True)
class Recollection:
    """One recall result. ``episodic`` and ``semantic`` are the pathway values before weighting."""

    id: int
    kind: Literal["episode", "concept"]
    score: float
    confidence: float
    activation: float
    provenance: Provenance
    episodic: float = 0.0
    semantic: float = 0.0


@dataclass(frozen=True)
class Concept:
    id: int
    centroid: npt.NDArray[np.float32]
    coherence: float
    confidence: float
    formed_at: float
    updated_at: float
    members: tuple[int, ...]


@dataclass(frozen=True)
class ConsolidationReport:
    episodes_considered: int
    concepts_formed: int
    concepts_updated: int
    concepts_dissolved: int
    episodes_bound: int
    clusters_found: int
    clusters_incoherent: int
    clusters_deferred: int
    rate_breaker_tripped: bool
    ratio_breaker_tripped: bool
    formation_disabled: bool
    duration_s: float
    formed: tuple[int, ...]
    updated: tuple[int, ...]
    blocks_reused: int = 0  # blocks whose clusters came from the per-space clustering cache


@dataclass(frozen=True)
class Hypothesis:
    vector: npt.NDArray[np.float32]
    confidence: float
    source: int
    kind: Literal["episode", "concept"]


@dataclass(frozen=True)
class Completion:
    """A completed vector: known dimensions as given, unknown ones reconstructed."""

    vector: npt.NDArray[np.float32]
    confidence: float
    accepted: bool
    sources: tuple[int, ...]
    source_similarity: tuple[float, ...]
    alternatives: tuple[Hypothesis, ...]
    known_dims: int
    provenance: ProvenanceKind = "pattern-completed"


class RecallMethods:
    """Space methods for concepts, consolidation, recall and completion."""

    _core: Any

    def consolidate(self, **params: Any) -> ConsolidationReport:
        """Form and update concepts from this space's episodes (see consolidation.hpp).

        Parameters (all optional): similarity_threshold=0.55, coherence_threshold=0.65,
        min_cluster_size=3, temporal_scale_s=86400, max_concepts_per_run=5,
        max_formations_per_hour=20, max_concept_ratio=0.3, confidence_penalty=0.9, neighbors=16,
        exact_below=512, max_component=2048, candidates="graph" (or "search"), now=None (engine clock).
        """
        d = self._core.consolidate(**params)
        d["formed"] = tuple(int(i) for i in d["formed"])
        d["updated"] = tuple(int(i) for i in d["updated"])
        return ConsolidationReport(**d)

    def recall(
        self,
        cue: npt.ArrayLike,
        k: int = 10,
        mode: RecallMode = "blended",
        semantic_weight: float = 0.3,
        now: float | None = None,
        threshold: float = 0.0,
        **options: Any,
    ) -> list[Recollection]:
        """Ranked memories for a cue, episodes and concepts, with provenance and confidence.

        ``options``: decay ("two_component" default, "exponential", "power_law", "hybrid" or None),
        max_concepts=20, min_concept_coherence=0.6, include_concepts=True, spreading=True,
        spread_hops=2, spread_threshold=0.05, spread_seeds=10, activation_weight=0.1,
        decay_floor=0.1, binding_hop_decay=0.95, blend_bonus=1.1, episodic_candidates, ef.
        """
        rows = self._core.recall(
            cue, int(k), str(mode), float(semantic_weight), now, float(threshold), **options
        )
        return [
            Recollection(
                id=int(r[0]),
                kind=r[1],
                score=float(r[2]),
                confidence=float(r[3]),
                activation=float(r[4]),
                provenance=Provenance(r[5], float(r[6]), float(r[7])),
                episodic=float(r[8]),
                semantic=float(r[9]),
            )
            for r in rows
        ]

    def complete(self, partial: npt.ArrayLike, mask: npt.ArrayLike, **options: Any) -> Completion:
        """Reconstruct the dimensions where ``mask`` is False from the nearest episodes and concepts.

        ``options``: neighbors=8, hypotheses=3, ca1_threshold=0.7, sharpness=4, use_concepts=True.
        """
        d = self._core.complete(partial, mask, **options)
        alts = tuple(
            Hypothesis(np.asarray(h["vector"]), float(h["confidence"]), int(h["source"]), h["kind"])
            for h in d["alternatives"]
        )
        return Completion(
            vector=np.asarray(d["vector"]),
            confidence=float(d["confidence"]),
            accepted=bool(d["accepted"]),
            sources=tuple(int(i) for i in d["sources"]),
            source_similarity=tuple(float(s) for s in d["source_similarity"]),
            alternatives=alts,
            known_dims=int(d["known_dims"]),
        )

    def concepts(self) -> list[Concept]:
        """Every live concept of this space, by id."""
        return [
            Concept(
                id=int(c["id"]),
                centroid=np.asarray(c["centroid"]),
                coherence=float(c["coherence"]),
                confidence=float(c["confidence"]),
                formed_at=float(c["formed_at"]),
                updated_at=float(c["updated_at"]),
                members=tuple(int(m) for m in c["members"]),
            )
            for c in self._core.concepts()
        ]

    def concept_members(self, concept_id: int) -> list[int]:
        """Member episode ids of a concept (raises MemoryNotFound for an unknown concept)."""
        return [int(i) for i in self._core.concept_members(int(concept_id))]

    def episode_concepts(self, episode_id: int) -> list[int]:
        """Concepts an episode is bound to (raises MemoryNotFound for an unknown episode)."""
        return [int(i) for i in self._core.episode_concepts(int(episode_id))]

    def consolidation_counters(self) -> dict[str, Any]:
        """Monotonic consolidation counters and breaker state of this space."""
        return dict(self._core.consolidation_counters())


class ConsolidationControl:
    """Engine methods: feature flags and the background consolidator."""

    _core: Any

    def set_features(
        self,
        *,
        blended_recall: bool | None = None,
        fan_effect: bool | None = None,
        concept_formation: bool | None = None,
    ) -> None:
        """Switch features at run time; arguments left as None keep their current value."""
        self._core.set_features(blended_recall, fan_effect, concept_formation)

    def features(self) -> dict[str, bool]:
        return {k: bool(v) for k, v in self._core.features().items()}

    def start_consolidation(self, interval_s: float = 30.0, **params: Any) -> None:
        """Consolidate every space every ``interval_s`` seconds on a background thread.

        ``params`` are those of :meth:`RecallMethods.consolidate` (breakers apply); starting again
        replaces the running consolidator.
        """
        self._core.start_consolidation(float(interval_s), **params)

    def stop_consolidation(self) -> None:
        self._core.stop_consolidation()

    def pause_consolidation(self) -> None:
        self._core.pause_consolidation()

    def resume_consolidation(self) -> None:
        self._core.resume_consolidation()

    def consolidation_status(self) -> dict[str, Any]:
        """State (stopped, running, paused), cycles, failures and per-space counters."""
        return dict(self._core.consolidation_status())
