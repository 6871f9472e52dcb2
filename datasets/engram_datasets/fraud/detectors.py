"""Reference (oracle) detectors that prove each injected pattern is visible in the data.

They look only at observable columns (never ``is_fraud``/``pattern_id``) and the accounts
table (home location and registered devices). They are deliberately simple rule-based
detectors with the thresholds of :class:`FraudConfig`; the tests use them to check that every
injected pattern is found exactly and that background activity triggers none of them. They are
also a baseline to compare the engine's pattern matching with.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import FraudConfig
from .geo import haversine_km

Detection = tuple[int, ...]


def _sorted_by_account(tx: pd.DataFrame) -> pd.DataFrame:
    return tx.sort_values(["src_account", "timestamp", "txn_id"], kind="stable")


def _dense_groups(tx: pd.DataFrame, window_s: int, min_count: int) -> list[Detection]:
    """Maximal runs of an account's transactions where some ``window_s`` window holds >= ``min_count``."""
    if tx.empty:
        return []
    s = _sorted_by_account(tx)
    acc = s["src_account"].to_numpy(np.int64)
    ts = s["timestamp"].to_numpy(np.int64)
    ids = s["txn_id"].to_numpy(np.int64)
    key = acc * (1 << 40) + ts
    left = np.searchsorted(key, key - window_s, side="left")
    count = np.arange(len(key)) - left + 1
    covered = np.zeros(len(key) + 1, dtype=np.int64)
    for i in np.flatnonzero(count >= min_count):
        covered[left[i]] += 1
        covered[i + 1] -= 1
    mask = np.cumsum(covered)[:-1] > 0
    groups: list[Detection] = []
    run: list[int] = []
    for i in range(len(key)):
        if mask[i] and run and acc[i] == acc[run[-1]] and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            groups.append(tuple(int(ids[j]) for j in run))
        run = [i] if mask[i] else []
    if run:
        groups.append(tuple(int(ids[j]) for j in run))
    return groups


_CFG = FraudConfig()  # defaults of the keyword arguments below: the thresholds are defined once there


def find_velocity_bursts(
    tx: pd.DataFrame, *, window_s: int = _CFG.velocity_window_s, threshold: int = _CFG.velocity_threshold
) -> list[Detection]:
    """Groups of one account's transactions with >= ``threshold`` inside ``window_s`` seconds."""
    return _dense_groups(tx, window_s, threshold)


def find_structuring(
    tx: pd.DataFrame,
    *,
    limit: float = _CFG.reporting_limit,
    floor: float = _CFG.structuring_floor,
    window_s: int = _CFG.structuring_window_s,
    min_count: int = _CFG.structuring_count[0],
) -> list[Detection]:
    """Groups of >= ``min_count`` amounts in ``[floor * limit, limit)`` by one account within ``window_s``."""
    band = tx[(tx["amount"] >= floor * limit) & (tx["amount"] < limit)]
    return _dense_groups(band, window_s, min_count)


def find_impossible_travel(
    tx: pd.DataFrame, *, speed_kmh: float = _CFG.impossible_speed_kmh, min_km: float = _CFG.detect_min_km
) -> list[Detection]:
    """Consecutive transactions of one account farther apart than ``min_km`` at above ``speed_kmh``."""
    s = _sorted_by_account(tx)
    acc = s["src_account"].to_numpy()
    same = acc[1:] == acc[:-1]
    lat, lon = s["lat"].to_numpy(), s["lon"].to_numpy()
    dist = haversine_km(lat[:-1], lon[:-1], lat[1:], lon[1:])
    dt_h = np.maximum(np.diff(s["timestamp"].to_numpy()), 1) / 3600.0
    hit = np.flatnonzero(same & (dist > min_km) & (dist / dt_h > speed_kmh))
    ids = s["txn_id"].to_numpy()
    return [(int(ids[i]), int(ids[i + 1])) for i in hit]


def find_account_takeovers(
    tx: pd.DataFrame,
    accounts: pd.DataFrame,
    *,
    min_km: float = _CFG.detect_min_km,
    min_amount: float = _CFG.reporting_limit,
) -> list[Detection]:
    """Transactions from an unregistered device, far from home, for at least ``min_amount``."""
    a = accounts.set_index("account_id")
    src = tx["src_account"].to_numpy()
    known = (tx["device_id"].to_numpy() == a.loc[src, "device_id"].to_numpy()) | (
        tx["device_id"].to_numpy() == a.loc[src, "second_device_id"].to_numpy()
    )
    dist = haversine_km(
        a.loc[src, "home_lat"].to_numpy(),
        a.loc[src, "home_lon"].to_numpy(),
        tx["lat"].to_numpy(),
        tx["lon"].to_numpy(),
    )
    hit = ~known & (dist > min_km) & (tx["amount"].to_numpy() >= min_amount)
    return [(int(t),) for t in tx["txn_id"].to_numpy()[hit]]


@dataclass(frozen=True)
class _Edge:
    txn: int
    src: int
    dst: int
    ts: int
    amount: float


def _transfer_edges(
    tx: pd.DataFrame, exclude: set[int] = frozenset()
) -> tuple[list[_Edge], dict[int, list[_Edge]]]:
    t = tx[(tx["kind"] == "transfer") & (tx["dst_account"] >= 0)].sort_values(
        ["timestamp", "txn_id"], kind="stable"
    )
    edges = [
        _Edge(int(i), int(s), int(d), int(ts), float(a))
        for i, s, d, ts, a in zip(
            t["txn_id"], t["src_account"], t["dst_account"], t["timestamp"], t["amount"], strict=True
        )
        if int(i) not in exclude
    ]
    out: dict[int, list[_Edge]] = defaultdict(list)
    for e in edges:
        out[e.src].append(e)
    return edges, out


def _follows(prev: _Edge, nxt: _Edge, max_delay_s: int, ratio: tuple[float, float]) -> bool:
    return prev.ts < nxt.ts <= prev.ts + max_delay_s and ratio[0] <= nxt.amount / prev.amount <= ratio[1]


def find_rings(
    tx: pd.DataFrame,
    *,
    max_len: int = _CFG.max_pattern_hops,
    max_delay_s: int = _CFG.hop_max_delay_s,
    ratio: tuple[float, float] = _CFG.hop_amount_ratio,
) -> list[Detection]:
    """Time-respecting money cycles A->B->...->A (3..``max_len`` accounts), each hop forwarding
    90-100 % of the previous amount within ``max_delay_s``. Returned in hop order, deduplicated."""
    edges, out = _transfer_edges(tx)
    found: dict[frozenset[int], Detection] = {}

    def walk(path: list[_Edge], seen: set[int]) -> None:
        last = path[-1]
        for nxt in out.get(last.dst, ()):
            if not _follows(last, nxt, max_delay_s, ratio):
                continue
            if nxt.dst == path[0].src and len(path) + 1 >= 3:
                cyc = (*(e.txn for e in path), nxt.txn)
                found.setdefault(frozenset(cyc), cyc)
            elif len(path) + 1 < max_len and nxt.dst not in seen:
                walk([*path, nxt], seen | {nxt.dst})

    for e in edges:
        walk([e], {e.src, e.dst})
    return sorted(found.values())


def find_mule_chains(
    tx: pd.DataFrame,
    *,
    min_hops: int = _CFG.chain_hops[0],
    max_hops: int = _CFG.max_pattern_hops,
    max_delay_s: int = _CFG.hop_max_delay_s,
    ratio: tuple[float, float] = _CFG.hop_amount_ratio,
    exclude: set[int] = frozenset(),
) -> list[Detection]:
    """Longest forwarding paths over distinct accounts (``min_hops``..``max_hops`` transfers),
    each hop at 90-100 % of the amount received within ``max_delay_s``; paths start at a
    transfer no qualifying transfer feeds. Transfers in ``exclude`` (e.g. rings) are ignored."""
    edges, out = _transfer_edges(tx, set(exclude))
    fed = set()
    for e in edges:
        for nxt in out.get(e.dst, ()):
            if _follows(e, nxt, max_delay_s, ratio):
                fed.add(nxt.txn)

    def longest(path: list[_Edge], seen: set[int]) -> list[_Edge]:
        best = path
        if len(path) >= max_hops:
            return best
        for nxt in out.get(path[-1].dst, ()):
            if _follows(path[-1], nxt, max_delay_s, ratio) and nxt.dst not in seen:
                cand = longest([*path, nxt], seen | {nxt.dst})
                if len(cand) > len(best):
                    best = cand
        return best

    chains = []
    for e in edges:
        if e.txn in fed:
            continue
        p = longest([e], {e.src, e.dst})
        if len(p) >= min_hops:
            chains.append(tuple(x.txn for x in p))
    return chains


def detect_all(
    tx: pd.DataFrame, accounts: pd.DataFrame, cfg: FraudConfig | None = None
) -> dict[str, list[Detection]]:
    """Every reference detector, keyed by pattern kind, with ``cfg``'s thresholds."""
    cfg = cfg or FraudConfig()
    hop = {"max_delay_s": cfg.hop_max_delay_s, "ratio": cfg.hop_amount_ratio}
    rings = find_rings(tx, max_len=cfg.max_pattern_hops, **hop)
    in_rings = {t for r in rings for t in r}
    return {
        "ring": rings,
        "mule_chain": find_mule_chains(
            tx, min_hops=cfg.chain_hops[0], max_hops=cfg.max_pattern_hops, exclude=in_rings, **hop
        ),
        "velocity_burst": find_velocity_bursts(
            tx, window_s=cfg.velocity_window_s, threshold=cfg.velocity_threshold
        ),
        "impossible_travel": find_impossible_travel(
            tx, speed_kmh=cfg.impossible_speed_kmh, min_km=cfg.detect_min_km
        ),
        "structuring": find_structuring(
            tx,
            limit=cfg.reporting_limit,
            floor=cfg.structuring_floor,
            window_s=cfg.structuring_window_s,
            min_count=cfg.structuring_count[0],
        ),
        "account_takeover": find_account_takeovers(
            tx, accounts, min_km=cfg.detect_min_km, min_amount=cfg.reporting_limit
        ),
    }
