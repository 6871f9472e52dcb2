"""Measures of a rating set's structure: what the generator is calibrated to match in ``ml-100k``.

Each takes a :class:`~engram_datasets.movielens.schema.MovieLens` and returns numbers that do not
depend on ids or titles, so the real files and generated data compare directly:

- :func:`genre_concentration`: how much users favour genres;
- :func:`co_rating_spectrum`: who rates what together beyond popularity (the leading singular
  values of the degree-normalised user x item matrix; popularity alone gives one value of 1 and
  a bulk of noise near 0.2);
- :func:`consecutive_lift`: whether a user's neighbouring ratings in time are of similar films;
- :func:`popularity_by_position`: whether users rate well-known films first;
- :func:`session_profile`: how users spread their ratings over time.

Reference values of the real set (``REAL``) are measured by ``test_real_structure_constants``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from .schema import MovieLens

#: A gap longer than this between two ratings of one user starts a new session.
SESSION_GAP_S = 3600


@dataclass(frozen=True)
class SessionProfile:
    single_session_users: float  # share of users with one session
    first_session_share: float  # share of all ratings in their user's first session
    ratings_per_timestamp: float  # mean ratings a user submits with one timestamp
    tied_neighbours: float  # share of a user's consecutive ratings with equal timestamps
    median_gap_s: float  # median positive gap between a user's consecutive ratings


def _matrix(ml: MovieLens) -> sp.csr_matrix:
    r = ml.ratings
    u = r["user_id"].to_numpy() - 1
    i = r["item_id"].to_numpy() - 1
    return sp.csr_matrix((np.ones(len(r)), (u, i)), shape=(ml.n_users, ml.n_items))


def _by_user_time(ml: MovieLens) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = ml.ratings.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    return r["user_id"].to_numpy(), r["item_id"].to_numpy() - 1, r["timestamp"].to_numpy()


def genre_concentration(ml: MovieLens) -> float:
    """Mean KL divergence of each user's genre mix (over rated films) from the overall mix."""
    flags = ml.items.set_index("item_id")[list(ml.genres)]
    per_user = ml.ratings.join(flags, on="item_id").groupby("user_id")[list(ml.genres)].sum().to_numpy(float)
    overall = per_user.sum(axis=0) / per_user.sum()
    share = per_user / per_user.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(share > 0, share * np.log(share / overall), 0.0)
    return float(np.mean(terms.sum(axis=1)))


def co_rating_spectrum(ml: MovieLens, k: int = 25) -> np.ndarray:
    """The ``k`` largest singular values of ``D_u^-1/2 M D_i^-1/2`` (``M`` the 0/1 rating matrix),
    descending. The first is 1 for any data; the next ones measure co-rating structure."""
    m = _matrix(ml)
    du = np.asarray(m.sum(axis=1)).ravel()
    di = np.asarray(m.sum(axis=0)).ravel()
    norm = sp.diags(1.0 / np.sqrt(np.maximum(du, 1))) @ m @ sp.diags(1.0 / np.sqrt(np.maximum(di, 1)))
    s = svds(norm, k=k, return_singular_vectors=False, random_state=0)
    return np.sort(s)[::-1]


def consecutive_lift(ml: MovieLens, seed: int = 0) -> float:
    """Mean co-rating cosine of a user's consecutive films (by time, ties by item id) over that of
    random pairs of the same user's films; 1 when the order carries no similarity."""
    users, items, _ = _by_user_time(ml)
    m = _matrix(ml)
    co = (m.T @ m).toarray()
    deg = np.sqrt(np.diag(co).copy())
    cos = co / np.maximum(np.outer(deg, deg), 1e-12)
    same = users[1:] == users[:-1]
    consecutive = cos[items[:-1][same], items[1:][same]].mean()
    rng = np.random.default_rng(seed)
    starts = np.r_[0, np.flatnonzero(~same) + 1]
    ends = np.r_[starts[1:], users.size]
    lens = ends - starts
    a = np.repeat(starts, lens) + (rng.random(users.size) * np.repeat(lens, lens)).astype(np.int64)
    b = np.repeat(starts, lens) + (rng.random(users.size) * np.repeat(lens, lens)).astype(np.int64)
    keep = a != b
    return float(consecutive / cos[items[a[keep]], items[b[keep]]].mean())


def popularity_by_position(ml: MovieLens, parts: int = 10) -> np.ndarray:
    """Mean log rating count of the films in each ``parts``-th of a user's ratings by time."""
    users, items, _ = _by_user_time(ml)
    log_count = np.log(np.bincount(items, minlength=ml.n_items).clip(min=1))
    starts = np.r_[0, np.flatnonzero(users[1:] != users[:-1]) + 1]
    lens = np.diff(np.r_[starts, users.size])
    rank = np.arange(users.size) - np.repeat(starts, lens)
    part = (parts * rank // np.repeat(lens, lens)).astype(np.int64)
    return np.bincount(part, weights=log_count[items], minlength=parts) / np.bincount(part, minlength=parts)


def session_profile(ml: MovieLens) -> SessionProfile:
    users, _, ts = _by_user_time(ml)
    same = users[1:] == users[:-1]
    gaps = np.diff(ts)
    session = np.cumsum(np.r_[True, ~same | (gaps > SESSION_GAP_S)])
    first_of_user = np.r_[True, ~same]
    first_session = np.maximum.accumulate(np.where(first_of_user, session, 0))
    n_sessions = np.diff(np.r_[first_session[first_of_user], session[-1] + 1])
    _, per_stamp = np.unique(np.c_[users, ts], axis=0, return_counts=True)
    positive = gaps[same][gaps[same] > 0]
    return SessionProfile(
        single_session_users=float(np.mean(n_sessions == 1)),
        first_session_share=float(np.mean(session == first_session)),
        ratings_per_timestamp=float(per_stamp.mean()),
        tied_neighbours=float(np.mean(gaps[same] == 0)),
        median_gap_s=float(np.median(positive)) if positive.size else float("nan"),
    )


#: The real ``ml-100k`` values (rounded), checked against the files when they are present.
REAL = {
    "genre_concentration": 0.154,
    "co_rating_spectrum_2_to_6": (0.647, 0.494, 0.456, 0.397, 0.354),
    "consecutive_lift": 1.20,
    "popularity_first_tenth": 5.25,
    "popularity_last_tenth": 4.41,
    "single_session_users": 0.610,
    "first_session_share": 0.702,
    "ratings_per_timestamp": 2.02,
    "tied_neighbours": 0.510,
    "median_gap_s": 37.0,
}
