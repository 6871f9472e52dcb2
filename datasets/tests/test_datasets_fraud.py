from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from engram_datasets.fraud import (
    LABEL_COLUMNS,
    PARTIAL_KINDS,
    PATTERN_KINDS,
    TXN_DTYPES,
    FraudConfig,
    FraudDataset,
    detect_all,
    find_rings,
    find_structuring,
    find_velocity_bursts,
    generate_fraud,
    haversine_km,
)

QUICK = FraudConfig.quick(seed=11)


@pytest.fixture(scope="module")
def quick() -> FraudDataset:
    return generate_fraud(QUICK)


@pytest.fixture(scope="module")
def full() -> FraudDataset:
    return generate_fraud(FraudConfig(seed=5))


def _rows(d: FraudDataset, ids: tuple[int, ...]) -> pd.DataFrame:
    both = pd.concat([d.transactions, d.ground_truth.hidden_transactions]).set_index("txn_id")
    return both.loc[list(ids)]


def test_default_sizes(full: FraudDataset) -> None:
    t = full.transactions
    assert len(t) == 100_000 and len(full.accounts) == 10_000 and len(full.merchants) == 5_000
    assert len(full.ground_truth.patterns) == 50 and len(full.ground_truth.partials) == 20
    assert t["src_account"].nunique() > 9_000 and t["merchant_id"].max() < 5_000


def test_quick_profile_shape_and_schema(quick: FraudDataset) -> None:
    t = quick.transactions
    assert list(t.columns) == list(TXN_DTYPES)
    assert t.dtypes.astype(str).tolist() == [
        np.dtype(v).name if v is not object else "object" for v in TXN_DTYPES.values()
    ]
    assert len(t) == 10_000 and len(quick.accounts) == 1_000 and len(quick.merchants) == 500
    assert t["txn_id"].tolist() == list(range(10_000)) and t["timestamp"].is_monotonic_increasing
    assert Counter(p.kind for p in quick.ground_truth.patterns) == {
        k: (9 if k in PATTERN_KINDS[:2] else 8) for k in PATTERN_KINDS
    }
    assert Counter(p.kind for p in quick.ground_truth.partials) == dict.fromkeys(PARTIAL_KINDS, 5)
    assert set(quick.observed().columns).isdisjoint(LABEL_COLUMNS)
    assert t["lat"].between(-90, 90).all() and t["lon"].between(-180, 180).all()
    is_purchase = t["kind"] == "purchase"
    assert (t.loc[is_purchase, "merchant_id"] >= 0).all() and (
        t.loc[t["kind"] == "transfer", "dst_account"] >= 0
    ).all()


def test_same_seed_same_data() -> None:
    a, b = generate_fraud(QUICK), generate_fraud(QUICK)
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    pd.testing.assert_frame_equal(a.ground_truth.hidden_transactions, b.ground_truth.hidden_transactions)
    assert (
        a.ground_truth.patterns == b.ground_truth.patterns
        and a.ground_truth.partials == b.ground_truth.partials
    )
    c = generate_fraud(QUICK, seed=12)
    assert not a.transactions.equals(c.transactions)


def test_labels_match_ground_truth(quick: FraudDataset) -> None:
    t = quick.transactions.set_index("txn_id")
    gt = quick.ground_truth
    labelled = set(t.index[t["is_fraud"]])
    assert labelled == gt.fraud_txn_ids()
    for p in gt.patterns:
        assert (t.loc[list(p.txn_ids), "pattern_id"] == p.pattern_id).all()
    used = [a for p in (*gt.patterns, *gt.partials) for a in p.account_ids]
    assert len(used) == len(set(used))  # no account in two patterns
    assert (t.loc[t["pattern_id"] < 0, "amount"] < QUICK.background_cap * QUICK.reporting_limit + 0.01).all()


def test_rings_are_cycles(quick: FraudDataset) -> None:
    for p in quick.ground_truth.by_kind("ring"):
        r = _rows(quick, p.txn_ids)
        assert 3 <= len(r) <= 5 and (r["kind"] == "transfer").all()
        src, dst = r["src_account"].tolist(), r["dst_account"].tolist()
        assert dst == src[1:] + src[:1] and src == list(p.account_ids)
        assert r["timestamp"].is_monotonic_increasing


def test_mule_chains_are_paths(quick: FraudDataset) -> None:
    for p in quick.ground_truth.by_kind("mule_chain"):
        r = _rows(quick, p.txn_ids)
        assert 3 <= len(r) <= QUICK.max_pattern_hops
        assert r["dst_account"].tolist()[:-1] == r["src_account"].tolist()[1:]
        assert len(set(p.account_ids)) == len(r) + 1
        assert r["timestamp"].is_monotonic_increasing and r["amount"].is_monotonic_decreasing


def test_bursts_structuring_travel_takeover(quick: FraudDataset) -> None:
    cfg, gt = QUICK, quick.ground_truth
    for p in gt.by_kind("velocity_burst"):
        r = _rows(quick, p.txn_ids)
        assert (
            len(r) >= cfg.velocity_threshold
            and r["timestamp"].max() - r["timestamp"].min() <= cfg.velocity_window_s
        )
        assert r["src_account"].nunique() == 1
    for p in gt.by_kind("structuring"):
        r = _rows(quick, p.txn_ids)
        assert (
            len(r) >= 3
            and r["amount"]
            .between(cfg.structuring_floor * cfg.reporting_limit, cfg.reporting_limit - 0.01)
            .all()
        )
        assert r["timestamp"].max() - r["timestamp"].min() <= cfg.structuring_window_s
    for p in gt.by_kind("impossible_travel"):
        a, b = _rows(quick, p.txn_ids).itertuples()
        km = float(haversine_km(a.lat, a.lon, b.lat, b.lon))
        assert km >= cfg.min_jump_km and km / ((b.timestamp - a.timestamp) / 3600) > cfg.impossible_speed_kmh
    accounts = quick.accounts.set_index("account_id")
    for p in gt.by_kind("account_takeover"):
        (row,) = _rows(quick, p.txn_ids).itertuples()
        home = accounts.loc[row.src_account]
        assert row.device_id not in (home.device_id, home.second_device_id)
        assert (quick.transactions["device_id"] == row.device_id).sum() == 1
        assert haversine_km(home.home_lat, home.home_lon, row.lat, row.lon) >= cfg.min_jump_km
        assert row.amount >= cfg.reporting_limit


@pytest.mark.parametrize("which", ["quick", "full"])
def test_reference_detectors_find_every_pattern_and_nothing_else(
    which: str, request: pytest.FixtureRequest
) -> None:
    d: FraudDataset = request.getfixturevalue(which)
    found = detect_all(d.observed(), d.accounts, d.config)
    fraud = d.ground_truth.fraud_txn_ids()
    for kind in PATTERN_KINDS:
        detections = {frozenset(x) for x in found[kind]}
        for p in d.ground_truth.by_kind(kind):
            assert frozenset(p.txn_ids) in detections, (kind, p)
        false_alarms = [x for x in found[kind] if not set(x) <= fraud]
        assert false_alarms == [], kind


def test_partials_hide_members_and_the_hidden_part_completes_them(quick: FraudDataset) -> None:
    gt = quick.ground_truth
    hidden = gt.hidden_transactions
    assert list(hidden.columns) == list(quick.transactions.columns)
    assert hidden["txn_id"].min() >= len(quick.transactions)
    visible_ids = set(quick.transactions["txn_id"])
    for p in gt.partials:
        assert p.hidden_txn_ids and set(p.hidden_txn_ids).isdisjoint(visible_ids)
        assert set(p.visible_txn_ids) <= visible_ids
        assert sorted(p.visible_txn_ids + p.hidden_txn_ids) == sorted(p.txn_ids)
        assert set(p.visible_account_ids) | set(p.hidden_account_ids) == set(p.account_ids)
        assert (hidden.set_index("txn_id").loc[list(p.hidden_txn_ids), "pattern_id"] == p.pattern_id).all()
        if p.kind in ("ring", "mule_chain"):
            assert p.hidden_account_ids
            hidden_rows = _rows(quick, p.hidden_txn_ids)
            touched = set(hidden_rows["src_account"]) | set(hidden_rows["dst_account"])
            assert set(p.hidden_account_ids) <= touched
    completed = pd.concat([quick.transactions, hidden], ignore_index=True)
    ring_sets = {frozenset(r) for r in find_rings(completed)}
    burst_sets = {frozenset(r) for r in find_velocity_bursts(completed)}
    struct_sets = {frozenset(r) for r in find_structuring(completed)}
    visible_rings = {frozenset(r) for r in find_rings(quick.transactions)}
    for p in gt.partials:
        if p.kind == "ring":
            assert frozenset(p.txn_ids) in ring_sets and frozenset(p.txn_ids) not in visible_rings
        elif p.kind == "velocity_burst":
            assert frozenset(p.txn_ids) in burst_sets
        elif p.kind == "structuring":
            assert frozenset(p.txn_ids) in struct_sets


def test_ground_truth_frame(quick: FraudDataset) -> None:
    f = quick.ground_truth.to_frame()
    assert len(f) == 70 and f["pattern_id"].is_unique and f["partial"].sum() == 20


def test_too_small_sizes_raise() -> None:
    with pytest.raises(ValueError):
        generate_fraud(FraudConfig(n_transactions=100, n_accounts=1_000, n_merchants=100))
    with pytest.raises(ValueError):
        generate_fraud(FraudConfig(n_transactions=10_000, n_accounts=50, n_merchants=100))
