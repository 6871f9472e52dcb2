"""Accounts and merchants."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .geo import CITY_LAT, CITY_LON, CITY_NAMES, CITY_WEIGHT

MERCHANT_CATEGORIES: tuple[str, ...] = (
    "grocery",
    "restaurant",
    "fuel",
    "electronics",
    "clothing",
    "travel",
    "pharmacy",
    "online_retail",
    "entertainment",
    "utilities",
    "jewelry",
    "gift_cards",
)
#: A home location is the city centre plus this Gaussian jitter (degrees, ~5 km).
HOME_JITTER_DEG = 0.05


def make_accounts(rng: np.random.Generator, n_accounts: int, start_ts: int) -> pd.DataFrame:
    """``account_id, home_city, home_lat, home_lon, device_id, second_device_id, opened_ts, activity``.

    ``device_id`` is the primary device; about 15 % of accounts also use ``second_device_id``
    (``-1`` when none). Device ids are unique per account; ``activity`` is the relative rate.
    """
    city = rng.choice(len(CITY_NAMES), size=n_accounts, p=CITY_WEIGHT)
    second = np.where(rng.random(n_accounts) < 0.15, n_accounts + np.arange(n_accounts), -1)
    return pd.DataFrame(
        {
            "account_id": np.arange(n_accounts, dtype=np.int32),
            "home_city": np.array(CITY_NAMES, dtype=object)[city],
            "home_lat": CITY_LAT[city] + rng.normal(0, HOME_JITTER_DEG, n_accounts),
            "home_lon": CITY_LON[city] + rng.normal(0, HOME_JITTER_DEG, n_accounts),
            "device_id": np.arange(n_accounts, dtype=np.int64),
            "second_device_id": second.astype(np.int64),
            "opened_ts": (start_ts - rng.integers(30, 3650, n_accounts) * 86_400).astype(np.int64),
            "activity": rng.lognormal(0.0, 0.8, n_accounts),
            "city_idx": city.astype(np.int16),
        }
    )


def make_merchants(rng: np.random.Generator, n_merchants: int) -> pd.DataFrame:
    """``merchant_id, category, city, lat, lon``; every city has merchants when n >= #cities."""
    n_cities = len(CITY_NAMES)
    city = np.concatenate(
        [
            np.arange(min(n_merchants, n_cities)),
            rng.choice(n_cities, size=max(0, n_merchants - n_cities), p=CITY_WEIGHT),
        ]
    )
    return pd.DataFrame(
        {
            "merchant_id": np.arange(n_merchants, dtype=np.int32),
            "category": np.array(MERCHANT_CATEGORIES, dtype=object)[
                rng.integers(len(MERCHANT_CATEGORIES), size=n_merchants)
            ],
            "city": np.array(CITY_NAMES, dtype=object)[city],
            "lat": CITY_LAT[city] + rng.normal(0, HOME_JITTER_DEG, n_merchants),
            "lon": CITY_LON[city] + rng.normal(0, HOME_JITTER_DEG, n_merchants),
            "city_idx": city.astype(np.int16),
        }
    )
