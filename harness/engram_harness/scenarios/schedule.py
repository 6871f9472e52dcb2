"""The schedule: a scenario turned into flat numpy arrays, one row per operation, ready to execute.

Independent random streams (arrival, mix, spaces, keys, parameters) are derived from the scenario seed,
so the same scenario and ``profile_scale`` always give the identical schedule.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engram_harness.scenarios.arrivals import arrival_times
from engram_harness.scenarios.ops import OP_NAMES, Op
from engram_harness.scenarios.scenario import Scenario
from engram_harness.vectors import FRESH_BASE, ClusterSpec

# stream ids for numpy.random.default_rng([seed, stream])
_ARRIVAL, _MIX, _SPACE, _KEYS, _PARAMS = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Schedule:
    """One row per operation, sorted by intended start.

    ``key`` is the embedding index: for ``remember`` the next new item (0, 1, 2, ...; preloaded items
    come first), for queries the item a query targets (or a fresh index at or above ``FRESH_BASE``),
    for ``consolidate`` -1. ``k``, ``threshold`` and ``confidence`` are the operation's parameters
    (0 / NaN where they do not apply).
    """

    scenario: str
    seed: int
    duration_ns: int
    start_ns: npt.NDArray[np.int64]
    op: npt.NDArray[np.uint8]
    space: npt.NDArray[np.int16]
    key: npt.NDArray[np.int64]
    k: npt.NDArray[np.int32]
    threshold: npt.NDArray[np.float32]
    confidence: npt.NDArray[np.float32]
    space_names: tuple[str, ...]
    embeddings: ClusterSpec
    preload: int = 0
    op_names: tuple[str, ...] = OP_NAMES

    def __len__(self) -> int:
        return len(self.start_ns)

    @property
    def duration_s(self) -> float:
        return self.duration_ns / 1e9

    def counts(self) -> dict[str, int]:
        c = np.bincount(self.op, minlength=len(self.op_names))
        return {name: int(c[i]) for i, name in enumerate(self.op_names)}

    def vectors(self, rows: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Embeddings of the given schedule rows (zeros for rows without one, e.g. consolidate)."""
        rows = np.asarray(rows, dtype=np.int64)
        keys = self.key[rows]
        out = np.zeros((len(rows), self.embeddings.dim), dtype=np.float32)
        has = keys >= 0
        if has.any():
            out[has] = self.embeddings.vectors(keys[has])
        return out

    def digest(self) -> str:
        """SHA-256 over every array: equal digests mean identical operation sequences."""
        h = hashlib.sha256()
        for arr in (self.start_ns, self.op, self.space, self.key, self.k, self.threshold, self.confidence):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()


def build_schedule(scenario: Scenario, profile_scale: float = 1.0) -> Schedule:
    """Turn ``scenario`` into a :class:`Schedule`.

    ``profile_scale`` compresses (``< 1``) or stretches time: the duration and every time constant of
    the arrival process and the clock are multiplied by it while rates stay the same, so a quick
    profile runs the same shape with proportionally fewer operations.
    """
    if not (profile_scale > 0 and math.isfinite(profile_scale)):
        raise ValueError(f"profile_scale must be a positive finite number, got {profile_scale!r}")
    seed = scenario.seed
    duration_s = scenario.duration_s * profile_scale
    arrival = scenario.arrival.scaled(profile_scale)
    clock = scenario.clock.scaled(profile_scale)

    t_s = arrival_times(arrival, duration_s, np.random.default_rng([seed, _ARRIVAL]))
    start_ns = np.minimum(np.round(t_s * 1e9).astype(np.int64), int(duration_s * 1e9) - 1)
    n = len(start_ns)

    hours = clock.hour_at(t_s) if scenario.mix.phases else None
    op = scenario.mix.sample(np.random.default_rng([seed, _MIX]), hours, n)

    sp = scenario.spaces
    space_rng = np.random.default_rng([seed, _SPACE])
    if len(sp.names) == 1:
        space = np.zeros(n, dtype=np.int16)
    else:
        space = space_rng.choice(len(sp.names), size=n, p=np.asarray(sp.weights)).astype(np.int16)

    key = _keys(scenario, op, np.random.default_rng([seed, _KEYS]))
    k, threshold, confidence = _params(scenario, op, np.random.default_rng([seed, _PARAMS]))
    return Schedule(
        scenario=scenario.name,
        seed=seed,
        duration_ns=round(duration_s * 1e9),
        start_ns=start_ns,
        op=op,
        space=space,
        key=key,
        k=k,
        threshold=threshold,
        confidence=confidence,
        space_names=sp.names,
        embeddings=scenario.data,
        preload=scenario.preload,
    )


def _keys(scenario: Scenario, op: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.int64]:
    n = len(op)
    key = np.full(n, -1, dtype=np.int64)
    is_rem = op == Op.REMEMBER
    key[is_rem] = scenario.preload + np.arange(int(is_rem.sum()), dtype=np.int64)
    is_query = ~is_rem & (op != Op.CONSOLIDATE)
    nq = int(is_query.sum())
    kp = scenario.keys
    if kp.queries == "fresh":
        key[is_query] = FRESH_BASE + np.arange(nq, dtype=np.int64)
    elif nq:
        support = kp.n if kp.n is not None else max(scenario.preload + int(is_rem.sum()), 1)
        key[is_query] = kp.sample(rng, nq, support)
    return key


def _params(
    scenario: Scenario, op: npt.NDArray[np.uint8], rng: np.random.Generator
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    n = len(op)
    p = scenario.params
    # one draw of each kind for every row keeps the streams aligned whatever the mix
    u_k = rng.random(n)
    u_t = rng.random(n)
    u_c = rng.random(n)
    k = np.zeros(n, dtype=np.int32)
    threshold = np.full(n, np.nan, dtype=np.float32)
    confidence = np.full(n, np.nan, dtype=np.float32)

    def ints(sel: npt.NDArray[np.bool_], lo_hi: tuple[int, int]) -> None:
        lo, hi = lo_hi
        k[sel] = lo + np.minimum(np.floor(u_k[sel] * (hi - lo + 1)), hi - lo).astype(np.int32)

    def floats(
        dst: npt.NDArray[np.float32],
        u: npt.NDArray[np.float64],
        sel: npt.NDArray[np.bool_],
        lo_hi: tuple[float, float],
    ) -> None:
        lo, hi = lo_hi
        dst[sel] = lo + (hi - lo) * u[sel]

    recall = (op == Op.RECALL_EPISODIC) | (op == Op.RECALL_SEMANTIC) | (op == Op.RECALL_BLENDED)
    floats(confidence, u_c, op == Op.REMEMBER, p.remember_confidence)
    ints(recall, p.recall_k)
    floats(threshold, u_t, recall, p.recall_threshold)
    ints(op == Op.SEARCH, p.search_k)
    ints(op == Op.SPREAD, p.spread_k)
    floats(threshold, u_t, op == Op.SPREAD, p.spread_threshold)
    ints(op == Op.COMPLETE, p.complete_k)
    floats(threshold, u_t, op == Op.COMPLETE, p.complete_threshold)
    return k, threshold, confidence
