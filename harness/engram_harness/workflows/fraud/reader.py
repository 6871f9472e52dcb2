"""Read transactions back from the engine: an account's neighbours, then each transaction's record.

Every detector works on what these calls return, never on the generator's frames. A
:class:`Reader` memoises records for the duration of one query (or one detection pass), so a
query's latency includes the engine round trips it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Txn:
    txn_id: int
    ts: int
    src: int
    dst: int
    merchant: int
    kind: str
    amount: float
    lat: float
    lon: float
    device: int

    @classmethod
    def from_metadata(cls, md: dict[str, str]) -> Txn:
        return cls(int(md["txn_id"]), int(md["timestamp"]), int(md["src_account"]), int(md["dst_account"]),
                   int(md["merchant_id"]), md["kind"], float(md["amount"]), float(md["lat"]), float(md["lon"]),
                   int(md["device_id"]))  # fmt: skip


@dataclass(frozen=True)
class AccountInfo:
    account: int
    home_lat: float
    home_lon: float
    devices: frozenset[int]


@dataclass
class Reader:
    space: Any
    account_node: dict[int, int]
    calls: int = 0
    _txns: dict[int, list[Txn]] = field(default_factory=dict)
    _records: dict[int, Txn] = field(default_factory=dict)

    def fresh(self) -> Reader:
        """A reader with an empty memo (one query's view)."""
        return Reader(self.space, self.account_node)

    def transactions(self, account: int) -> list[Txn]:
        """All transactions the account sent or received, by time then id."""
        hit = self._txns.get(account)
        if hit is not None:
            return hit
        out: list[Txn] = []
        self.calls += 1
        node = self.account_node[account]
        if hasattr(self.space, "neighborhood"):  # over HTTP: edges and records in one round trip
            edges, recs = self.space.neighborhood([node])
            for nb in edges[node]:
                rec = self._records.get(nb.id)
                if rec is None:
                    rec = self._records[nb.id] = Txn.from_metadata(recs[nb.id].metadata)
                out.append(rec)
        else:
            for nb in self.space.neighbors(node):
                rec = self._records.get(nb.id)
                if rec is None:
                    self.calls += 1
                    rec = Txn.from_metadata(self.space.get(nb.id).metadata)
                    self._records[nb.id] = rec
                out.append(rec)
        out.sort(key=lambda t: (t.ts, t.txn_id))
        self._txns[account] = out
        return out

    def records(self) -> dict[int, Txn]:
        """Every transaction read so far, by transaction id."""
        return {t.txn_id: t for t in self._records.values()}

    def sent(self, account: int) -> list[Txn]:
        return [t for t in self.transactions(account) if t.src == account]

    def transfers_out(self, account: int) -> list[Txn]:
        return [
            t for t in self.transactions(account) if t.src == account and t.kind == "transfer" and t.dst >= 0
        ]

    def transfers_in(self, account: int) -> list[Txn]:
        return [t for t in self.transactions(account) if t.dst == account and t.kind == "transfer"]

    def account(self, account: int) -> AccountInfo:
        self.calls += 1
        md = self.space.get(self.account_node[account]).metadata
        devices = frozenset(int(md[k]) for k in ("device", "device2") if int(md[k]) >= 0)
        return AccountInfo(account, float(md["home_lat"]), float(md["home_lon"]), devices)
