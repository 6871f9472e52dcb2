"""The M11 validators (requirements.md section 6), run against a space through the public client:

- :func:`eventual_consistency`: every acknowledged observation is found by its own vector (k=1),
  retried 10 ms doubling to 1 s, and its visibility delay (found minus acknowledged) stays within
  the bounded staleness;
- :func:`sequence`: the acknowledged indexes of a stream of ``n`` observations, with gaps and
  duplicates (two indexes with one memory id), zero tolerance;
- :func:`graph_integrity`: the space's own ``validate()`` (vector-index layers: every link at layer l
  to a node present at l, no broken or dangling link; records against the index; concepts and their
  bindings both ways, no orphan), as counted violations.

Each returns a :class:`Validation` that a suite records with :meth:`Validation.record`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass
class Validation:
    name: str
    checked: int
    violations: list[str] = field(default_factory=list)
    measured: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.checked > 0 and not self.violations

    def record(self, checks: Any, where: str = "") -> None:
        """As a suite's checks: something was checked, and no violation."""
        checks.check(f"{self.name}: items checked{where}", self.checked, ">", 0)
        checks.check(f"{self.name}: violations{where}", len(self.violations), "==", 0)

    def summary(self) -> str:
        shown = "; ".join(self.violations[:5])
        extra = " ".join(f"{k}={v:.4g}" for k, v in self.measured.items())
        return (
            f"{self.name}: {self.checked} checked, {len(self.violations)} violations {extra} {shown}".strip()
        )


def eventual_consistency(space: Any, acked: Iterable[tuple[int, npt.ArrayLike, float | None]], *,
                         max_staleness_s: float,
                         first_delay_s: float = 0.01, max_delay_s: float = 1.0, give_up_s: float = 5.0,
                         clock: Callable[[], float] = time.monotonic) -> Validation:  # fmt: skip
    """``acked``: (memory id, its embedding, the monotonic time it was acknowledged, or None to check
    presence only). An id never found within ``give_up_s`` of the check, or found later than
    ``max_staleness_s`` after its acknowledgement, is a violation; the measured visibility delays'
    P99 is reported."""
    v = Validation("eventual consistency", 0)
    delays: list[float] = []
    for mid, emb, acked_at in acked:
        v.checked += 1
        start, delay, found = clock(), first_delay_s, None
        while True:  # bounded by give_up_s
            try:
                ids, _ = space.search(np.asarray(emb, dtype=np.float32), k=1)
            except Exception:  # the server down or unreachable right now (a fault): not found yet
                ids = np.empty(0, dtype=np.int64)
            if len(ids) and int(ids[0]) == int(mid):
                found = clock()
                break
            if clock() - start + delay > give_up_s:
                break
            time.sleep(delay)
            delay = min(max_delay_s, 2 * delay)
        if found is None:
            v.violations.append(f"id {mid} not found by its vector within {give_up_s:g} s")
            continue
        if acked_at is None:
            continue
        delays.append(max(0.0, found - acked_at))
        if found - acked_at > max_staleness_s:
            v.violations.append(
                f"id {mid} visible {found - acked_at:.3f} s after its ack (bound {max_staleness_s:g} s)"
            )
    if delays:
        v.measured["visibility_p99_s"] = float(np.quantile(np.asarray(delays), 0.99))
    return v


def sequence(acked: Mapping[int, int], n: int) -> Validation:
    """``acked``: stream index -> memory id for a stream of ``n`` observations (0..n-1)."""
    v = Validation("sequence", n)
    missing = [i for i in range(n) if i not in acked]
    if missing:
        v.violations.append(f"{len(missing)} gaps (first {missing[:5]})")
    extra = sorted(i for i in acked if not 0 <= i < n)
    if extra:
        v.violations.append(f"{len(extra)} indexes outside 0..{n - 1} (first {extra[:5]})")
    seen: dict[int, int] = {}
    dups = []
    for i, mid in acked.items():
        if mid in seen:
            dups.append((seen[mid], i, mid))
        seen[mid] = i
    if dups:
        v.violations.append(f"{len(dups)} duplicates (indexes sharing an id, first {dups[:3]})")
    v.measured["gaps"], v.measured["duplicates"] = float(len(missing)), float(len(dups))
    return v


#: validate() counts that must be 0 (the vector index's, then the records' and concepts').
INTEGRITY_COUNTS = ("broken_links", "layer_violations", "dangling_ids", "record_index_mismatches",
                    "orphaned_concepts", "one_sided_bindings", "edges_to_missing")  # fmt: skip


def graph_integrity(space: Any) -> Validation:
    """The space's ``validate()`` as violations (each non-zero count in INTEGRITY_COUNTS)."""
    rep = space.validate()
    flat = {**rep, **(rep.get("index") or {})}  # flat over HTTP; nested in process
    v = Validation("graph integrity", int(flat.get("records", 0)))
    for name in INTEGRITY_COUNTS:
        if name not in flat:
            v.violations.append(f"validate() did not report {name}")
        elif int(flat[name]):
            v.violations.append(f"{name} = {flat[name]}")
    if not rep.get("ok", False) and not v.violations:
        v.violations.append(f"validate() not ok: {rep}")
    v.measured["unreachable"] = float(flat.get("unreachable", 0))
    return v
