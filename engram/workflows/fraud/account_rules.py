"""Per-account rules over the transactions the account sent (read from the engine).

- velocity: at least ``threshold`` transactions inside a ``window_s`` window (5 minutes);
- structuring: at least ``min_count`` amounts in [floor * limit, limit) within ``window_s``;
- impossible travel: consecutive transactions farther apart than ``min_km`` at above
  ``speed_kmh``;
- account takeover: an unregistered device, far from home, for at least the reporting limit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from engram.workflows.fraud.reader import AccountInfo, Txn

Detection = tuple[int, ...]
EARTH_RADIUS_KM = 6371.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Rules:
    velocity_window_s: int = 300
    velocity_threshold: int = 6
    limit: float = 10_000.0
    structuring_floor: float = 0.90
    structuring_window_s: int = 72 * 3600
    structuring_min: int = 3
    speed_kmh: float = 900.0
    travel_min_km: float = 500.0


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


def velocity_bursts(sent: Sequence[Txn], r: Rules = Rules()) -> list[Detection]:
    return dense_groups(sent, r.velocity_window_s, r.velocity_threshold)


def structuring(sent: Sequence[Txn], r: Rules = Rules(), min_count: int | None = None) -> list[Detection]:
    band = [t for t in sent if r.structuring_floor * r.limit <= t.amount < r.limit]
    return dense_groups(band, r.structuring_window_s, r.structuring_min if min_count is None else min_count)


def impossible_travel(sent: Sequence[Txn], r: Rules = Rules()) -> list[Detection]:
    out: list[Detection] = []
    for a, b in itertools.pairwise(sent):
        km = haversine_km(a.lat, a.lon, b.lat, b.lon)
        hours = max(b.ts - a.ts, 1) / 3600.0
        if km > r.travel_min_km and km / hours > r.speed_kmh:
            out.append((a.txn_id, b.txn_id))
    return out


def takeovers(sent: Sequence[Txn], info: AccountInfo, r: Rules = Rules()) -> list[Detection]:
    return [
        (t.txn_id,)
        for t in sent
        if t.device not in info.devices
        and haversine_km(info.home_lat, info.home_lon, t.lat, t.lon) > r.travel_min_km
        and t.amount >= r.limit
    ]
