"""A seeded generator of MovieLens-100K-shaped data, used when the real files are absent.

Shape (defaults): 943 users, 1,682 items, 100,000 ratings 1..5, every user with at least 20
ratings, no repeated (user, item) pair, item popularity following a Zipf(-Mandelbrot) law over a
seeded random popularity ranking (top items rated by ~60 % of users, a long tail of items with
only a few ratings, as in the real set), and unix timestamps inside the real collection window
(1997-09-19 .. 1998-04-22). The rating histogram matches the real set's proportions. Each user
favours two genres and picks films of them more often (``taste_strength``), so personalised
recommenders have something to find beyond popularity, as in the real set. The default strength
matches the real set's genre concentration: the mean KL divergence of a user's genre mix from
the overall mix is 0.154 in ``ml-100k`` and 0.148 here (0.077 without taste).
"""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pandas as pd

from .schema import (
    GENRES,
    MIN_RATINGS_PER_USER,
    N_ITEMS,
    N_RATINGS,
    N_USERS,
    OCCUPATIONS,
    RATING_COUNTS,
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    MovieLens,
)

#: Genre prevalence in the real u.item (films per genre); a film gets 1-3 genres drawn with it.
_GENRE_WEIGHTS = np.array(
    [2, 251, 135, 42, 122, 505, 109, 50, 725, 22, 24, 92, 56, 61, 247, 101, 251, 71, 27], dtype=float
)
_ADJECTIVES = [
    "Silent",
    "Dark",
    "Last",
    "Golden",
    "Broken",
    "Hidden",
    "Crimson",
    "Wild",
    "Lost",
    "Endless",
    "Frozen",
    "Secret",
    "Burning",
    "Lonely",
    "Electric",
    "Midnight",
    "Savage",
    "Quiet",
    "Distant",
    "Eternal",
    "Little",
    "Big",
    "Strange",
    "Final",
    "Hollow",
    "Bright",
    "Rising",
    "Falling",
    "Iron",
    "Paper",
]
_NOUNS = [
    "River",
    "Night",
    "Kingdom",
    "Road",
    "Heart",
    "Stranger",
    "Empire",
    "Summer",
    "Shadow",
    "City",
    "Garden",
    "Promise",
    "Storm",
    "Mirror",
    "Island",
    "Horizon",
    "Journey",
    "Winter",
    "Letter",
    "Detective",
    "Dream",
    "Game",
    "Witness",
    "Machine",
    "Planet",
    "Harbor",
    "Circus",
    "Legend",
    "Ghost",
    "Voyage",
]
_OCCUPATION_WEIGHTS = np.array(
    [79, 28, 7, 95, 67, 18, 32, 16, 7, 12, 51, 26, 9, 105, 66, 14, 12, 31, 196, 27, 45], dtype=float
)


def _user_counts(
    rng: np.random.Generator, n_users: int, n_ratings: int, min_per_user: int, max_per_user: int
) -> np.ndarray:
    """Per-user counts: ``min_per_user`` plus a log-normal share of the rest, capped at ``max_per_user``."""
    if n_ratings < n_users * min_per_user:
        raise ValueError(f"n_ratings={n_ratings} < n_users*min_per_user={n_users * min_per_user}")
    if n_ratings > n_users * max_per_user:
        raise ValueError("n_ratings exceeds n_users * max_ratings_per_user")
    extra_total = n_ratings - n_users * min_per_user
    w = rng.lognormal(0.0, 1.1, n_users)
    cap = max_per_user - min_per_user
    extra = np.zeros(n_users, dtype=np.int64)
    remaining = extra_total
    open_ = np.ones(n_users, dtype=bool)
    while remaining > 0 and open_.any():
        share = w * open_ / (w * open_).sum() * remaining
        add = np.floor(share).astype(np.int64)
        frac_order = np.argsort(-(share - add), kind="stable")
        short = remaining - int(add.sum())
        add[frac_order[:short]] += 1
        extra += add
        over = np.maximum(extra - cap, 0)
        extra -= over
        remaining = int(over.sum())
        open_ = extra < cap
    return extra + min_per_user


def _zipf_weights(rng: np.random.Generator, n_items: int, exponent: float, offset: float) -> np.ndarray:
    """Zipf-Mandelbrot weights ``(rank + offset) ** -exponent`` over a seeded random item ranking.

    ``offset = 0`` is a plain Zipf law. Because a user rates an item at most once, a plain Zipf
    head saturates (the top item would be rated by every user); the offset flattens the head the
    way the real data is flat there (583, 509, 508 ... ratings for the top items).
    """
    ranks = rng.permutation(n_items) + 1
    return (ranks.astype(float) + offset) ** -exponent


def _sample_items(
    rng: np.random.Generator, counts: np.ndarray, log_w: np.ndarray, taste: np.ndarray | None = None
) -> list[np.ndarray]:
    """Per user, ``counts[u]`` distinct items drawn without replacement (Gumbel top-k), with
    log-weights ``log_w`` plus the user's row of ``taste`` when given."""
    out: list[np.ndarray] = []
    for u, k in enumerate(counts):
        keys = log_w + rng.gumbel(size=log_w.size)
        if taste is not None:
            keys = keys + taste[u]
        out.append(np.argpartition(-keys, k - 1)[:k])
    return out


def _taste(rng: np.random.Generator, n_users: int, flags: np.ndarray, strength: float) -> np.ndarray:
    """``(n_users, n_items)`` log-weight bonus: each user favours two genres (drawn by prevalence)
    and is ``exp(strength)`` times likelier to pick a film per favourite genre it has.

    Without it every user picks by popularity alone, so most-popular is the best possible
    recommender and no personalised method can be tested against it; real users have tastes.
    """
    p = flags.sum(axis=0).astype(float)
    p /= p.sum()
    favourite = np.zeros((n_users, flags.shape[1]))
    for u in range(n_users):
        favourite[u, rng.choice(flags.shape[1], size=2, replace=False, p=p)] = 1.0
    return strength * (favourite @ flags.T.astype(float))


def _cover_all_items(
    chosen: list[np.ndarray], n_items: int, popularity: np.ndarray, rng: np.random.Generator
) -> None:
    """Make every item rated at least once by swapping it in for a heavy user's most popular item."""
    counts = np.bincount(np.concatenate(chosen), minlength=n_items)
    heavy = np.argsort([-len(c) for c in chosen], kind="stable")
    for j, item in enumerate(np.flatnonzero(counts == 0)):
        u = heavy[j % max(1, len(heavy) // 4)]
        items = chosen[u]
        if item in items:
            continue
        order = np.argsort(-popularity[items], kind="stable")
        for pos in order:
            if counts[items[pos]] > 1:
                counts[items[pos]] -= 1
                items[pos] = item
                counts[item] += 1
                break


def _ratings_from_scores(scores: np.ndarray) -> np.ndarray:
    """Map continuous scores to 1..5 so the histogram follows the real set's proportions."""
    cum = np.cumsum(RATING_COUNTS)[:-1] / sum(RATING_COUNTS)
    cuts = np.quantile(scores, cum)
    return (np.searchsorted(cuts, scores, side="right") + 1).astype(np.int8)


def _timestamps(rng: np.random.Generator, counts: np.ndarray, t_min: int, t_max: int) -> list[np.ndarray]:
    """Per user, timestamps inside an activity window; many users rate in one short session."""
    out: list[np.ndarray] = []
    span_all = t_max - t_min
    for k in counts:
        if rng.random() < 0.4:
            span = int(min(span_all, rng.exponential(3 * 3600) + 600))
        else:
            span = int(span_all * min(1.0, rng.beta(0.8, 2.0)))
        start = int(rng.integers(t_min, t_max - span + 1))
        ts = rng.integers(start, start + span + 1, size=k)
        ts[0], ts[-1] = start, start + span  # the window is actually used at both ends
        out.append(ts)
    return out


def _items_frame(rng: np.random.Generator, n_items: int, genres: tuple[str, ...]) -> pd.DataFrame:
    years = np.clip(np.round(1998 - rng.gamma(1.3, 4.0, n_items)), 1922, 1998).astype(int)
    titles = [
        f"The {_ADJECTIVES[rng.integers(len(_ADJECTIVES))]} {_NOUNS[rng.integers(len(_NOUNS))]} {i + 1} ({y})"
        for i, y in enumerate(years)
    ]
    months = rng.integers(1, 13, n_items)
    days = rng.integers(1, 29, n_items)
    release = pd.to_datetime({"year": years, "month": months, "day": days})
    flags = np.zeros((n_items, len(genres)), dtype=np.uint8)
    p = _GENRE_WEIGHTS[: len(genres)] / _GENRE_WEIGHTS[: len(genres)].sum()
    n_g = rng.choice([1, 2, 3], size=n_items, p=[0.5, 0.35, 0.15])
    for i in range(n_items):
        flags[i, rng.choice(len(genres), size=n_g[i], replace=False, p=p)] = 1
    df = pd.DataFrame(
        {
            "item_id": np.arange(1, n_items + 1, dtype=np.int32),
            "title": titles,
            "release_date": release.to_numpy().astype("datetime64[ns]"),
            "video_release_date": pd.Series(pd.NaT, index=range(n_items), dtype="datetime64[ns]"),
            "imdb_url": ["http://us.imdb.com/M/title-exact?" + quote(t) for t in titles],
        }
    )
    flag_df = pd.DataFrame(flags, columns=list(genres))
    return pd.concat([df, flag_df], axis=1)


def _users_frame(rng: np.random.Generator, n_users: int) -> pd.DataFrame:
    ages = np.clip(np.round(rng.normal(34, 12, n_users)), 7, 73).astype(np.int16)
    gender = np.where(rng.random(n_users) < 670 / 943, "M", "F")
    occ = rng.choice(len(OCCUPATIONS), size=n_users, p=_OCCUPATION_WEIGHTS / _OCCUPATION_WEIGHTS.sum())
    zips = [f"{z:05d}" for z in rng.integers(1000, 99999, n_users)]
    for i in np.flatnonzero(rng.random(n_users) < 0.02):  # a few non-numeric (Canadian) codes
        zips[i] = f"{chr(65 + i % 26)}{i % 10}{chr(65 + (i * 7) % 26)}{(i * 3) % 10}{chr(65 + (i * 11) % 26)}"
    return pd.DataFrame(
        {
            "user_id": np.arange(1, n_users + 1, dtype=np.int32),
            "age": ages,
            "gender": gender.astype(object),
            "occupation": np.array(OCCUPATIONS, dtype=object)[occ],
            "zip_code": zips,
        }
    )


def generate_movielens(
    *,
    n_users: int = N_USERS,
    n_items: int = N_ITEMS,
    n_ratings: int = N_RATINGS,
    min_ratings_per_user: int = MIN_RATINGS_PER_USER,
    max_ratings_per_user: int | None = None,
    zipf_exponent: float = 2.0,
    zipf_offset: float = 100.0,
    taste_strength: float = 1.5,
    t_min: int = TIMESTAMP_MIN,
    t_max: int = TIMESTAMP_MAX,
    seed: int = 0,
) -> MovieLens:
    """Generate a synthetic data set with the ``ml-100k`` schema (same seed -> identical output)."""
    max_per_user = (
        max_ratings_per_user
        if max_ratings_per_user is not None
        else max(min_ratings_per_user, int(0.44 * n_items))
    )
    if not min_ratings_per_user <= max_per_user <= n_items:
        raise ValueError("need min_ratings_per_user <= max_ratings_per_user <= n_items")
    rng = np.random.default_rng(seed)
    items = _items_frame(rng, n_items, GENRES)
    users = _users_frame(rng, n_users)
    counts = _user_counts(rng, n_users, n_ratings, min_ratings_per_user, max_per_user)
    popularity = _zipf_weights(rng, n_items, zipf_exponent, zipf_offset)
    flags = items[list(GENRES)].to_numpy()
    taste = (
        _taste(np.random.default_rng([seed, 1]), n_users, flags, taste_strength) if taste_strength else None
    )
    chosen = _sample_items(rng, counts, np.log(popularity), taste)
    _cover_all_items(chosen, n_items, popularity, rng)
    ts = _timestamps(rng, counts, t_min, t_max)

    user_idx = np.repeat(np.arange(n_users), counts)
    item_idx = np.concatenate(chosen)
    quality = rng.normal(0.0, 0.7, n_items) + 0.25 * np.log(popularity / popularity.max())
    scores = quality[item_idx] + rng.normal(0.0, 0.4, n_users)[user_idx] + rng.normal(0.0, 0.9, item_idx.size)
    ratings = pd.DataFrame(
        {
            "user_id": (user_idx + 1).astype(np.int32),
            "item_id": (item_idx + 1).astype(np.int32),
            "rating": _ratings_from_scores(scores),
            "timestamp": np.concatenate(ts).astype(np.int64),
        }
    )
    ratings = ratings.iloc[rng.permutation(len(ratings))].reset_index(drop=True)  # u.data is unsorted
    return MovieLens(ratings=ratings, items=items, users=users, genres=GENRES, source="synthetic")
