"""Shared state for injecting patterns: dedicated accounts, fresh devices, quiet windows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .background import TXN_JITTER_DEG
from .config import FraudConfig
from .geo import CITY_LAT, CITY_LON, CITY_NAMES, city_distance_matrix


@dataclass
class PatternDraft:
    """One pattern before transaction ids exist: its rows in pattern order and its accounts."""

    kind: str
    rows: list[dict[str, Any]]
    account_ids: list[int]
    attributes: dict[str, Any] = field(default_factory=dict)


class PatternBuilder:
    """Hands out pattern accounts (each used by one pattern only), devices, places and times."""

    def __init__(
        self, rng: np.random.Generator, cfg: FraudConfig, accounts: pd.DataFrame, merchants: pd.DataFrame
    ):
        self.rng = rng
        self.cfg = cfg
        self.accounts = accounts
        self._pool = list(rng.permutation(len(accounts)))
        self._next_device = int(2 * len(accounts))
        self._merchants_by_city = merchants.groupby("city_idx").indices
        self._n_merchants = len(merchants)
        self._dist = city_distance_matrix()
        self.quiet: dict[int, list[tuple[int, int]]] = {}

    # -- resources -----------------------------------------------------------------------------
    def take_accounts(self, k: int) -> list[int]:
        if k > len(self._pool):
            raise ValueError("not enough accounts for the requested patterns; raise n_accounts")
        out, self._pool = self._pool[:k], self._pool[k:]
        return [int(a) for a in out]

    def new_device(self) -> int:
        self._next_device += 1
        return self._next_device

    def add_quiet(self, account: int, lo: int, hi: int) -> None:
        q = self.cfg.quiet_period_s
        self.quiet.setdefault(account, []).append((lo - q, hi + q))

    # -- places and times ----------------------------------------------------------------------
    def home_city(self, account: int) -> int:
        return int(self.accounts.at[account, "city_idx"])

    def home_point(self, account: int) -> tuple[float, float]:
        lat = float(self.accounts.at[account, "home_lat"]) + self.rng.normal(0, TXN_JITTER_DEG)
        lon = float(self.accounts.at[account, "home_lon"]) + self.rng.normal(0, TXN_JITTER_DEG)
        return lat, lon

    def city_point(self, city: int) -> tuple[float, float]:
        return (
            float(CITY_LAT[city] + self.rng.normal(0, TXN_JITTER_DEG)),
            float(CITY_LON[city] + self.rng.normal(0, TXN_JITTER_DEG)),
        )

    def far_city(self, city: int) -> int:
        """A city at least ``min_jump_km`` (plus a margin) away from ``city``."""
        far = np.flatnonzero(self._dist[city] >= self.cfg.min_jump_km + 200.0)
        return int(self.rng.choice(far))

    def distance_km(self, a: int, b: int) -> float:
        return float(self._dist[a, b])

    def merchant_in(self, city: int) -> int:
        pool = self._merchants_by_city.get(city)
        if pool is None or len(pool) == 0:
            return int(self.rng.integers(self._n_merchants))
        return int(pool[self.rng.integers(len(pool))])

    def start_time(self, span_s: int) -> int:
        """A start such that the whole pattern plus a quiet period fits inside the data window."""
        lo = self.cfg.start_ts + self.cfg.quiet_period_s
        hi = self.cfg.end_ts - self.cfg.quiet_period_s - span_s
        if hi <= lo:
            raise ValueError("the data window is too short for the pattern spans; raise days")
        return int(self.rng.integers(lo, hi))

    # -- rows ----------------------------------------------------------------------------------
    def row(
        self,
        *,
        ts: int,
        src: int,
        kind: str,
        amount: float,
        where: tuple[float, float],
        city: int,
        dst: int = -1,
        merchant: int = -1,
        device: int | None = None,
    ) -> dict[str, Any]:
        return {
            "timestamp": int(ts),
            "src_account": src,
            "dst_account": dst,
            "merchant_id": merchant,
            "kind": kind,
            "amount": round(float(amount), 2),
            "lat": where[0],
            "lon": where[1],
            "city": CITY_NAMES[city],
            "device_id": int(self.accounts.at[src, "device_id"]) if device is None else device,
            "is_fraud": True,
        }
