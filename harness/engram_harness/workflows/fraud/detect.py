"""One detection pass: a pattern-matching query per account, then global de-duplication.

Each query reads the account's neighbourhood from the engine with a fresh
:class:`~engram_harness.workflows.fraud.reader.Reader` (so its latency includes every round trip it
needs) and runs the multi-hop matchers and the per-account rules. Chains that share transfers
with a ring are dropped (a ring's transfers also form forwarding paths).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from engram_datasets.fraud import PATTERN_KINDS, FraudConfig
from engram_harness.workflows.fraud.account_rules import (
    impossible_travel,
    structuring,
    takeovers,
    velocity_bursts,
)
from engram_harness.workflows.fraud.graph_patterns import Detection, HopRule, chains_from, rings_from
from engram_harness.workflows.fraud.reader import Reader, Txn
from engram_harness.workflows.latency import LatencyLog

KINDS = PATTERN_KINDS


@dataclass
class DetectionPass:
    by_kind: dict[str, set[Detection]] = field(default_factory=lambda: {k: set() for k in KINDS})
    records: dict[int, Txn] = field(default_factory=dict)  # txn id -> record, as read
    latency: LatencyLog = field(default_factory=lambda: LatencyLog("pattern match"))
    errors: list[str] = field(default_factory=list)

    def flagged(self) -> set[int]:
        return {t for found in self.by_kind.values() for d in found for t in d}


def detect(reader: Reader, accounts: Iterable[int], cfg: FraudConfig | None = None) -> DetectionPass:
    """Query every account in ``accounts`` with ``cfg``'s thresholds; a query that raises is
    recorded in ``errors``."""
    cfg = cfg or FraudConfig()
    rules, hops = cfg, HopRule.of(cfg)
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
