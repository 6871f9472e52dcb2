"""One detection pass: a pattern-matching query per account, then global de-duplication.

Each query reads the account's neighbourhood from the engine with a fresh
:class:`~engram.workflows.fraud.reader.Reader` (so its latency includes every round trip it
needs) and runs the multi-hop matchers and the per-account rules. Chains that share transfers
with a ring are dropped (a ring's transfers also form forwarding paths).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from engram.workflows.fraud.account_rules import (
    Rules,
    impossible_travel,
    structuring,
    takeovers,
    velocity_bursts,
)
from engram.workflows.fraud.graph_patterns import Detection, HopRule, chains_from, rings_from
from engram.workflows.fraud.reader import Reader, Txn
from engram.workflows.latency import LatencyLog

KINDS = ("ring", "mule_chain", "velocity_burst", "impossible_travel", "structuring", "account_takeover")


@dataclass
class DetectionPass:
    by_kind: dict[str, set[Detection]] = field(default_factory=lambda: {k: set() for k in KINDS})
    records: dict[int, Txn] = field(default_factory=dict)  # txn id -> record, as read
    latency: LatencyLog = field(default_factory=lambda: LatencyLog("pattern match"))
    errors: list[str] = field(default_factory=list)

    def flagged(self) -> set[int]:
        return {t for found in self.by_kind.values() for d in found for t in d}


DEFAULT_RULES = Rules()
DEFAULT_HOPS = HopRule()


def detect(
    reader: Reader, accounts: Iterable[int], rules: Rules = DEFAULT_RULES, hops: HopRule = DEFAULT_HOPS
) -> DetectionPass:
    """Query every account in ``accounts``; a query that raises is recorded in ``errors``."""
    out = DetectionPass()
    for account in accounts:
        q = reader.fresh()
        try:
            with out.latency.time():
                rings = rings_from(q, account, hops)
                in_rings = frozenset(t for r in rings for t in r)
                chains = chains_from(q, account, hops, exclude=in_rings)
                sent = q.sent(account)
                found = {
                    "ring": rings,
                    "mule_chain": chains,
                    "velocity_burst": velocity_bursts(sent, rules),
                    "impossible_travel": impossible_travel(sent, rules),
                    "structuring": structuring(sent, rules),
                    "account_takeover": takeovers(sent, q.account(account), rules) if sent else [],
                }
        except Exception as exc:  # counted by the workflow's zero-errors check
            out.errors.append(f"account {account}: {type(exc).__name__}: {exc}")
            continue
        for kind, ds in found.items():
            out.by_kind[kind].update(ds)
        out.records.update(q.records())
    ring_txns = {t for r in out.by_kind["ring"] for t in r}
    out.by_kind["mule_chain"] = {c for c in out.by_kind["mule_chain"] if ring_txns.isdisjoint(c)}
    return out
