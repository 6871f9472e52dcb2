"""Edges and spreading activation on a memory space (mixed into :class:`engram.Space`).

The graph lives in the C++ engine (``cpp/include/engram/graph.hpp``, ``spread.hpp``); these
methods convert arguments and results only. Semantics, defaults and the locking scheme are
documented in those headers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from engram.errors import InvalidInputError, MemoryNotFound

if TYPE_CHECKING:
    from engram import _core

_ID_MIN, _ID_MAX = -(1 << 63), (1 << 63) - 1
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


def _id(space: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidInputError(f"memory ids are integers; got {type(value).__name__}")
    mid = int(value)
    if not _ID_MIN <= mid <= _ID_MAX:
        raise MemoryNotFound(f"no memory with id {mid} in space {space!r}; ids are 64-bit signed integers")
    return mid


class GraphMethods:
    """Graph operations of a space; expects ``self._core`` (``_core.Space``) and ``self.name``."""

    _core: _core.Space

    @property
    def name(self) -> str:  # pragma: no cover - overridden by Space
        raise NotImplementedError

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
        return bool(
            self._core.link(
                _id(self.name, src),
                _id(self.name, dst),
                float(weight),
                kind,
                float(strength),
                float(contribution),
            )
        )

    def unlink(self, src: int, dst: int) -> bool:
        """Remove the edge ``src -> dst``; returns whether there was one."""
        return bool(self._core.unlink(_id(self.name, src), _id(self.name, dst)))

    def neighbors(self, memory_id: int) -> list[Neighbor]:
        """Out-edges of a live memory to live memories, as ``(id, weight, kind)`` by id."""
        return [
            Neighbor(int(i), float(w), str(k))
            for i, w, k, _s, _c in self._core.neighbors(_id(self.name, memory_id))
        ]

    def edge_count(self) -> int:
        """Edges stored in this space's graph."""
        return int(self._core.edge_count())

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
            ids = [_id(self.name, k) for k in seeds]
            acts = [float(v) for v in seeds.values()]
        else:
            ids = [_id(self.name, k) for k in seeds]
            acts = [1.0] * len(ids)
        dw = dict(direction_weights or {})
        unknown = sorted(set(dw) - set(DIRECTIONS))
        if unknown:
            raise InvalidInputError(
                f"unknown direction weight(s) {unknown}; expected keys among {list(DIRECTIONS)}"
            )
        if isinstance(max_hops, bool) or int(max_hops) != max_hops or max_hops < 0:
            raise InvalidInputError(f"max_hops must be a non-negative integer, got {max_hops!r}")
        if max_results is not None and (int(max_results) != max_results or max_results < 1):
            raise InvalidInputError(f"max_results must be a positive integer or None, got {max_results!r}")
        result = self._core.spread(
            ids, acts, int(max_hops), decay, None if decay_rate is None else float(decay_rate),
            float(threshold), bool(fan_effect), fan_divisor, float(min_fan), float(upward_boost),
            *(None if dw.get(k) is None else float(dw[k]) for k in DIRECTIONS),
            float(cycle_penalty), 0 if max_results is None else int(max_results),
        )  # fmt: skip
        return [Activated(int(i), float(a), int(h)) for i, a, h in result]
