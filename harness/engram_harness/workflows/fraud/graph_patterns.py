"""Multi-hop pattern matching over the transaction graph, starting from one account.

A hop is a transfer that forwards money received by the previous hop: later, within
``hop_max_delay_s``, at ``hop_amount_ratio`` (90-100 %) of the amount (the laundering signature;
thresholds from :class:`~engram_datasets.fraud.FraudConfig`). From an account:

- rings: forwarding paths that return to the account (3..max_hops transfers), found from the
  ring's first transfer in time;
- mule chains: the longest forwarding path (min_hops..max_hops transfers, distinct accounts)
  starting at one of the account's transfers that nothing forwarded to it.

Every transfer is read from the engine through :class:`~engram_harness.workflows.fraud.reader.Reader`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engram_datasets.fraud import FraudConfig
from engram_harness.workflows.fraud.reader import Reader, Txn

Detection = tuple[int, ...]


@dataclass(frozen=True)
class HopRule:
    """The hop thresholds of a :class:`FraudConfig` (:meth:`of`)."""

    max_hops: int
    min_chain_hops: int
    max_delay_s: int
    ratio: tuple[float, float]

    @classmethod
    def of(cls, cfg: FraudConfig) -> HopRule:
        return cls(cfg.max_pattern_hops, cfg.chain_hops[0], cfg.hop_max_delay_s, cfg.hop_amount_ratio)

    def follows(self, prev: Txn, nxt: Txn) -> bool:
        return (
            prev.ts < nxt.ts <= prev.ts + self.max_delay_s
            and self.ratio[0] <= nxt.amount / prev.amount <= self.ratio[1]
        )


DEFAULT_HOPS = HopRule.of(FraudConfig())


def rings_from(reader: Reader, account: int, rule: HopRule = DEFAULT_HOPS) -> list[Detection]:
    """Money cycles whose first transfer leaves ``account`` (each as txn ids in hop order)."""
    found: dict[frozenset[int], Detection] = {}

    def walk(path: list[Txn], seen: set[int]) -> None:
        last = path[-1]
        for nxt in reader.transfers_out(last.dst):
            if not rule.follows(last, nxt):
                continue
            if nxt.dst == account and len(path) + 1 >= 3:
                cyc = (*(t.txn_id for t in path), nxt.txn_id)
                found.setdefault(frozenset(cyc), cyc)
            elif len(path) + 1 < rule.max_hops and nxt.dst not in seen:
                walk([*path, nxt], seen | {nxt.dst})

    for first in reader.transfers_out(account):
        walk([first], {account, first.dst})
    return sorted(found.values())


def chains_from(
    reader: Reader, account: int, rule: HopRule = DEFAULT_HOPS, exclude: frozenset[int] = frozenset()
) -> list[Detection]:
    """Longest forwarding paths that start at ``account`` (transfers in ``exclude`` ignored)."""
    fed_by = [t for t in reader.transfers_in(account) if t.txn_id not in exclude]
    chains: list[Detection] = []

    def longest(path: list[Txn], seen: set[int]) -> list[Txn]:
        best = path
        if len(path) >= rule.max_hops:
            return best
        for nxt in reader.transfers_out(path[-1].dst):
            if nxt.txn_id in exclude or nxt.dst in seen or not rule.follows(path[-1], nxt):
                continue
            cand = longest([*path, nxt], seen | {nxt.dst})
            if len(cand) > len(best):
                best = cand
        return best

    for first in reader.transfers_out(account):
        if first.txn_id in exclude or any(rule.follows(f, first) for f in fed_by):
            continue
        path = longest([first], {account, first.dst})
        if len(path) >= rule.min_chain_hops:
            chains.append(tuple(t.txn_id for t in path))
    return chains
