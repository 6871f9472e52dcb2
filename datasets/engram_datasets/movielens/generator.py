"""A seeded generator of MovieLens-100K-shaped data, used when the real files are absent.

Shape (defaults): 943 users, 1,682 items, 100,000 ratings 1..5, every user with at least 20
ratings, no repeated (user, item) pair, timestamps inside the real collection window
(1997-09-19 .. 1998-04-22), the real rating histogram.

Structure, calibrated to the real set with the measures of :mod:`.structure` (real -> generated
at seed 7; ``tests/datasets/test_datasets_movielens.py`` holds the generator to them):

- popularity: log-normal appeal with an exponential lower tail (log-log slope of rating counts
  from rank 10 -1.52 -> -1.50, top tenth of films 43 % -> 46 % of ratings, 384 -> 332 films with
  at most 5 ratings);
- genre taste: each user favours two genres (mean KL of a user's genre mix from the overall mix
  0.154 -> 0.167; popularity alone gives 0.077);
- co-rating: 24 latent user x film factors with geometrically falling weights (singular values 2-6
  of the degree-normalised rating matrix 0.65 0.49 0.46 0.40 0.35 -> 0.59 0.53 0.45 0.44 0.37;
  popularity and genre alone leave the second near 0.3). Tastes decide who rates a film, the
  popularity law alone how many;
- order: a user's films in a random walk over film similarity that favours well-known films
  first (co-rating cosine of consecutive films over random pairs of the same user's films 1.20 ->
  1.20; mean log count of a user's first tenth of films 5.25 -> 5.07, last tenth 4.41 -> 4.11);
- time: one sitting for most users (61 % -> 62 %), pages of about two ratings sharing a
  timestamp (51 % -> 50 % of neighbouring ratings tie), 37 s -> 37 s median between pages, later
  sittings days apart.

Not modelled: films released during the window (real 1997-98 films are first rated later) and
the real set's strongest co-rating factor (light users rating new films), so the generated
second singular value stays below the real one. An explicit factor of that kind only led the
spectrum at strengths that lifted the rest of it above the real one, so it is left out.
"""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pandas as pd
from scipy.special import ndtri

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


def _popularity_weights(rng: np.random.Generator, n_items: int, sigma: float, tail: float) -> np.ndarray:
    """Log-normal item appeal ``exp(sigma * N(0, 1))``: the real set's log rating counts spread
    with a standard deviation of 1.63 around a few dozen, from a head of ~500 ratings to 141 films
    rated once; a Zipf law of rank cannot give that tail and that head together."""
    # stratified draws (one per quantile, shuffled): the head's shape does not vary with the seed
    q = (np.arange(n_items) + 0.5) / n_items
    normal = ndtri(rng.permutation(q))
    exponential = -np.log1p(-rng.permutation(q))
    return np.exp(sigma * normal - tail * exponential)


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


def _latent_factors(
    rng: np.random.Generator, n_users: int, n_items: int, n_factors: int, scale: float, decay: float
) -> tuple[np.ndarray, np.ndarray]:
    """User factors ``(n_users, k)`` scaled by ``scale * decay**j`` and standard normal item
    factors ``(n_items, k)``; their product is a log-weight bonus: who rates what together beyond
    popularity and genre.

    Real co-rating structure is mostly of this kind (the leading factors of ``ml-100k``'s
    degree-normalised rating matrix correlate with genre by 0.26 at most; they follow release
    year, user activity and unnamed tastes), and it is what neighbourhood recommenders find.
    """
    k = max(0, n_factors) if scale > 0.0 else 0
    s = scale * decay ** np.arange(k)
    return rng.standard_normal((n_users, k)) * s, rng.standard_normal((n_items, k))


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


def _browse_order(
    rng: np.random.Generator,
    chosen: list[np.ndarray],
    features: np.ndarray,
    log_appeal: np.ndarray,
    temperature: float,
    popular_first: float,
) -> list[np.ndarray]:
    """Each user's items in the order they were rated: a random walk that steps to a film not yet
    rated with probability ``softmax(cosine of item features / temperature + popular_first *
    log appeal)``. Neighbouring ratings are of similar films, as when browsing a site's lists
    (lower temperature = more local), and well-known films come first, as ``ml-100k``'s users
    rated them (mean log rating count falls from 5.25 in a user's first tenth to 4.41 in the last).
    """
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    unit = features / np.where(norms > 0, norms, 1.0)
    out: list[np.ndarray] = []
    for items in chosen:
        bias = popular_first * log_appeal[items]
        keys = unit[items] @ unit[items].T / temperature + bias + rng.gumbel(size=(items.size, items.size))
        left = np.ones(items.size, dtype=bool)
        order = np.empty(items.size, dtype=np.int64)
        cur = int(np.argmax(bias + rng.gumbel(size=items.size)))  # Gumbel-max: one softmax draw
        for step in range(items.size):
            order[step] = cur
            left[cur] = False
            if step + 1 < items.size:
                cur = int(np.flatnonzero(left)[np.argmax(keys[cur, left])])
        out.append(items[order])
    return out


def _session_timestamps(rng: np.random.Generator, count: int, t_min: int, t_max: int) -> np.ndarray:
    """``count`` non-decreasing timestamps for one user, in sessions of pages.

    As in ``ml-100k``: most users (61 %) rate everything in one sitting; heavier users come back
    (up to dozens of sessions, days apart, median gap 5 days). A sitting submits pages of
    1 + Poisson(1) ratings that share one timestamp (half of consecutive ratings tie), a median
    37 s apart. The user's arrival is uniform over what the window leaves free.
    """
    p_return = min(0.85, 0.1 + 0.22 * np.log(count / 20.0))
    n_sess = 1 if rng.random() >= p_return else int(min(count // 10, 2 + rng.geometric(0.35) - 1))
    n_sess = max(1, n_sess)
    if n_sess > 1:
        first = rng.beta(2.0, 2.0)
        rest = rng.dirichlet(np.ones(n_sess - 1)) * (1.0 - first)
        sizes = np.maximum(1, np.round(np.r_[first, rest] * count)).astype(np.int64)
        sizes[np.argmax(sizes)] += count - sizes.sum()
        while (sizes < 1).any():  # rounding took a small session to zero: borrow from the largest
            j = int(np.argmin(sizes))
            sizes[np.argmax(sizes)] -= 1 - sizes[j]
            sizes[j] = 1
    else:
        sizes = np.array([count])
    offsets: list[np.ndarray] = []
    start = 0.0
    for n in sizes:
        pages = []
        left = int(n)
        while left > 0:
            pages.append(min(left, 1 + int(rng.poisson(1.0))))
            left -= pages[-1]
        gaps = np.r_[0.0, rng.lognormal(np.log(37.0), 1.0, len(pages) - 1)]
        offsets.append(start + np.repeat(np.cumsum(gaps), pages))
        start = offsets[-1][-1] + rng.lognormal(np.log(5 * 86_400.0), 1.8)
    rel = np.concatenate(offsets)
    if rel[-1] > t_max - t_min:  # a long comeback chain: squeeze the gaps into the window
        rel = rel * ((t_max - t_min) / rel[-1])
    begin = rng.uniform(t_min, t_max - rel[-1])
    return np.floor(begin + rel).astype(np.int64)


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
    popularity_sigma: float = 1.3,
    popularity_tail: float = 3.0,
    taste_strength: float = 2.2,
    latent_factors: int = 24,
    latent_scale: float = 2.8,
    latent_decay: float = 0.72,
    browse_temperature: float = 0.12,
    browse_popular_first: float = 0.6,
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
    popularity = _popularity_weights(rng, n_items, popularity_sigma, popularity_tail)
    flags = items[list(GENRES)].to_numpy()
    taste = (
        _taste(np.random.default_rng([seed, 1]), n_users, flags, taste_strength) if taste_strength else None
    )
    user_f, item_f = _latent_factors(
        np.random.default_rng([seed, 2]), n_users, n_items, latent_factors, latent_scale, latent_decay
    )
    taste = user_f @ item_f.T if taste is None else taste + user_f @ item_f.T
    # Centre each film's taste column (log-mean-exp over users): tastes decide who rates a film,
    # the popularity law alone how many, so popularity and co-rating structure calibrate apart.
    peak = taste.max(axis=0)
    taste = taste - (peak + np.log(np.mean(np.exp(taste - peak), axis=0)))
    chosen = _sample_items(rng, counts, np.log(popularity), taste)
    _cover_all_items(chosen, n_items, popularity, rng)
    features = np.hstack([item_f * (user_f.std(axis=0) if user_f.size else 1.0), taste_strength * flags])
    session_rng = np.random.default_rng([seed, 3])
    chosen = _browse_order(
        session_rng, chosen, features, np.log(popularity), browse_temperature, browse_popular_first
    )
    ts = [_session_timestamps(session_rng, len(c), t_min, t_max) for c in chosen]

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
