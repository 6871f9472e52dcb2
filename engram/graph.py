"""Edges and spreading activation on a memory space (mixed into :class:`engram.Space`).

The graph lives in the C++ engine (``cpp/include/engram/graph.hpp``, ``spread.hpp``); these
methods convert arguments and results only. Semantics, defaults and the locking scheme are
documented in those headers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple

from engram.errors import InvalidInputError

if TYPE_CHECKING:
    from engram import _core

EDGE_KINDS = ("association", "binding", "hierarchy")
HOP_DECAYS = ("exponential", "power_law", "linear")
DIRECTIONS = ("upward", "downward", "lateral", "episodic")


class Neighbor(NamedTuple):
    id: int
    weight: float
    kind: str


class Activated(NamedTuple):
    id: int
    activation: float
    hops: int


class GraphMethods:
    """Graph operations of a space; expects ``self._core`` (``_core.Space``)."""

    _core: _core.Space

    def link(
        self,
        src: int,
        dst: int,
        weight: float = 1.0,
        kind: str = "association",
        *,
        strength: float = 1.0,
        contribution: float = 1.0,
    ) -> bool:
        """Add the directed edge ``src -> dst`` (or replace its kind and weights).

        ``kind`` is ``association`` (episode to episode), ``binding`` (episode to concept, with
        ``strength`` and ``contribution`` in [0, 1]) or ``hierarchy`` (concept to concept). Both
        ends must be live memories of this space: another space's id raises
        :class:`engram.MemoryNotFound`. Returns True when the edge is new.
        """
        if kind not in EDGE_KINDS:
            raise InvalidInputError(f"unknown edge kind {kind!r}; expected one of {', '.join(EDGE_KINDS)}")
        if kind != "binding" and (strength != 1.0 or contribution != 1.0):
            raise InvalidInputError("strength and contribution apply to binding edges only")
        return self._core.link(src, dst, weight, kind, strength, contribution)

    def unlink(self, src: int, dst: int) -> bool:
        """Remove the edge ``src -> dst``; returns whether there was one."""
        return self._core.unlink(src, dst)

    def neighbors(self, memory_id: int) -> list[Neighbor]:
        """Out-edges of a live memory to live memories, as ``(id, weight, kind)`` by id."""
        return [Neighbor(e.id, e.weight, e.kind) for e in self._core.neighbors(memory_id)]

    def edge_count(self) -> int:
        """Edges stored in this space's graph."""
        return self._core.edge_count()

    def spread(
        self,
        seeds: Iterable[int] | Mapping[int, float],
        max_hops: int = 3,
        decay: str = "exponential",
        decay_rate: float | None = None,
        threshold: float = 0.1,
        fan_effect: bool = True,
        direction_weights: Mapping[str, float] | None = None,
        *,
        fan_divisor: str = "linear",
        min_fan: float = 1.0,
        upward_boost: float = 1.2,
        cycle_penalty: float = 0.93,
        max_results: int | None = None,
    ) -> list[Activated]:
        """Spread activation from ``seeds`` (ids at activation 1.0, or id -> activation in (0, 1]).

        Returns ``(id, activation, hops)`` ranked by activation (ties by id), seeds included
        at hop 0. ``decay`` is the per-path attenuation family (exponential ``e^(-rate*h)``,
        power_law ``(1+h)^(-rate)``, linear ``1 - rate*h``; default rates 0.7, 1.0, 0.25).
        ``direction_weights`` overrides any of upward (0.8), downward (0.6), lateral (0.4) and
        episodic (0.3).
        """
        if isinstance(seeds, Mapping):
            ids, acts = list(seeds), list(seeds.values())
        else:
            ids = list(seeds)
            acts = [1.0] * len(ids)
        dw = dict(direction_weights or {})
        unknown = sorted(set(dw) - set(DIRECTIONS))
        if unknown:
            raise InvalidInputError(
                f"unknown direction weight(s) {unknown}; expected keys among {list(DIRECTIONS)}"
            )
        result = self._core.spread(
            ids, acts, max_hops, decay, decay_rate, threshold, fan_effect, fan_divisor, min_fan,
            upward_boost, dw.get("upward"), dw.get("downward"), dw.get("lateral"), dw.get("episodic"),
            cycle_penalty, max_results,
        )  # fmt: skip
        return [Activated(a.id, a.activation, a.hops) for a in result]
