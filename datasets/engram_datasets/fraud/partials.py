"""Partial patterns: a full pattern with some members withheld from the transaction table.

What is hidden, per kind (the visible rest stays in the data, labelled with its pattern id):

- ``ring`` (4-5 members): one member other than the first; both transfers touching it.
- ``mule_chain`` (4-5 hops): the last 1-2 hops and the accounts they reach.
- ``velocity_burst`` (10-15 purchases): the last 40 % of the purchases.
- ``structuring`` (4-6 deposits): the last 1-2 deposits.
"""

from __future__ import annotations

import math

from .builder import PatternBuilder, PatternDraft
from .patterns import mule_chain, ring, structuring, velocity_burst


def make_partial(b: PatternBuilder, kind: str) -> tuple[PatternDraft, list[int], list[int]]:
    """``(draft, hidden row positions in draft.rows, hidden account ids)``."""
    rng = b.rng
    if kind == "ring":
        d = ring(b, size=int(rng.integers(4, 6)))
        j = int(rng.integers(1, len(d.account_ids)))
        return d, [j - 1, j], [d.account_ids[j]]
    if kind == "mule_chain":
        d = mule_chain(b, hops=int(rng.integers(4, min(5, b.cfg.max_pattern_hops) + 1)))
        h = int(rng.integers(1, 3))
        n = len(d.rows)
        return d, list(range(n - h, n)), d.account_ids[-h:]
    if kind == "velocity_burst":
        d = velocity_burst(b, size=int(rng.integers(10, 16)))
        n = len(d.rows)
        h = math.ceil(0.4 * n)
        return d, list(range(n - h, n)), []
    if kind == "structuring":
        d = structuring(b, count=int(rng.integers(4, 7)))
        n = len(d.rows)
        h = int(rng.integers(1, 3))
        return d, list(range(n - h, n)), []
    raise ValueError(f"no partial form for pattern kind {kind!r}")
