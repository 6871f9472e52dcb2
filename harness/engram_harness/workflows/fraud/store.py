"""Write the fraud data set into one memory space: who paid whom, where, when, how much.

Accounts and merchants are memories; each transaction is an episode (timestamped, its observable
columns in metadata, a small feature vector as embedding). Links: source account -> transaction,
transaction -> destination account or merchant, and destination account -> transaction, so an
account's neighbours are all transactions it took part in, and a transaction's neighbours are
its counterparties. Label columns (``is_fraud``, ``pattern_id``) are never written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

DIM = 16
KINDS = ("purchase", "transfer", "deposit")
TXN_FIELDS = ("txn_id", "timestamp", "src_account", "dst_account", "merchant_id", "kind", "amount",
              "lat", "lon", "device_id")  # fmt: skip


def _unit(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    n = float(np.linalg.norm(v))
    return (v / n if n > 0 else v).astype(np.float32)


def txn_vector(kind: str, amount: float, ts: float, lat: float, lon: float) -> npt.NDArray[np.float32]:
    """Kind, log amount, time of day and place as a unit vector (similar transactions are close)."""
    v = np.zeros(DIM)
    v[KINDS.index(kind)] = 1.0
    v[3] = math.log10(max(amount, 1.0)) / 5.0
    day = 2 * math.pi * (ts % 86_400) / 86_400
    v[4], v[5] = 0.3 * math.sin(day), 0.3 * math.cos(day)
    la, lo = math.radians(lat), math.radians(lon)
    v[6:9] = 0.5 * np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])
    v[9] = 0.1  # keeps every vector non-zero
    return _unit(v)


def place_vector(lat: float, lon: float, salt: int) -> npt.NDArray[np.float32]:
    la, lo = math.radians(lat), math.radians(lon)
    v = np.zeros(DIM)
    v[6:9] = [math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)]
    v[10 + salt % 6] = 0.2
    return _unit(v)


@dataclass
class FraudStore:
    space: Any
    account_node: dict[int, int] = field(default_factory=dict)
    merchant_node: dict[int, int] = field(default_factory=dict)
    txn_node: dict[int, int] = field(default_factory=dict)

    def add_accounts(self, accounts: Any) -> None:
        for a in accounts.itertuples(index=False):
            meta = {"account": str(a.account_id), "home_lat": repr(float(a.home_lat)),
                    "home_lon": repr(float(a.home_lon)), "device": str(a.device_id),
                    "device2": str(a.second_device_id)}  # fmt: skip
            vec = place_vector(float(a.home_lat), float(a.home_lon), int(a.account_id))
            self.account_node[int(a.account_id)] = int(self.space.remember(vec, content=f"account {a.account_id}",
                                                                          timestamp=float(a.opened_ts), metadata=meta))  # fmt: skip

    def add_merchants(self, merchants: Any) -> None:
        for m in merchants.itertuples(index=False):
            vec = place_vector(float(m.lat), float(m.lon), int(m.merchant_id) + 3)
            meta = {"merchant": str(m.merchant_id), "category": str(m.category)}
            self.merchant_node[int(m.merchant_id)] = int(self.space.remember(vec, content=f"merchant {m.merchant_id}", metadata=meta))  # fmt: skip

    def add_transaction(self, t: Any) -> int:
        """Store one transaction row (observable columns only) and link it; returns its id."""
        meta = {f: (repr(float(getattr(t, f))) if f in ("amount", "lat", "lon") else str(getattr(t, f)))
                for f in TXN_FIELDS}  # fmt: skip
        vec = txn_vector(str(t.kind), float(t.amount), float(t.timestamp), float(t.lat), float(t.lon))
        tid = int(
            self.space.remember(
                vec, content=f"{t.kind} {t.amount:.2f}", timestamp=float(t.timestamp), metadata=meta
            )
        )
        edges = [(self.account_node[int(t.src_account)], tid)]
        if int(t.dst_account) >= 0:
            dst = self.account_node[int(t.dst_account)]
            edges += [(tid, dst), (dst, tid)]
        if int(t.merchant_id) >= 0:
            edges.append((tid, self.merchant_node[int(t.merchant_id)]))
        if hasattr(self.space, "link_batch"):  # over HTTP: one request for the transaction's edges
            self.space.link_batch([{"src": a, "dst": b, "weight": 1.0} for a, b in edges])
        else:
            for a, b in edges:
                self.space.link(a, b, 1.0)
        self.txn_node[int(t.txn_id)] = tid
        return tid
