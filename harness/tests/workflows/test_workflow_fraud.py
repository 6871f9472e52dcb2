"""Fraud detection through the engine on small hand-built transaction graphs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import engram
from engram.client import Client
from engram_harness.server import running_server
from engram_harness.workflows.fraud import signature
from engram_harness.workflows.fraud.account_rules import (
    count_in_window,
    dense_groups,
    impossible_travel,
    structuring,
    takeovers,
)
from engram_harness.workflows.fraud.detect import detect
from engram_harness.workflows.fraud.graph_patterns import chains_from, rings_from
from engram_harness.workflows.fraud.reader import AccountInfo, Reader, Txn
from engram_harness.workflows.fraud.store import DIM, FraudStore

H = 3600


def _txn(i: int, ts: int, src: int, dst: int = -1, kind: str = "transfer", amount: float = 1000.0,
         lat: float = 0.0, lon: float = 0.0, device: int = 1, merchant: int = -1) -> Txn:  # fmt: skip
    return Txn(i, ts, src, dst, merchant, kind, amount, lat, lon, device)


def _row(t: Txn) -> SimpleNamespace:
    return SimpleNamespace(txn_id=t.txn_id, timestamp=t.ts, src_account=t.src, dst_account=t.dst,
                           merchant_id=t.merchant, kind=t.kind, amount=t.amount, lat=t.lat, lon=t.lon,
                           device_id=t.device)  # fmt: skip


@pytest.fixture(params=["inprocess", "server"])
def graph(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Reader, FraudStore]]:
    """A ring 1->2->3->1, a chain 4->5->6->7, and unrelated transfers 8->9 (later, full amount);
    stored in process, or through a real ``engram serve`` (batch links, neighbourhood reads)."""
    txns = [
        _txn(0, 1 * H, 1, 2, amount=5000), _txn(1, 2 * H, 2, 3, amount=4900), _txn(2, 3 * H, 3, 1, amount=4800),
        _txn(3, 1 * H, 4, 5, amount=3000), _txn(4, 2 * H, 5, 6, amount=2950), _txn(5, 3 * H, 6, 7, amount=2900),
        _txn(6, 1 * H, 8, 9, amount=100), _txn(7, 20 * H, 9, 8, amount=100),
    ]  # fmt: skip
    accounts = pd.DataFrame({"account_id": range(1, 10), "home_lat": 0.0, "home_lon": 0.0, "device_id": 1,
                             "second_device_id": -1, "opened_ts": 0})  # fmt: skip
    with contextlib.ExitStack() as stack:
        if request.param == "server":
            url = stack.enter_context(running_server(None, no_auth=True, dim=DIM, log_dir=tmp_path))
            eng = stack.enter_context(Client(url))
        else:
            eng = stack.enter_context(engram.Engine(dim=DIM))
        store = FraudStore(eng.create_space("tx", dim=DIM))
        store.add_accounts(accounts)
        store.add_merchants(pd.DataFrame({"merchant_id": [], "category": [], "lat": [], "lon": []}))
        for t in txns:
            store.add_transaction(_row(t))
        yield Reader(store.space, store.account_node), store


def test_reader_returns_an_accounts_transactions_in_time_order(graph: tuple[Reader, FraudStore]) -> None:
    reader, _ = graph
    assert [t.txn_id for t in reader.transactions(1)] == [0, 2]
    assert [t.txn_id for t in reader.transfers_out(1)] == [0]
    assert [t.txn_id for t in reader.transfers_in(1)] == [2]
    assert reader.transactions(2)[0] == _txn(0, 1 * H, 1, 2, amount=5000)


def test_rings_and_chains_are_matched_over_the_engine_graph(graph: tuple[Reader, FraudStore]) -> None:
    reader, store = graph
    assert rings_from(reader.fresh(), 1) == [(0, 1, 2)]
    assert rings_from(reader.fresh(), 2) == []  # found from its first transfer only
    assert chains_from(reader.fresh(), 4) == [(3, 4, 5)]
    assert chains_from(reader.fresh(), 5) == []  # fed by 4 -> 5: not a chain start
    assert chains_from(reader.fresh(), 8) == []  # 8->9->8 does not forward in time and amount
    found = detect(reader, sorted(store.account_node))
    assert found.by_kind["ring"] == {(0, 1, 2)}
    assert found.by_kind["mule_chain"] == {(3, 4, 5)}  # the ring's transfers are not a chain
    assert found.flagged() == {0, 1, 2, 3, 4, 5}
    assert len(found.latency) == 9 and not found.errors


def test_dense_groups_and_velocity_window() -> None:
    txns = [_txn(i, t, 1, kind="purchase") for i, t in enumerate([0, 10, 20, 30, 1000, 1010])]
    assert dense_groups(txns, 300, 3) == [(0, 1, 2, 3)]
    assert count_in_window(txns, 30, 300) == 4
    assert count_in_window(txns, 1010, 300) == 2


def test_structuring_travel_and_takeover_rules() -> None:
    deposits = [_txn(i, i * H, 1, kind="deposit", amount=a) for i, a in enumerate([9500, 9900, 9100, 5000])]
    assert structuring(deposits) == [(0, 1, 2)]
    trip = [
        _txn(0, 0, 1, kind="purchase", lat=51.5, lon=0.0),
        _txn(1, 600, 1, kind="purchase", lat=40.7, lon=-74.0),
    ]
    assert impossible_travel(trip) == [(0, 1)]
    home = AccountInfo(1, 51.5, 0.0, frozenset({1}))
    far = _txn(2, 0, 1, dst=2, amount=12_000, lat=40.7, lon=-74.0, device=99)
    assert takeovers([far], home) == [(2,)]
    assert takeovers([_txn(3, 0, 1, dst=2, amount=12_000, lat=40.7, lon=-74.0, device=1)], home) == []


def test_signature_completion_names_admissible_kinds() -> None:
    closed = [_txn(0, 0, 1, 2), _txn(1, H, 3, 1, amount=950)]  # money came back to account 1
    open_ = [_txn(0, 0, 1, 2), _txn(1, H, 2, 3, amount=950)]
    assert signature.admissible_kinds("ring", closed) == {"ring"}
    assert signature.admissible_kinds("ring", open_) == {"ring", "mule_chain"}
    assert signature.admissible_kinds("structuring", open_) == {"structuring"}
    full = signature.full(open_, "mule_chain")
    assert signature.predicted_kind(full) == "mule_chain" and signature.predicted_size(full) == pytest.approx(
        2
    )
    vec, mask = signature.cue(open_)
    assert mask.sum() == signature.KNOWN and np.all(vec[signature.KNOWN :] == 0)
