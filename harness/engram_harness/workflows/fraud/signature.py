"""Pattern signatures: what a (possibly partial) fraud pattern looks like, as a vector to complete.

Dimensions 0-9 are observable from any fragment of a pattern (its transactions' kinds, count,
time span, amounts, how money moves between the accounts involved); dimensions 10-15 describe
the whole pattern (its kind, its full size, whether the money comes back to where it started).
The library holds the signatures of the complete patterns the detectors found, with their
detector's kind; a partial pattern's signature has only the observable part, and the engine's
pattern completion (``space.complete``) fills in the rest from the nearest library patterns.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from engram_datasets.fraud import PARTIAL_KINDS, FraudConfig
from engram_harness.workflows.fraud.reader import Txn

DIM = 16
KNOWN = 10
COMPLETABLE_KINDS = PARTIAL_KINDS  # the kinds the data set hides members of
LIMIT = FraudConfig().reporting_limit


def observable(txns: Sequence[Txn], limit: float = LIMIT) -> npt.NDArray[np.float32]:
    """Dimensions 0-9 from the transactions of a pattern or fragment (any order)."""
    ts = sorted(txns, key=lambda t: (t.ts, t.txn_id))
    n = len(ts)
    v = np.zeros(KNOWN)
    for t in ts:
        v[("transfer", "purchase", "deposit").index(t.kind)] += 1.0 / n
    v[3] = min(n, 20) / 10.0
    v[4] = math.log10(ts[-1].ts - ts[0].ts + 1) / 6.0
    v[5] = min(float(np.mean([t.amount for t in ts])) / limit, 2.0)
    transfers = [t for t in ts if t.kind == "transfer"]
    if len(transfers) >= 2:
        ratios = [b.amount / a.amount for a, b in itertools.pairwise(transfers)]
        v[6] = float(np.clip(np.mean(ratios), 0.0, 1.5))
        origin = transfers[0].src
        v[7] = 2.0 if any(t.dst == origin for t in transfers[1:]) else 0.0  # money came back
    accounts = {t.src for t in ts} | {t.dst for t in ts if t.dst >= 0}
    v[8] = min(len(accounts), 20) / 10.0
    v[9] = sum(0.9 * limit <= t.amount < limit for t in ts) / n
    return v.astype(np.float32)


def full(txns: Sequence[Txn], kind: str) -> npt.NDArray[np.float32]:
    """The whole signature of a complete pattern of ``kind``."""
    v = np.zeros(DIM, dtype=np.float32)
    v[:KNOWN] = observable(txns)
    v[KNOWN + COMPLETABLE_KINDS.index(kind)] = 1.0
    v[14] = min(len(txns), 20) / 10.0
    v[15] = 1.0 if kind == "ring" else 0.0
    return v


def cue(txns: Sequence[Txn]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """(partial vector, mask) for a fragment: observable dimensions known, the rest unknown."""
    v = np.zeros(DIM, dtype=np.float32)
    v[:KNOWN] = observable(txns)
    mask = np.zeros(DIM, dtype=bool)
    mask[:KNOWN] = True
    return v, mask


def predicted_kind(vector: npt.ArrayLike) -> str:
    v = np.asarray(vector)
    return COMPLETABLE_KINDS[int(np.argmax(v[KNOWN : KNOWN + len(COMPLETABLE_KINDS)]))]


def predicted_size(vector: npt.ArrayLike) -> float:
    return float(np.asarray(vector)[14]) * 10.0


def admissible_kinds(kind: str, fragment: Sequence[Txn]) -> frozenset[str]:
    """The kinds a correct completion of ``fragment`` (a partial pattern of ``kind``) may name.

    A ring fragment that does not show money coming back to an account of the fragment (the
    ring's first or its closing transfer is the hidden one) is a forwarding path indistinguishable
    from the start of a mule chain (same amount ratios and delays by construction), so either
    kind is correct for it. Every other fragment has exactly one correct kind.
    """
    if kind == "ring" and observable(fragment)[7] == 0.0:
        return frozenset({"ring", "mule_chain"})
    return frozenset({kind})
