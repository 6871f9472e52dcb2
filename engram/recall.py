"""Concepts, consolidation, recall and pattern completion (over ``engram._core``).

The formulas live with the C++ headers (``cpp/include/engram/{consolidation,recall,completion}.hpp``)
and in ``docs/recall.md``. :class:`RecallMethods` is mixed into :class:`engram.Space` and
:class:`ConsolidationControl` into :class:`engram.Engine`; nothing here holds state of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

import numpy as np
import numpy.typing as npt

from engram.memory import MemoryKind

if TYPE_CHECKING:
    from engram import _core

RecallMode = Literal["blended", "episodic", "semantic"]
ProvenanceKind = Literal["episodic", "semantic", "blended", "pattern-completed"]
FeatureName = Literal["blended_recall", "fan_effect", "concept_formation"]


class RolloutStage(TypedDict):
    """A flag's staged rollout (:meth:`ConsolidationControl.rollout`)."""

    percent: float
    shadow: bool


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
    kind: MemoryKind
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
    kind: MemoryKind


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


def _recollection(r: _core.Recollection) -> Recollection:
    return Recollection(
        id=r.id,
        kind=cast(MemoryKind, r.kind),
        score=r.score,
        confidence=r.confidence,
        activation=r.activation,
        provenance=Provenance(cast(ProvenanceKind, r.provenance), r.episodic_weight, r.semantic_weight),
        episodic=r.episodic,
        semantic=r.semantic,
    )


def _completion(c: _core.Completion) -> Completion:
    return Completion(
        vector=c.vector,
        confidence=c.confidence,
        accepted=c.accepted,
        sources=tuple(c.sources),
        source_similarity=tuple(c.source_similarity),
        alternatives=tuple(
            Hypothesis(h.vector, h.confidence, h.source, cast(MemoryKind, h.kind)) for h in c.alternatives
        ),
        known_dims=c.known_dims,
    )


def _concept(c: _core.Concept) -> Concept:
    return Concept(
        id=c.id,
        centroid=c.centroid,
        coherence=c.coherence,
        confidence=c.confidence,
        formed_at=c.formed_at,
        updated_at=c.updated_at,
        members=tuple(c.members),
    )


def _report(r: _core.ConsolidationReport) -> ConsolidationReport:
    return ConsolidationReport(
        episodes_considered=r.episodes_considered,
        concepts_formed=r.concepts_formed,
        concepts_updated=r.concepts_updated,
        concepts_dissolved=r.concepts_dissolved,
        episodes_bound=r.episodes_bound,
        clusters_found=r.clusters_found,
        clusters_incoherent=r.clusters_incoherent,
        clusters_deferred=r.clusters_deferred,
        rate_breaker_tripped=r.rate_breaker_tripped,
        ratio_breaker_tripped=r.ratio_breaker_tripped,
        formation_disabled=r.formation_disabled,
        duration_s=r.duration_s,
        formed=tuple(r.formed),
        updated=tuple(r.updated),
        blocks_reused=r.blocks_reused,
    )


def counters_dict(c: _core.ConsolidationCounters) -> dict[str, Any]:
    """A space's consolidation counters as the public dict (also in consolidation_status)."""
    return {
        "runs": c.runs,
        "failures": c.failures,
        "concepts_formed": c.concepts_formed,
        "concepts_updated": c.concepts_updated,
        "concepts_dissolved": c.concepts_dissolved,
        "episodes_bound": c.episodes_bound,
        "rate_breaker_trips": c.rate_breaker_trips,
        "ratio_breaker_trips": c.ratio_breaker_trips,
        "rate_breaker_open": c.rate_breaker_open,
        "ratio_breaker_open": c.ratio_breaker_open,
        "last_run_at": c.last_run_at,
        "last_duration_s": c.last_duration_s,
    }


class RecallMethods:
    """Space methods for concepts, consolidation, recall and completion."""

    _core: _core.Space

    def consolidate(self, **params: Any) -> ConsolidationReport:
        """Form and update concepts from this space's episodes (see consolidation.hpp).

        Parameters (all optional): similarity_threshold=0.55, coherence_threshold=0.65,
        min_cluster_size=3, temporal_scale_s=86400, max_concepts_per_run=5,
        max_formations_per_hour=20, max_concept_ratio=0.3, confidence_penalty=0.9, neighbors=16,
        exact_below=512, max_component=2048, candidates="graph" (or "search"), now=None (engine clock).
        """
        return _report(self._core.consolidate(**params))

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
        rows = self._core.recall(cue, k, mode, semantic_weight, now, threshold, **options)
        return [_recollection(r) for r in rows]

    def complete(self, partial: npt.ArrayLike, mask: npt.ArrayLike, **options: Any) -> Completion:
        """Reconstruct the dimensions where ``mask`` is False from the nearest episodes and concepts.

        ``options``: neighbors=8, hypotheses=3, ca1_threshold=0.7, sharpness=4, use_concepts=True.
        """
        return _completion(self._core.complete(partial, mask, **options))

    def concepts(self) -> list[Concept]:
        """Every live concept of this space, by id."""
        return [_concept(c) for c in self._core.concepts()]

    def concept_members(self, concept_id: int) -> list[int]:
        """Member episode ids of a concept (raises MemoryNotFound for an unknown concept)."""
        return self._core.concept_members(concept_id)

    def episode_concepts(self, episode_id: int) -> list[int]:
        """Concepts an episode is bound to (raises MemoryNotFound for an unknown episode)."""
        return self._core.episode_concepts(episode_id)

    def consolidation_counters(self) -> dict[str, Any]:
        """Monotonic consolidation counters and breaker state of this space."""
        return counters_dict(self._core.consolidation_counters())


class ConsolidationControl:
    """Engine methods: feature flags, their rollout stages and the background consolidator."""

    _core: _core.Engine

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
        """The three flags now (a rollout stage, when one is set, is in :meth:`rollout`)."""
        f = self._core.features()
        return {
            "blended_recall": f.blended_recall,
            "fan_effect": f.fan_effect,
            "concept_formation": f.concept_formation,
        }

    def set_rollout(self, flag: FeatureName, percent: float | None = None, *, shadow: bool = False) -> None:
        """Stage a flag's rollout, or end it (``percent=None``: the flag's own value applies again).

        A stage turns ``flag`` on for ``percent`` (0 to 100, kept to 0.01) of rollout keys: each
        request's key for blended_recall and fan_effect, each space's name for concept_formation.
        ``shadow`` (blended_recall and fan_effect, with percent 0) computes the flag-on path beside
        the served one. Durable since store format 2 (one Features record); a store with a stage
        cannot be rolled back to format 1 until every stage has ended. InvalidInputError names a
        bad flag or stage.
        """
        self._core.set_rollout(flag, percent, shadow)

    def rollout(self) -> dict[str, RolloutStage | None]:
        """Each flag's rollout stage, ``{"percent": float, "shadow": bool}`` (the server's
        ``/admin/features`` shape), or None where the flag has none."""
        return {
            flag: None if stage is None else {"percent": float(stage[0]), "shadow": bool(stage[1])}
            for flag, stage in self._core.rollout().items()
        }

    def start_consolidation(self, interval_s: float = 30.0, **params: Any) -> None:
        """Consolidate every space every ``interval_s`` seconds on a background thread.

        ``params`` are those of :meth:`RecallMethods.consolidate` (breakers apply); starting again
        replaces the running consolidator.
        """
        self._core.start_consolidation(interval_s, **params)

    def stop_consolidation(self) -> None:
        self._core.stop_consolidation()

    def pause_consolidation(self) -> None:
        self._core.pause_consolidation()

    def resume_consolidation(self) -> None:
        self._core.resume_consolidation()

    def consolidation_status(self) -> dict[str, Any]:
        """State (stopped, running, paused), cycles, failures and per-space counters."""
        s = self._core.consolidation_status()
        return {
            "state": s.state,
            "interval_s": s.interval_s,
            "cycles": s.cycles,
            "failures": s.failures,
            "last_cycle_duration_s": s.last_cycle_duration_s,
            "spaces": {sp.name: counters_dict(sp.consolidation_counters()) for sp in self._core.spaces()},
        }
