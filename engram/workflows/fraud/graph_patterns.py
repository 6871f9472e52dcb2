"""Multi-hop pattern matching over the transaction graph, starting from one account.

A hop is a transfer that forwards money received by the previous hop: later, within
``max_delay_s``, at 90-100 % of the amount (the laundering signature). From an account:

- rings: forwarding paths that return to the account (3..max_hops transfers), found from the
  ring's first transfer in time;
- mule chains: the longest forwarding path (min_hops..max_hops transfers, distinct accounts)
  starting at one of the account's transfers that nothing forwarded to it.

Every transfer is read from the engine through :class:`~engram.workflows.fraud.reader.Reader`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engram.workflows.fraud.reader import Reader, Txn

Detection = tuple[int, ...]


@dataclass(frozen=True)
class HopRule:
    max_hops: int = 5
    min_chain_hops: int = 3
    max_delay_s: int = 6 * 3600
    ratio: tuple[float, float] = (0.9, 1.0)

    def follows(self, prev: Txn, nxt: Txn) -> bool:
        return (
            prev.ts < nxt.ts <= prev.ts + self.max_delay_s
            and self.ratio[0] <= nxt.amount / prev.amount <= self.ratio[1]
        )


def rings_from(reader: Reader, account: int, rule: HopRule = HopRule()) -> list[Detection]:
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
    reader: Reader, account: int, rule: HopRule = HopRule(), exclude: frozenset[int] = frozenset()
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


def forwarding_paths_from(
    reader: Reader, account: int, rule: HopRule = HopRule(), min_hops: int = 2
) -> list[Detection]:
    """Like :func:`chains_from` with a lower minimum: fragments of chains for completion."""
    return chains_from(reader, account, HopRule(rule.max_hops, min_hops, rule.max_delay_s, rule.ratio))
