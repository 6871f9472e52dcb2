"""Per-account rules over the transactions the account sent (read from the engine), with the
thresholds of :class:`~engram_datasets.fraud.FraudConfig` (defined there once):

- velocity: at least ``velocity_threshold`` transactions inside ``velocity_window_s`` (5 minutes);
- structuring: at least ``structuring_count[0]`` amounts in [floor * limit, limit) within
  ``structuring_window_s``;
- impossible travel: consecutive transactions farther apart than ``detect_min_km`` at above
  ``impossible_speed_kmh``;
- account takeover: an unregistered device, far from home, for at least the reporting limit.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from engram_datasets.fraud import FraudConfig, haversine_km
from engram_harness.workflows.fraud.reader import AccountInfo, Txn

Detection = tuple[int, ...]
DEFAULT = FraudConfig()


def count_in_window(txns: Sequence[Txn], end_ts: int, window_s: int) -> int:
    """Transactions with ``end_ts - window_s < ts <= end_ts`` (the velocity check)."""
    return sum(end_ts - window_s < t.ts <= end_ts for t in txns)


def dense_groups(txns: Sequence[Txn], window_s: int, min_count: int) -> list[Detection]:
    """Maximal runs of time-ordered transactions covered by windows holding >= ``min_count``."""
    ts = [t.ts for t in txns]
    covered = [False] * len(txns)
    left = 0
    for i in range(len(txns)):
        while ts[i] - ts[left] > window_s:
            left += 1
        if i - left + 1 >= min_count:
            for j in range(left, i + 1):
                covered[j] = True
    groups: list[Detection] = []
    run: list[int] = []
    for t, c in zip(txns, covered, strict=True):
        if c:
            run.append(t.txn_id)
        elif run:
            groups.append(tuple(run))
            run = []
    if run:
        groups.append(tuple(run))
    return groups


def velocity_bursts(sent: Sequence[Txn], cfg: FraudConfig = DEFAULT) -> list[Detection]:
    return dense_groups(sent, cfg.velocity_window_s, cfg.velocity_threshold)


def structuring(
    sent: Sequence[Txn], cfg: FraudConfig = DEFAULT, min_count: int | None = None
) -> list[Detection]:
    limit = cfg.reporting_limit
    band = [t for t in sent if cfg.structuring_floor * limit <= t.amount < limit]
    return dense_groups(
        band, cfg.structuring_window_s, cfg.structuring_count[0] if min_count is None else min_count
    )


def impossible_travel(sent: Sequence[Txn], cfg: FraudConfig = DEFAULT) -> list[Detection]:
    out: list[Detection] = []
    for a, b in itertools.pairwise(sent):
        km = float(haversine_km(a.lat, a.lon, b.lat, b.lon))
        hours = max(b.ts - a.ts, 1) / 3600.0
        if km > cfg.detect_min_km and km / hours > cfg.impossible_speed_kmh:
            out.append((a.txn_id, b.txn_id))
    return out


def takeovers(sent: Sequence[Txn], info: AccountInfo, cfg: FraudConfig = DEFAULT) -> list[Detection]:
    return [
        (t.txn_id,)
        for t in sent
        if t.device not in info.devices
        and float(haversine_km(info.home_lat, info.home_lon, t.lat, t.lon)) > cfg.detect_min_km
        and t.amount >= cfg.reporting_limit
    ]
