"""Split helpers for rating tables."""

from __future__ import annotations

import pandas as pd


def _chronological(ratings: pd.DataFrame) -> pd.DataFrame:
    return ratings.sort_values(["user_id", "timestamp", "item_id"], kind="stable")


def temporal_holdout(
    ratings: pd.DataFrame, n_test: int = 10, *, min_train: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, the last ``n_test`` ratings by time (ties broken by ``item_id``) form the test set.

    Users with fewer than ``n_test + min_train`` ratings stay entirely in train. Both frames keep
    the original index and are sorted by user then time.
    """
    if n_test < 1:
        raise ValueError("n_test must be >= 1")
    ordered = _chronological(ratings)
    size = ordered.groupby("user_id", sort=False)["user_id"].transform("size")
    rank_from_end = ordered.groupby("user_id", sort=False).cumcount(ascending=False)
    is_test = (rank_from_end < n_test) & (size >= n_test + min_train)
    return ordered[~is_test], ordered[is_test]


def head_by_time(ratings: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` earliest ratings (ties broken by user then item), in time order."""
    return ratings.sort_values(["timestamp", "user_id", "item_id"], kind="stable").head(n)
