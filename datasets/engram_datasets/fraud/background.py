"""Legitimate background activity."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import FraudConfig
from .geo import CITY_NAMES

#: Share of each hour of the day in background activity (quiet nights, busy afternoons).
_HOURLY = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 4, 4.5, 5, 5.5, 5, 4.8, 4.6, 4.8, 5.2, 5.5, 5, 4, 3, 2, 1.4]
)
#: Purchases jitter around the home location by this much (degrees, ~2 km).
TXN_JITTER_DEG = 0.02


def _timestamps(rng: np.random.Generator, cfg: FraudConfig, n: int) -> np.ndarray:
    day = rng.integers(0, cfg.days, n)
    hour = rng.choice(24, size=n, p=_HOURLY / _HOURLY.sum())
    return cfg.start_ts + day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, n)


def background_transactions(
    rng: np.random.Generator, cfg: FraudConfig, accounts: pd.DataFrame, merchants: pd.DataFrame, n: int
) -> pd.DataFrame:
    """``n`` legitimate transactions (no ``txn_id`` yet; labels ``is_fraud=False``, ``pattern_id=-1``).

    Actors are drawn by each account's ``activity``; purchases go to merchants of the actor's
    home city, transfers to other accounts, deposits are cash-ins. Everything happens at home
    with the account's own devices, and amounts stay below ``background_cap * reporting_limit``,
    so no background transaction falls in the structuring band.
    """
    p = accounts["activity"].to_numpy() / accounts["activity"].sum()
    src = rng.choice(len(accounts), size=n, p=p)
    kind = rng.choice(
        np.array(["purchase", "transfer", "deposit"], dtype=object), size=n, p=[0.75, 0.15, 0.10]
    )
    city = accounts["city_idx"].to_numpy()[src]

    by_city = merchants.groupby("city_idx").indices
    all_m = np.arange(len(merchants))
    merchant = np.full(n, -1, dtype=np.int64)
    is_purchase = kind == "purchase"
    for c in np.unique(city[is_purchase]):
        rows = np.flatnonzero(is_purchase & (city == c))
        pool = by_city.get(c, all_m)
        merchant[rows] = pool[rng.integers(0, len(pool), rows.size)]

    dst = np.full(n, -1, dtype=np.int64)
    is_transfer = kind == "transfer"
    dst_draw = rng.choice(len(accounts), size=int(is_transfer.sum()), p=p)
    clash = dst_draw == src[is_transfer]
    dst_draw[clash] = (dst_draw[clash] + 1) % len(accounts)
    dst[is_transfer] = dst_draw

    cap = cfg.background_cap * cfg.reporting_limit
    amount = np.where(
        is_purchase,
        np.clip(rng.lognormal(3.4, 1.0, n), 1.0, 3_000.0),
        np.where(
            is_transfer,
            np.clip(rng.lognormal(5.0, 1.1, n), 5.0, cap),
            np.clip(rng.lognormal(6.3, 0.9, n), 20.0, cap),
        ),
    )
    second = accounts["second_device_id"].to_numpy()[src]
    device = np.where((second >= 0) & (rng.random(n) < 0.3), second, accounts["device_id"].to_numpy()[src])
    return pd.DataFrame(
        {
            "timestamp": _timestamps(rng, cfg, n),
            "src_account": src,
            "dst_account": dst,
            "merchant_id": merchant,
            "kind": kind,
            "amount": np.round(amount, 2),
            "lat": accounts["home_lat"].to_numpy()[src] + rng.normal(0, TXN_JITTER_DEG, n),
            "lon": accounts["home_lon"].to_numpy()[src] + rng.normal(0, TXN_JITTER_DEG, n),
            "city": np.array(CITY_NAMES, dtype=object)[city],
            "device_id": device,
            "is_fraud": np.zeros(n, dtype=bool),
            "pattern_id": np.full(n, -1),
        }
    )


def enforce_quiet_periods(
    rng: np.random.Generator, cfg: FraudConfig, bg: pd.DataFrame, quiet: dict[int, list[tuple[int, int]]]
) -> None:
    """Move (in place) every background transaction an account makes inside one of its quiet windows."""
    if not quiet:
        return
    src = bg["src_account"].to_numpy()
    ts = bg["timestamp"].to_numpy().copy()
    for row in np.flatnonzero(np.isin(src, list(quiet))):
        windows = quiet[int(src[row])]
        for _ in range(1000):
            if not any(lo <= ts[row] <= hi for lo, hi in windows):
                break
            ts[row] = int(rng.integers(cfg.start_ts, cfg.end_ts))
    bg["timestamp"] = ts
